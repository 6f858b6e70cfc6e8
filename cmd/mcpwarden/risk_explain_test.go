package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// explainedServer is one server of `risk explain --json`.
type explainedServer struct {
	Name    string        `json:"server_name"`
	Type    string        `json:"server_type"`
	Command string        `json:"command"`
	URL     string        `json:"url"`
	Enabled bool          `json:"enabled"`
	Level   string        `json:"risk_level"`
	Score   int           `json:"risk_score"`
	Factors []risk.Factor `json:"risk_factors"`
}

type explainedJSON struct {
	Path    string            `json:"path"`
	Servers []explainedServer `json:"servers"`
}

// explainJSON runs `risk explain --json` and returns its output, failing the test unless it
// exits with want.
func explainJSON(t *testing.T, want int, files ...string) []explainedJSON {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := runRiskExplain(append([]string{"explain", "--json"}, files...), &out, &errOut); code != want {
		t.Fatalf("exit %d, want %d: %s", code, want, errOut.String())
	}
	var got []explainedJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return got
}

// factor is rule id's factor with evidence, and the text a check put before the rule's detail.
func factor(t *testing.T, id, evidence, detailPrefix string) risk.Factor {
	t.Helper()
	f, ok := risk.Template(id)
	if !ok {
		t.Fatalf("no rule %s", id)
	}
	f.Evidence = evidence
	if detailPrefix != "" {
		f.Detail = detailPrefix + " " + f.Detail
	}
	return f
}

