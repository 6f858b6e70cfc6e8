package main

import (
	"context"
	"fmt"
	"net/http"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/cmd/internal/agentreport"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// sdkReporter sends through the generated Go SDK.
type sdkReporter struct {
	c *mcpwarden.ClientWithResponses
	// machine identifies this machine in reports, as heartbeats do.
	machine HeartbeatBody
}

// newReporter builds the SDK client that authenticates with the agent key; reports say they
// come from the machine hb describes.
func newReporter(serverURL, key string, hb HeartbeatBody) (reporter, error) {
	c, err := mcpwarden.NewWithAgentKey(serverURL, key,
		mcpwarden.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("User-Agent", "mcpwarden-agent/"+version)
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	return &sdkReporter{c: c, machine: hb}, nil
}

func (s *sdkReporter) Heartbeat(ctx context.Context, hb HeartbeatBody) error {
	body := mcpwarden.HeartbeatRequest{
		Hostname:     hb.Hostname,
		AgentVersion: &hb.AgentVersion,
		Username:     nonEmpty(hb.Username),
		MachineId:    nonEmpty(hb.MachineID),
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
	body := agentreport.Body(servers)
	body.MachineId, body.Hostname = nonEmpty(s.machine.MachineID), nonEmpty(s.machine.Hostname)
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
