package mcpwarden_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// List the organization's high-risk MCP servers that are still in use, on every page.
func Example_listHighRiskServers() {
	ctx := context.Background()
	c := mcpwarden.New("http://localhost:8000", mcpwarden.WithToken("mcpw_...api token..."))
	params := &mcpwarden.ListServersParams{RiskLevel: new(mcpwarden.High), Status: new(mcpwarden.Active)}
	for s, err := range c.Servers(ctx, params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s on %v: score %d\n", s.ServerName, s.AgentHostname, s.RiskScore)
		for _, f := range s.RiskFactors {
			fmt.Printf("  [%s] %s: %s\n", f.Severity, f.Id, f.Title)
		}
	}
}

// Tell a missing server from other failures.
func Example_apiError() {
	ctx := context.Background()
	c := mcpwarden.New("http://localhost:8000")
	if err := c.Login(ctx, "jane@example.com", "correct horse battery staple"); err != nil {
		log.Fatal(err)
	}
	_, err := c.GetServerWithResponse(ctx, [16]byte{})
	var apiErr *mcpwarden.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
		fmt.Println("no such server")
	case err != nil:
		log.Fatal(err) // the problem's detail and the request id
	}
}

// Report an agent's MCP servers, as mcpwarden-agent does.
func Example_sendReport() {
	ctx := context.Background()
	c := mcpwarden.New("http://localhost:8000", mcpwarden.WithAgentKey("mcp_sk_..."))
	resp, err := c.ReportServersWithResponse(ctx, mcpwarden.ReportRequest{Servers: []mcpwarden.ReportedServer{{
		ServerName: "filesystem",
		ServerType: new("@modelcontextprotocol/server-filesystem"),
		Command:    new("npx -y @modelcontextprotocol/server-filesystem /home/jane/projects"),
		Scope:      new("/home/jane/projects"),
		EnvVars:    &[]string{"PATH"},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d servers received\n", resp.JSON200.ServersReceived)
}