func writeConfig(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRiskExplainScoresASampleConfiguration(t *testing.T) {
	got := explainJSON(t, 0, "testdata/claude_desktop_config.json")
	want := []explainedJSON{{Path: "testdata/claude_desktop_config.json", Servers: []explainedServer{
		{Name: "desktop-commander", Type: "@wonderwhy-er/desktop-commander", Command: "npx -y @wonderwhy-er/desktop-commander",
			Enabled: true, Level: risk.Critical, Score: 98, Factors: []risk.Factor{
				factor(t, "MCPW-CAP-EXEC", "catalog: desktop-commander is tagged exec", ""),
				factor(t, "MCPW-COMBO-TOXIC", "with github", "github feeds untrusted content to the agent that can direct this server (it executes commands)."),
				factor(t, "MCPW-SC-UNPINNED", "@wonderwhy-er/desktop-commander (no version)", ""),
				factor(t, "MCPW-CAT-THIRD-PARTY", "Desktop Commander by wonderwhy-er", ""),
			}},
		{Name: "filesystem", Type: "@modelcontextprotocol/server-filesystem", Command: "npx -y @modelcontextprotocol/server-filesystem /Users/jane",
			Enabled: true, Level: risk.High, Score: 67, Factors: []risk.Factor{
				factor(t, "MCPW-FS-HOME", "/Users/jane", ""),
				factor(t, "MCPW-SC-UNPINNED", "@modelcontextprotocol/server-filesystem (no version)", ""),
				factor(t, "MCPW-CAT-OFFICIAL", "@modelcontextprotocol/server-filesystem", ""),
			}},
		{Name: "github", Type: "ghcr.io/github/github-mcp-server", Command: "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server",
			Enabled: true, Level: risk.High, Score: 74, Factors: []risk.Factor{
				factor(t, "MCPW-CRED-WRITE", "env: GITHUB_PERSONAL_ACCESS_TOKEN", ""),
				factor(t, "MCPW-COMBO-TOXIC", "with desktop-commander", "Content read by github can instruct the agent to use desktop-commander (it executes commands)."),
				factor(t, "MCPW-SC-UNPINNED", "ghcr.io/github/github-mcp-server (no version)", ""),
				factor(t, "MCPW-CAT-THIRD-PARTY", "GitHub MCP Server by GitHub", ""),
				factor(t, "MCPW-CAP-UNTRUSTED-INPUT", "catalog: github is tagged untrusted-input", ""),
			}},
		{Name: "time", Type: "mcp-server-time", Command: "uvx mcp-server-time --local-timezone=Europe/Paris",
			Enabled: true, Level: risk.Low, Score: 11, Factors: []risk.Factor{
				factor(t, "MCPW-SC-UNPINNED", "mcp-server-time (no version)", ""),
				factor(t, "MCPW-CAT-OFFICIAL", "mcp-server-time", ""),
			}},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("risk explain --json (-want +got):\n%s", diff)
	}
}

// The table names each file and server, with their factors, and leaks no secret.
func TestRiskExplainPrintsATable(t *testing.T) {
	p := writeConfig(t, "mcp.json", `{"mcpServers": {
		"notes": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"]},
		"db": {"command": "uvx", "args": ["mcp-server-postgres", "postgresql://admin:hunter2pass@db.internal/app"], "disabled": true}}}`)
	var out, errOut bytes.Buffer
	if code := runRiskExplain([]string{"explain", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := p + `: 2 server(s): 0 critical, 1 high, 1 medium, 0 low

HIGH      73  db (disabled)  uvx mcp-server-postgres postgresql://admin:[REDACTED]@db.internal/app
    high    MCPW-SC-UNPINNED-UNKNOWN  Unknown package run without a pinned version  mcp-server-postgres (no version)
    medium  MCPW-CAT-UNKNOWN          Unknown server                                mcp-server-postgres
    medium  MCPW-CRED-READ            Credentials handed to the server              argument: postgresql://admin:[REDACTED]@db.internal/app

MEDIUM    42  notes  npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes
    medium  MCPW-FS-PROJECT    Project directory exposed             /home/me/ my notes
    low     MCPW-SC-UNPINNED   Package run without a pinned version  @modelcontextprotocol/server-filesystem (no version)
    low     MCPW-CAT-OFFICIAL  Official reference server             @modelcontextprotocol/server-filesystem
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestRiskExplainFailOn(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runRiskExplain([]string{"--fail-on", "critical", "testdata/claude_desktop_config.json"}, &out, &errOut); code != 3 {
		t.Fatalf("exit %d, want 3 (desktop-commander is critical)", code)
	}
	if code := runRiskExplain([]string{"--fail-on", "critical", "testdata/codex-config.toml"}, &out, &errOut); code != 3 {
		t.Fatalf("exit %d, want 3 (shell is critical)", code)
	}
	p := writeConfig(t, "mcp.json", `{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}}}`)
	if code := runRiskExplain([]string{"--fail-on", "medium", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, want 0 (time is low)", code)
	}
}

func TestRiskExplainReadsTOMLAsTheAgentDoes(t *testing.T) {
	got := explainJSON(t, 0, "testdata/codex-config.toml")
	want := []explainedJSON{{Path: "testdata/codex-config.toml", Servers: []explainedServer{
		{Name: "github", Type: "@modelcontextprotocol/server-github", Command: "npx -y @modelcontextprotocol/server-github",
			Enabled: true, Level: risk.High, Score: 75, Factors: []risk.Factor{
				factor(t, "MCPW-CRED-WRITE", "env: GITHUB_PERSONAL_ACCESS_TOKEN", ""),
				factor(t, "MCPW-COMBO-TOXIC", "with shell", "Content read by github can instruct the agent to use shell (it executes commands)."),
				factor(t, "MCPW-SC-UNPINNED", "@modelcontextprotocol/server-github (no version)", ""),
				factor(t, "MCPW-CAT-OFFICIAL", "@modelcontextprotocol/server-github", ""),
				factor(t, "MCPW-SC-ARCHIVED", "GitHub (archived reference)", ""),
				factor(t, "MCPW-CAP-UNTRUSTED-INPUT", "catalog: github-reference is tagged untrusted-input", ""),
			}},
		{Name: "shell", Type: "mcp-shell-server", Command: "npx -y mcp-shell-server",
			Enabled: true, Level: risk.Critical, Score: 98, Factors: []risk.Factor{
				factor(t, "MCPW-CAP-EXEC", "catalog: shell-tumf is tagged exec", ""),
				factor(t, "MCPW-COMBO-TOXIC", "with github", "github feeds untrusted content to the agent that can direct this server (it executes commands)."),
				factor(t, "MCPW-SC-UNPINNED", "mcp-shell-server (no version)", ""),
				factor(t, "MCPW-CAT-THIRD-PARTY", "MCP Shell Server by tumf", ""),
			}},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("risk explain --json (-want +got):\n%s", diff)
	}
}

// A folder whose name holds a space is one folder, read from any of the shapes explain takes:
// a client's file, a single server entry and report bodies, whose vectors and secrets are
// judged as the server judges them. A report without vectors (an older agent's) is judged on its
// command line, as the server does.
func TestRiskExplainJudgesEachShapeAsTheServerDoes(t *testing.T) {
	unpinned := factor(t, "MCPW-SC-UNPINNED", "@modelcontextprotocol/server-filesystem (no version)", "")
	official := factor(t, "MCPW-CAT-OFFICIAL", "@modelcontextprotocol/server-filesystem", "")
	oneFolder := explainedServer{Name: "notes", Type: "@modelcontextprotocol/server-filesystem",
		Command: "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes", Enabled: true, Level: risk.Medium, Score: 42,
		Factors: []risk.Factor{factor(t, "MCPW-FS-PROJECT", "/home/me/ my notes", ""), unpinned, official}}
	split := oneFolder
	split.Level, split.Score = risk.High, 71
	split.Factors = []risk.Factor{factor(t, "MCPW-FS-HOME", "/home/me/", ""), factor(t, "MCPW-FS-PROJECT", "/home/me/ my notes", ""), unpinned, official}
	secretArgs := explainedServer{Name: "db", Type: "mcp-server-mysql", Command: "uvx mcp-server-mysql --password [REDACTED]",
		Enabled: true, Level: risk.High, Score: 73, Factors: []risk.Factor{
			factor(t, "MCPW-SC-UNPINNED-UNKNOWN", "mcp-server-mysql (no version)", ""),
			factor(t, "MCPW-CAT-UNKNOWN", "mcp-server-mysql", ""),
			factor(t, "MCPW-CRED-READ", "argument: --password [REDACTED]", ""),
		}}
	for _, tc := range []struct {
		name, file, content string
		want                []explainedServer
	}{
		{"claude desktop configuration", "claude_desktop_config.json",
			`{"mcpServers": {"notes": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"]}}}`,
			[]explainedServer{oneFolder}},
		{"single server entry named after its file", "notes.json",
			`{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"], "env": {"HOME": "/home/me"}}`,
			[]explainedServer{oneFolder}},
		{"report body with vectors", "report.json",
			`{"servers": [{"server_name": "notes", "server_type": "@modelcontextprotocol/server-filesystem",
				"command": "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes", "scope": "/home/me/ my notes",
				"args": ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"]},
				{"server_name": "db", "server_type": "mcp-server-mysql", "args": ["uvx", "mcp-server-mysql", "--password", "Sup3rS3cretDbPassw0rd"]}]}`,
			[]explainedServer{oneFolder, secretArgs}},
		{"report body of an older agent", "report.json",
			`{"servers": [{"server_name": "notes", "server_type": "@modelcontextprotocol/server-filesystem",
				"command": "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes", "scope": "/home/me/ my notes"}]}`,
			[]explainedServer{split}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.file, tc.content)
			got := explainJSON(t, 0, p)
			if diff := cmp.Diff([]explainedJSON{{Path: p, Servers: tc.want}}, got); diff != "" {
				t.Errorf("risk explain --json (-want +got):\n%s", diff)
			}
			var out, errOut bytes.Buffer
			runRiskExplain([]string{"explain", "--details", p}, &out, &errOut)
			if strings.Contains(out.String(), "Sup3rS3cret") {
				t.Errorf("the table leaks the planted password:\n%s", out.String())
			}
		})
	}
}

// A file explain cannot read is an error; a file with one bad entry is warned about and its
// other servers are judged.
func TestRiskExplainReportsUnreadableFiles(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		code          int
		servers       int
		stderr        string
	}{
		{"invalid JSON", `{"mcpServers": {"x": {"command": "npx" "env": {}}}}`, 1, 0, "invalid JSON"},
		{"no servers", `{"editor.fontSize": 12}`, 1, 0, "no MCP servers found"},
		{"one bad entry", `{"mcpServers": {"bad": "npx x", "good": {"command": "uvx", "args": ["mcp-server-time"]}}}`, 0, 1, `server "bad" is a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, "mcp.json", tc.content)
			var out, errOut bytes.Buffer
			code := runRiskExplain([]string{"explain", "--json", p}, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut.String(), tc.code, tc.stderr)
			}
			if code != 0 {
				return
			}
			var got []explainedJSON
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || len(got[0].Servers) != tc.servers {
				t.Errorf("output %s, want %d server(s)", out.String(), tc.servers)
			}
		})
	}
}
