package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// sdkReporter sends through the generated Go SDK.
type sdkReporter struct {
	c *mcpwarden.ClientWithResponses
}

// newReporter builds the SDK client that authenticates with the agent key.
// TODO(sdk): switch to the SDK's agent-key constructor once clients/go has
// it; the X-API-Key editor below does the same by hand.
func newReporter(serverURL, key string) (reporter, error) {
	c, err := mcpwarden.NewClientWithResponses(strings.TrimRight(serverURL, "/"),
		mcpwarden.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		mcpwarden.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-API-Key", key)
			req.Header.Set("User-Agent", "mcpwarden-agent/"+version)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	return &sdkReporter{c: c}, nil
}

func (s *sdkReporter) Heartbeat(ctx context.Context, hb HeartbeatBody) error {
	body := mcpwarden.HeartbeatRequest{
		Hostname:     hb.Hostname,
		AgentVersion: &hb.AgentVersion,
		Username:     nonEmpty(hb.Username),
	}
	switch hb.OSType {
	case "linux", "darwin", "windows":
		os := mcpwarden.OsType(hb.OSType)
		body.OsType = &os
	}
	resp, err := s.c.AgentHeartbeatWithResponse(ctx, body)
	if err != nil {
		return err
	}
	return statusError(resp.StatusCode(), resp.Body)
}

func (s *sdkReporter) Report(ctx context.Context, servers []discovery.Server) error {
	body := mcpwarden.ReportRequest{Servers: make([]mcpwarden.ReportedServer, 0, len(servers))}
	for _, sv := range servers {
		rs := mcpwarden.ReportedServer{
			ServerName: sv.ServerName,
			ServerType: nonEmpty(sv.ServerType),
			Command:    nonEmpty(sv.Command),
			Scope:      nonEmpty(sv.Scope),
			Client:     nonEmpty(sv.Client),
			ConfigPath: nonEmpty(sv.ConfigPath),
			Url:        nonEmpty(sv.URL),
		}
		env := append([]string{}, sv.EnvVars...)
		rs.EnvVars = &env
		enabled := sv.Enabled
		rs.Enabled = &enabled
		if sv.Transport != "" {
			t := mcpwarden.NullableTransport(sv.Transport)
			rs.Transport = &t
		}
		body.Servers = append(body.Servers, rs)
	}
	resp, err := s.c.ReportServersWithResponse(ctx, body)
	if err != nil {
		return err
	}
	return statusError(resp.StatusCode(), resp.Body)
}

// statusError turns a non-2xx answer into an error carrying the problem
// document's detail, which says what to fix (a revoked key, a bad field).
func statusError(code int, body []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	var p struct {
		Detail    string `json:"detail"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		if p.RequestID != "" {
			return fmt.Errorf("server answered %d: %s (request %s)", code, p.Detail, p.RequestID)
		}
		return fmt.Errorf("server answered %d: %s", code, p.Detail)
	}
	return fmt.Errorf("server answered %d %s", code, http.StatusText(code))
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
