package discovery

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseFileQuirks(t *testing.T) {
	tests := []struct {
		name, client, file, content string
		want                        []Server // compared on the fields set here
		wantErr                     string
	}{
		{
			name: "opencode command array and environment", client: "opencode", file: "opencode.json",
			content: `{"mcp": {"e": {"type": "local", "command": ["npx", "-y", "@scope/pkg@1.2.3"], "environment": {"B": "x", "A": "y"}}}}`,
			want:    []Server{{ServerName: "e", ServerType: "@scope/pkg", Command: "npx -y @scope/pkg@1.2.3", Args: []string{"npx", "-y", "@scope/pkg@1.2.3"}, EnvVars: []string{"A", "B"}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "goose cmd, envs, uri and enabled", client: "goose", file: "config.yaml",
			content: "extensions:\n  gh:\n    cmd: uvx\n    args: [mcp-server-git]\n    envs: {TOKEN: abc}\n    enabled: true\n    type: stdio\n  r:\n    uri: https://h.example.com/sse\n    type: sse\n    enabled: false\n",
			want: []Server{
				{ServerName: "gh", ServerType: "mcp-server-git", Command: "uvx mcp-server-git", Args: []string{"uvx", "mcp-server-git"}, EnvVars: []string{"TOKEN"}, Transport: "stdio", Enabled: true},
				{ServerName: "r", ServerType: "h.example.com", Command: "https://h.example.com/sse", URL: "https://h.example.com/sse", EnvVars: []string{}, Transport: "sse", Enabled: false},
			},
		},
		{
			name: "zed nested command object", client: "zed", file: "settings.json",
			content: "// c\n{\"context_servers\": {\"z\": {\"command\": {\"path\": \"node\", \"args\": [\"/srv/index.js\"], \"env\": {\"K\": \"v\"}},},},}",
			want:    []Server{{ServerName: "z", ServerType: "/srv/index.js", Command: "node /srv/index.js", Args: []string{"node", "/srv/index.js"}, EnvVars: []string{"K"}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "vs code settings with flat dotted key", client: "vscode", file: "settings.json",
			content: `{"mcp.servers": {"m": {"command": "uvx", "args": ["mcp-server-time"]}}}`,
			want:    []Server{{ServerName: "m", ServerType: "mcp-server-time", Command: "uvx mcp-server-time", Args: []string{"uvx", "mcp-server-time"}, EnvVars: []string{}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "continue yaml list", client: "continue", file: "config.yaml",
			content: "mcpServers:\n  - name: S\n    command: npx\n    args: [-y, mcp-sqlite]\n",
			want:    []Server{{ServerName: "S", ServerType: "mcp-sqlite", Command: "npx -y mcp-sqlite", Args: []string{"npx", "-y", "mcp-sqlite"}, EnvVars: []string{}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "windsurf serverUrl", client: "windsurf", file: "mcp_config.json",
			content: `{"mcpServers": {"w": {"serverUrl": "https://u:pw@w.example.com:8443/mcp?key=abc"}}}`,
			want:    []Server{{ServerName: "w", ServerType: "w.example.com:8443", Command: "https://u:[REDACTED]@w.example.com:8443/mcp?key=[REDACTED]", URL: "https://u:[REDACTED]@w.example.com:8443/mcp?key=[REDACTED]", EnvVars: []string{}, Transport: "http", Enabled: true}},
		},
		{
			name: "gemini httpUrl and bare url", client: "gemini-cli", file: "settings.json",
			content: `{"mcpServers": {"h": {"httpUrl": "https://h.example.com/mcp"}, "s": {"url": "https://s.example.com/events"}}}`,
			want: []Server{
				{ServerName: "h", ServerType: "h.example.com", Command: "https://h.example.com/mcp", URL: "https://h.example.com/mcp", EnvVars: []string{}, Transport: "http", Enabled: true},
				{ServerName: "s", ServerType: "s.example.com", Command: "https://s.example.com/events", URL: "https://s.example.com/events", EnvVars: []string{}, Transport: "sse", Enabled: true},
			},
		},
		{
			name: "codex toml with credential variable names", client: "codex", file: "config.toml",
			content: "[mcp_servers.f]\nurl = \"https://f.example.com/mcp\"\nbearer_token_env_var = \"F_TOKEN\"\nenv_http_headers = { \"X-Key\" = \"F_KEY\" }\n",
			want:    []Server{{ServerName: "f", ServerType: "f.example.com", Command: "https://f.example.com/mcp", URL: "https://f.example.com/mcp", EnvVars: []string{"F_KEY", "F_TOKEN"}, Transport: "http", Enabled: true}},
		},
		{
			name: "byte-order mark and CRLF", client: "cursor", file: "mcp.json",
			content: "\ufeff{\r\n\"mcpServers\": {\"c\": {\"command\": \"uvx\", \"args\": [\"mcp-server-fetch\"], \"disabled\": true}}\r\n}\r\n",
			want:    []Server{{ServerName: "c", ServerType: "mcp-server-fetch", Command: "uvx mcp-server-fetch", Args: []string{"uvx", "mcp-server-fetch"}, EnvVars: []string{}, Transport: "stdio", Enabled: false}},
		},
		{
			name: "claude code project servers", client: "claude-code", file: ".claude.json",
			content: `{"mcpServers": {"a": {"command": "a-server"}}, "projects": {"/p/one": {"mcpServers": {"b": {"type": "http", "url": "https://b.example.com/mcp"}}}, "/p/two": {}}}`,
			want: []Server{
				{ServerName: "a", ServerType: "a-server", Command: "a-server", Args: []string{"a-server"}, EnvVars: []string{}, Transport: "stdio", Enabled: true},
				{ServerName: "b", ServerType: "b.example.com", Command: "https://b.example.com/mcp", URL: "https://b.example.com/mcp", EnvVars: []string{}, Transport: "http", Enabled: true},
			},
		},
		{
			name: "argument vector keeps a folder with a space whole and its secrets redacted", client: "cursor", file: "mcp.json",
			content: `{"mcpServers": {"n": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes", "--token", "s3cr3tValue"]}}}`,
			want: []Server{{ServerName: "n", ServerType: "@modelcontextprotocol/server-filesystem",
				Command: "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes --token [REDACTED]",
				Args:    []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes", "--token", "[REDACTED]"},
				Scope:   "/home/me/ my notes", EnvVars: []string{}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "empty file has no servers", client: "cursor", file: "mcp.json", content: "  \n",
		},
		{
			name: "file without the key has no servers", client: "vscode", file: "settings.json", content: `{"editor.fontSize": 12}`,
		},
		{
			name: "invalid json", client: "cursor", file: "mcp.json",
			content: `{"mcpServers": {"x": {"command": "npx" "env": {"T": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}}}}`,
			wantErr: "invalid JSON",
		},
		{
			name: "invalid toml", client: "codex", file: "config.toml", content: "[mcp_servers.x\ncommand = 1\n",
			wantErr: "invalid TOML",
		},
		{
			name: "invalid yaml", client: "goose", file: "config.yaml", content: "extensions:\n  a: [\n",
			wantErr: "invalid YAML",
		},
		{
			name: "servers key of the wrong type", client: "cursor", file: "mcp.json", content: `{"mcpServers": 42}`,
			wantErr: "mcpServers is a number, not an object or a list",
		},
		{
			name: "one bad entry keeps the others", client: "cursor", file: "mcp.json",
			content: `{"mcpServers": {"bad": "npx x", "good": {"command": "uvx", "args": ["mcp-server-time"]}}}`,
			want:    []Server{{ServerName: "good", ServerType: "mcp-server-time", Command: "uvx mcp-server-time", Args: []string{"uvx", "mcp-server-time"}, EnvVars: []string{}, Transport: "stdio", Enabled: true}},
			wantErr: `server "bad" is a string`,
		},
		{
			name: "top level is not an object", client: "cursor", file: "mcp.json", content: `[1, 2]`,
			wantErr: "top level is a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.file)
			writeFile(t, p, tt.content)
			got, err := ParseFile(p, tt.client, "linux")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			for i := range got {
				got[i].Client, got[i].ConfigPath, got[i].project = "", "", ""
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseFileUnknownClient(t *testing.T) {
	if _, err := ParseFile("x.json", "no-such-client", "linux"); err == nil {
		t.Error("want an error")
	}
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		argv              []string
		serverType, scope string
	}{
		{[]string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/a", "~/b"}, "@modelcontextprotocol/server-filesystem", "/a ~/b"},
		{[]string{"cmd", "/c", "npx", "-y", "@modelcontextprotocol/server-filesystem", `C:\Users\j`}, "@modelcontextprotocol/server-filesystem", `C:\Users\j`},
		{[]string{"cmd.exe", "/C", "npx -y mcp-server-x"}, "mcp-server-x", ""},
		{[]string{"bash", "-lc", "uvx mcp-server-git --repository /r"}, "mcp-server-git", ""},
		{[]string{"npx", "-y", "-p", "@playwright/mcp@0.1", "playwright-mcp"}, "@playwright/mcp", ""},
		{[]string{"npx", "--package=mcp-thing@2", "run"}, "mcp-thing", ""},
		{[]string{"pnpm", "dlx", "@scope/tool"}, "@scope/tool", ""},
		{[]string{"uvx", "--from", "git+https://x/y", "serena", "start"}, "serena", ""},
		{[]string{"uvx", "mcp-server-git==0.6.2"}, "mcp-server-git", ""},
		{[]string{"uv", "--directory", "/srv/w", "run", "weather.py"}, "weather.py", ""},
		{[]string{"uv", "tool", "run", "mcp-server-fetch"}, "mcp-server-fetch", ""},
		{[]string{"pipx", "run", "mcp-server-time"}, "mcp-server-time", ""},
		{[]string{"python3", "-m", "mcp_server_fetch"}, "mcp_server_fetch", ""},
		{[]string{"python", "/srv/server.py"}, "/srv/server.py", ""},
		{[]string{"node", "--env-file", ".env", "build/index.js"}, "build/index.js", ""},
		{[]string{"docker", "run", "-i", "--rm", "-e", "T", "--name", "x", "ghcr.io/github/github-mcp-server:v1"}, "ghcr.io/github/github-mcp-server", ""},
		{[]string{"docker", "run", "-i", "localhost:5000/mcp/fs@sha256:abc"}, "localhost:5000/mcp/fs", ""},
		{[]string{"docker", "run", "-i", "-v", `C:\data:/projects/data`, "mcp/filesystem", "/projects"}, "mcp/filesystem", `C:\data`},
		{[]string{"deno", "run", "-A", "npm:@scope/deno-mcp@1"}, "@scope/deno-mcp", ""},
		{[]string{"go", "run", "github.com/x/mcp@latest"}, "github.com/x/mcp", ""},
		{[]string{"java", "-jar", "/opt/mcp.jar"}, "/opt/mcp.jar", ""},
		{[]string{`C:\Program Files\nodejs\npx.cmd`, "mcp-remote", "https://x/sse"}, "mcp-remote", ""},
		{[]string{"/usr/local/bin/github-mcp-server", "stdio"}, "github-mcp-server", ""},
		{[]string{"dnx", "NuGet.Mcp.Server", "--yes"}, "NuGet.Mcp.Server", ""},
		{[]string{"env", "A=1", "npx", "x-mcp"}, "x-mcp", ""},
	}
	for _, tt := range tests {
		st, sc := identify(tt.argv)
		if st != tt.serverType || sc != tt.scope {
			t.Errorf("identify(%q) = %q, %q; want %q, %q", tt.argv, st, sc, tt.serverType, tt.scope)
		}
	}
}
