// Package agentreport is the body of POST /mcp/report that mcpwarden-agent sends for the servers
// discovery found, and that `mcpwarden risk explain` judges: one definition for both sides.
package agentreport

import (
	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// Body is the report of servers, in their order; empty text is left out.
func Body(servers []discovery.Server) mcpwarden.ReportRequest {
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
	return body
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
