package mcpwarden_test

import (
	"context"
	"fmt"
	"log"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// List the organization's high-risk MCP servers that are still in use.
func Example_listHighRiskServers() {
	ctx := context.Background()
	c, err := mcpwarden.NewWithToken("http://localhost:8000", "eyJ...access token...")
	if err != nil {
		log.Fatal(err)
	}
	level, status := mcpwarden.High, mcpwarden.Active
	resp, err := c.ListServersWithResponse(ctx, &mcpwarden.ListServersParams{RiskLevel: &level, Status: &status})
	if err == nil {
		err = mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
	}
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range resp.JSON200.Items {
		fmt.Printf("%s on %v: score %d\n", s.ServerName, s.AgentHostname, s.RiskScore)
		for _, f := range s.RiskFactors {
			fmt.Printf("  [%s] %s: %s\n", f.Severity, f.Id, f.Title)
		}
	}
}

// Report an agent's MCP servers, as mcpwarden-agent does.
func Example_sendReport() {
	ctx := context.Background()
	c, err := mcpwarden.NewWithAgentKey("http://localhost:8000", "mcp_sk_...")
	if err != nil {
		log.Fatal(err)
	}
	serverType, command, scope := "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /home/jane/projects", "/home/jane/projects"
	env := []string{"PATH"}
	resp, err := c.ReportServersWithResponse(ctx, mcpwarden.ReportRequest{Servers: []mcpwarden.ReportedServer{{
		ServerName: "filesystem",
		ServerType: &serverType,
		Command:    &command,
		Scope:      &scope,
		EnvVars:    &env,
	}}})
	if err == nil {
		err = mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d servers received\n", resp.JSON200.ServersReceived)
}
