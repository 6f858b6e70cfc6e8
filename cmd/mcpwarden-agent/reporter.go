package main

import (
	"context"
	"fmt"
	"net/http"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// sdkReporter sends through the generated Go SDK.
type sdkReporter struct {
	c *mcpwarden.ClientWithResponses
}

// newReporter builds the SDK client that authenticates with the agent key.
func newReporter(serverURL, key string) (reporter, error) {
	c, err := mcpwarden.NewWithAgentKey(serverURL, key,
		mcpwarden.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
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
	return mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
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
		if len(sv.Args) > 0 {
			args := append([]string{}, sv.Args...)
			rs.Args = &args
		}
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
	return mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
