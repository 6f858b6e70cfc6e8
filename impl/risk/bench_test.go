package risk

import "testing"

// loadgenReport is a changed report from the load generator (cmd/mcpwarden-loadgen), as the
// ingest handler hands it to AssessAll.
var loadgenReport = []Input{
	{ServerName: "filesystem", ServerType: "@modelcontextprotocol/server-filesystem", Command: "npx -y @modelcontextprotocol/server-filesystem /home/dev/projects --profile abc-12-3", Scope: "/home/dev/projects", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "github", ServerType: "@modelcontextprotocol/server-github", Command: "npx -y @modelcontextprotocol/server-github --profile abc-12-3", EnvVars: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}, Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "postgres", ServerType: "@modelcontextprotocol/server-postgres", Command: "npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app --profile abc-12-3", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "git", ServerType: "mcp-server-git", Command: "uvx mcp-server-git --repository /home/dev/projects/app --profile abc-12-3", Scope: "/home/dev/projects/app", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "fetch", ServerType: "mcp-server-fetch", Command: "uvx mcp-server-fetch --profile abc-12-3", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "memory", ServerType: "@modelcontextprotocol/server-memory", Command: "npx -y @modelcontextprotocol/server-memory --profile abc-12-3", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "puppeteer", ServerType: "@modelcontextprotocol/server-puppeteer", Command: "npx -y @modelcontextprotocol/server-puppeteer --profile abc-12-3", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "slack", ServerType: "@modelcontextprotocol/server-slack", Command: "npx -y @modelcontextprotocol/server-slack --profile abc-12-3", EnvVars: []string{"SLACK_BOT_TOKEN", "SLACK_TEAM_ID"}, Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "sqlite", ServerType: "mcp-server-sqlite", Command: "uvx mcp-server-sqlite --db-path /home/dev/data.db --profile abc-12-3", Scope: "/home/dev/data.db", Transport: "stdio", Client: "claude-desktop"},
	{ServerName: "docs-remote", ServerType: "mcp.example.com", Command: "https://mcp.example.com/mcp --profile abc-12-3", Transport: "http", URL: "https://mcp.example.com/mcp", Client: "claude-desktop"},
}

// BenchmarkAssessAll scores the load generator's changed report.
func BenchmarkAssessAll(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		AssessAll(loadgenReport)
	}
}
