// Command report is the browser tests' agent: it sends one heartbeat and one report of a critical
// and a low-risk server through the Go SDK (clients/go), as mcpwarden-agent would.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8000", "the server's URL")
	key := flag.String("key", "", "the agent's mcp_sk_ key")
	hostname := flag.String("hostname", "e2e-laptop", "the host to report from")
	flag.Parse()
	if err := report(*server, *key, *hostname); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func report(server, key, hostname string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpwarden.NewWithAgentKey(server, key)
	if err != nil {
		return err
	}
	osType, version := mcpwarden.OsType("linux"), "0.2.0"
	hb, err := c.AgentHeartbeatWithResponse(ctx, mcpwarden.HeartbeatRequest{Hostname: hostname, OsType: &osType, AgentVersion: &version})
	if err != nil {
		return err
	}
	if err := mcpwarden.CheckResponse(hb.HTTPResponse, hb.Body); err != nil {
		return err
	}
	str := func(s string) *string { return &s }
	stdio := mcpwarden.NullableTransport("stdio")
	resp, err := c.ReportServersWithResponse(ctx, mcpwarden.ReportRequest{Servers: []mcpwarden.ReportedServer{
		{
			ServerName: "desktop-commander", ServerType: str("@wonderwhy-er/desktop-commander"),
			Command: str("npx -y @wonderwhy-er/desktop-commander"), Args: &[]string{"npx", "-y", "@wonderwhy-er/desktop-commander"},
			Client: str("claude-desktop"), ConfigPath: str("/home/jane/.config/Claude/claude_desktop_config.json"), Transport: &stdio,
		},
		{
			ServerName: "time", ServerType: str("mcp-server-time"),
			Command: str("uvx mcp-server-time"), Args: &[]string{"uvx", "mcp-server-time"},
			Client: str("claude-desktop"), ConfigPath: str("/home/jane/.config/Claude/claude_desktop_config.json"), Transport: &stdio,
		},
	}})
	if err != nil {
		return err
	}
	if err := mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body); err != nil {
		return err
	}
	fmt.Println(string(resp.Body))
	return nil
}
