// Triage signs in, prints every critical MCP server across all pages and dismisses every alert.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

func main() {
	ctx, c := context.Background(), mcpwarden.New(os.Getenv("MCPWARDEN_URL"))
	if err := c.Login(ctx, os.Getenv("MCPWARDEN_EMAIL"), os.Getenv("MCPWARDEN_PASSWORD")); err != nil {
		log.Fatal(err)
	}
	for s, err := range c.Servers(ctx, &mcpwarden.ListServersParams{RiskLevel: new(mcpwarden.Critical)}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.RiskScore, s.ServerName, *s.AgentHostname)
	}
	if _, err := c.DismissAllAlertsWithResponse(ctx, nil); err != nil {
		log.Fatal(err)
	}
}
