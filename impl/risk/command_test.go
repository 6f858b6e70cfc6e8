package risk

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Command
	}{
		{"npx -y with scoped package and paths",
			"npx -y @modelcontextprotocol/server-filesystem /Users/alice/Desktop ~/src",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem", Spec: "@modelcontextprotocol/server-filesystem", Fetched: true, Args: []string{"/Users/alice/Desktop", "~/src"}, Paths: []string{"/Users/alice/Desktop", "~/src"}}},
		{"npx with pinned version",
			"npx -y @playwright/mcp@0.0.41 --headless",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@playwright/mcp", Spec: "@playwright/mcp@0.0.41", Version: "0.0.41", Fetched: true, Args: []string{"--headless"}}},
		{"npx @latest",
			"npx @upstash/context7-mcp@latest",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@upstash/context7-mcp", Spec: "@upstash/context7-mcp@latest", Version: "latest", Fetched: true}},
		{"npx --package with bin name",
			"npx --yes --package=@wonderwhy-er/desktop-commander@0.2.3 desktop-commander",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@wonderwhy-er/desktop-commander", Spec: "@wonderwhy-er/desktop-commander@0.2.3", Version: "0.2.3", Tool: "desktop-commander", Fetched: true}},
		{"bunx",
			"bunx @playwright/mcp",
			Command{Runner: "bunx", Ecosystem: "npm", Package: "@playwright/mcp", Spec: "@playwright/mcp", Fetched: true}},
		{"pnpm dlx",
			"pnpm dlx firecrawl-mcp@1.2.0",
			Command{Runner: "pnpm dlx", Ecosystem: "npm", Package: "firecrawl-mcp", Spec: "firecrawl-mcp@1.2.0", Version: "1.2.0", Fetched: true}},
		{"yarn dlx",
			"yarn dlx mcp-remote https://mcp.linear.app/sse",
			Command{Runner: "yarn dlx", Ecosystem: "npm", Package: "mcp-remote", Spec: "mcp-remote", Fetched: true, Args: []string{"https://mcp.linear.app/sse"}, URLs: []string{"https://mcp.linear.app/sse"}}},
		{"npx from git",
			"npx -y git+https://github.com/someone/cool-mcp.git",
			Command{Runner: "npx", Ecosystem: "npm", Package: "cool-mcp", Spec: "git+https://github.com/someone/cool-mcp.git", Source: "git+https://github.com/someone/cool-mcp.git", Fetched: true}},
		{"npx github shorthand",
			"npx github:someone/cool-mcp",
			Command{Runner: "npx", Ecosystem: "npm", Package: "cool-mcp", Spec: "github:someone/cool-mcp", Source: "github:someone/cool-mcp", Fetched: true}},
		{"uvx plain",
			"uvx mcp-server-fetch --ignore-robots-txt",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-server-fetch", Spec: "mcp-server-fetch", Fetched: true, Args: []string{"--ignore-robots-txt"}}},
		{"uvx pinned with ==",
			"uvx mcp-server-git==2025.12.18 --repository ~/src/app",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-server-git", Spec: "mcp-server-git==2025.12.18", Version: "2025.12.18", Fetched: true, Args: []string{"--repository", "~/src/app"}, Paths: []string{"~/src/app"}}},
		{"uvx with extras and range",
			"uvx mcp-atlassian[all]>=0.11",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-atlassian", Spec: "mcp-atlassian[all]>=0.11", Version: ">=0.11", Fetched: true}},
		{"uvx --from git",
			"uvx --from git+https://github.com/oraios/serena serena start-mcp-server",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "serena", Spec: "git+https://github.com/oraios/serena", Tool: "serena", Source: "git+https://github.com/oraios/serena", Fetched: true, Args: []string{"start-mcp-server"}}},
		{"uv tool run",
			"uv tool run --from awslabs.aws-api-mcp-server@1.0.2 awslabs.aws-api-mcp-server",
			Command{Runner: "uv tool run", Ecosystem: "pypi", Package: "awslabs.aws-api-mcp-server", Spec: "awslabs.aws-api-mcp-server@1.0.2", Version: "1.0.2", Tool: "awslabs.aws-api-mcp-server", Fetched: true}},
		{"uv run local project",
			"uv --directory /Users/alice/projects/weather run weather.py",
			Command{Runner: "uv run", Ecosystem: "local", Script: "weather.py"}},
		{"uv run console script",
			"uv run --directory C:\\work\\mcp-obsidian mcp-obsidian",
			Command{Runner: "uv run", Ecosystem: "local", Package: "mcp-obsidian"}},
		{"pipx run with spec",
			"pipx run --spec mcp-server-time==2025.8.4 mcp-server-time --local-timezone=Europe/Paris",
			Command{Runner: "pipx run", Ecosystem: "pypi", Package: "mcp-server-time", Spec: "mcp-server-time==2025.8.4", Version: "2025.8.4", Tool: "mcp-server-time", Fetched: true, Args: []string{"--local-timezone=Europe/Paris"}}},
		{"python -m",
			"python -m mcp_server_fetch",
			Command{Runner: "python", Ecosystem: "pypi", Package: "mcp-server-fetch", Spec: "mcp_server_fetch"}},
		{"python script",
			"python3 /home/bob/mcp/server.py --port 8000",
			Command{Runner: "python3", Ecosystem: "local", Script: "/home/bob/mcp/server.py", Args: []string{"--port", "8000"}}},
		{"node script with Windows path",
			`node C:\Users\alice\mcp\build\index.js`,
			Command{Runner: "node", Ecosystem: "local", Script: "C:\\Users\\alice\\mcp\\build\\index.js"}},
		{"absolute npx path on Windows",
			`C:\Program\nodejs\npx.cmd -y @modelcontextprotocol/server-memory`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-memory", Spec: "@modelcontextprotocol/server-memory", Fetched: true}},
		{"docker run with env names and tag",
			"docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN -e GITHUB_TOOLSETS ghcr.io/github/github-mcp-server:v0.13.0",
			Command{Runner: "docker", Ecosystem: "docker", Package: "ghcr.io/github/github-mcp-server", Spec: "ghcr.io/github/github-mcp-server:v0.13.0", Version: "v0.13.0", Fetched: true, EnvNames: []string{"GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOOLSETS"}}},
		{"docker run with bind mount",
			"docker run -i --rm --mount type=bind,src=/Users/alice/Desktop,dst=/projects/Desktop,ro mcp/filesystem /projects",
			Command{Runner: "docker", Ecosystem: "docker", Package: "mcp/filesystem", Spec: "mcp/filesystem", Fetched: true, Args: []string{"/projects"}, Paths: []string{"/projects"}, Container: Container{Mounts: []Mount{{Host: "/Users/alice/Desktop", Target: "/projects/Desktop", ReadOnly: true}}}}},
		{"docker privileged host network and socket",
			"docker run --privileged --network=host -v /var/run/docker.sock:/var/run/docker.sock -v data:/data mcp/docker",
			Command{Runner: "docker", Ecosystem: "docker", Package: "mcp/docker", Spec: "mcp/docker", Fetched: true, Container: Container{Privileged: true, HostNetwork: true, Mounts: []Mount{{Host: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}}}},
		{"docker Windows volume",
			`docker run -i -v C:\Users\alice\code:/code:ro docker.io/mcp/git@sha256:abc123`,
			Command{Runner: "docker", Ecosystem: "docker", Package: "mcp/git", Spec: "docker.io/mcp/git@sha256:abc123", Version: "sha256:abc123", Fetched: true, Container: Container{Mounts: []Mount{{Host: "C:\\Users\\alice\\code", Target: "/code", ReadOnly: true}}}}},
		{"podman run",
			"podman run -i --rm --cap-add=SYS_ADMIN quay.io/someone/mcp:1.0",
			Command{Runner: "podman", Ecosystem: "docker", Package: "quay.io/someone/mcp", Spec: "quay.io/someone/mcp:1.0", Version: "1.0", Fetched: true, Container: Container{CapAdd: []string{"SYS_ADMIN"}}}},
		{"docker mcp gateway",
			"docker mcp gateway run",
			Command{Runner: "docker", Ecosystem: "docker", Package: "docker/mcp-gateway", Spec: "docker mcp gateway run", Args: []string{"gateway", "run"}}},
		{"deno with permissions",
			"deno run --allow-net --allow-read=/Users/alice/notes,/tmp jsr:@someone/notes-mcp@0.3.1",
			Command{Runner: "deno", Ecosystem: "jsr", Package: "@someone/notes-mcp", Spec: "jsr:@someone/notes-mcp@0.3.1", Version: "0.3.1", Fetched: true, Paths: []string{"/Users/alice/notes", "/tmp"}, Deno: []string{"--allow-net", "--allow-read=/Users/alice/notes,/tmp"}}},
		{"deno from URL",
			"deno run -A https://example.com/mcp/server.ts",
			Command{Runner: "deno", Ecosystem: "local", Package: "server.ts", Spec: "https://example.com/mcp/server.ts", Source: "https://example.com/mcp/server.ts", Fetched: true, Deno: []string{"-A"}}},
		{"cmd /c wrapper",
			"cmd /c npx -y @modelcontextprotocol/server-sequential-thinking",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-sequential-thinking", Spec: "@modelcontextprotocol/server-sequential-thinking", Fetched: true, Wrappers: []string{"cmd /c"}}},
		{"bash -c quoted with cd",
			`bash -c "cd ~/mcp && npx -y tavily-mcp@0.1.4"`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "tavily-mcp", Spec: "tavily-mcp@0.1.4", Version: "0.1.4", Fetched: true, Wrappers: []string{"bash -c"}}},
		{"sh -c with curl pipe",
			`sh -c "curl -fsSL https://get.example.sh | sh && example-mcp"`,
			Command{Runner: "example-mcp", Ecosystem: "binary", Package: "example-mcp", Script: "example-mcp", Wrappers: []string{"sh -c"}, Fetcher: "curl -fsSL https://get.example.sh | sh"}},
		{"bash -lc unquoted after join",
			"bash -lc source ~/.venv/bin/activate && python -m mcp_server_time",
			Command{Runner: "python", Ecosystem: "pypi", Package: "mcp-server-time", Spec: "mcp_server_time", Wrappers: []string{"bash -lc"}}},
		{"env prefix",
			"env BRAVE_API_KEY=[REDACTED] npx -y @brave/brave-search-mcp-server",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@brave/brave-search-mcp-server", Spec: "@brave/brave-search-mcp-server", Fetched: true, EnvNames: []string{"BRAVE_API_KEY"}, EnvAssign: []string{"BRAVE_API_KEY=[REDACTED]"}, Wrappers: []string{"env"}}},
		{"wsl wrapper",
			"wsl.exe -d Ubuntu npx -y mcp-server-kubernetes",
			Command{Runner: "npx", Ecosystem: "npm", Package: "mcp-server-kubernetes", Spec: "mcp-server-kubernetes", Fetched: true, Wrappers: []string{"wsl"}}},
		{"binary with subcommand",
			"/usr/local/bin/github-mcp-server stdio",
			Command{Runner: "github-mcp-server", Ecosystem: "binary", Package: "github-mcp-server", Script: "/usr/local/bin/github-mcp-server", Args: []string{"stdio"}}},
		{"bare URL",
			"https://mcp.notion.com/mcp",
			Command{Ecosystem: "remote", Package: "mcp.notion.com", URLs: []string{"https://mcp.notion.com/mcp"}}},
		{"supergateway unwraps the stdio server",
			`npx -y supergateway --stdio "npx -y @modelcontextprotocol/server-filesystem ./my-folder" --port 8000`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem", Spec: "@modelcontextprotocol/server-filesystem", Fetched: true, Via: "supergateway", Args: []string{"./my-folder", "--port", "8000"}, Paths: []string{"./my-folder"}}},
		{"smithery cli run",
			"npx -y @smithery/cli@latest run @someone/weather-mcp --key [REDACTED]",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@someone/weather-mcp", Spec: "@someone/weather-mcp", Fetched: true, Via: "@smithery/cli@latest", Args: []string{"--key", "[REDACTED]"}}},
		{"go run module",
			"go run github.com/someone/mcp-go-server@latest",
			Command{Runner: "go", Ecosystem: "go", Package: "github.com/someone/mcp-go-server", Spec: "github.com/someone/mcp-go-server@latest", Version: "latest", Fetched: true}},
		{"quoted path with spaces",
			`npx -y @modelcontextprotocol/server-filesystem "C:\Users\alice\My Documents"`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem", Spec: "@modelcontextprotocol/server-filesystem", Fetched: true, Args: []string{"C:\\Users\\alice\\My Documents"}, Paths: []string{"C:\\Users\\alice\\My Documents"}}},
		{"path flag with relative value",
			"uvx mcp-server-git --repository path/to/git/repo",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-server-git", Spec: "mcp-server-git", Fetched: true, Args: []string{"--repository", "path/to/git/repo"}, Paths: []string{"path/to/git/repo"}}},
		{"sqlite db path",
			"uvx mcp-server-sqlite --db-path ~/test.db",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-server-sqlite", Spec: "mcp-server-sqlite", Fetched: true, Args: []string{"--db-path", "~/test.db"}, Paths: []string{"~/test.db"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseCommand(tt.line)); diff != "" {
				t.Errorf("ParseCommand(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestPinned(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"", false}, {"latest", false}, {"^1.2.0", false}, {"~1.2", false}, {">=0.11", false}, {"1.x", false},
		{"next", false}, {"1.2.3", true}, {"v0.13.0", true}, {"2025.7.1", true}, {"sha256:abc", true},
	}
	for _, tt := range tests {
		if got := (Command{Version: tt.version}).Pinned(); got != tt.want {
			t.Errorf("Pinned(%q) = %v, want %v", tt.version, got, tt.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`a "b c" 'd e'`, []string{"a", "b c", "d e"}},
		{`C:\Users\x\dir`, []string{`C:\Users\x\dir`}},
		{`/Users/x/My\ Files`, []string{"/Users/x/My Files"}},
		{`"say \"hi\""`, []string{`say "hi"`}},
	}
	for _, tt := range tests {
		if got := splitArgs(tt.in, false); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := splitArgs("curl x|sh && y; z", true); !reflect.DeepEqual(got, []string{"curl", "x", "|", "sh", "&&", "y", ";", "z"}) {
		t.Errorf("script split = %q", got)
	}
}

// TestPathFlags: a flag's value is a path when a word of the flag's name says so, written
// relatively or not; --profile names a profile, though "profile" ends with "file".
func TestPathFlags(t *testing.T) {
	for _, tc := range []struct {
		line  string
		paths []string
	}{
		{"uvx mcp-server-git --repository src/app", []string{"src/app"}},
		{"uvx mcp-server-sqlite --db-path data.db", []string{"data.db"}},
		{"uvx mcp-server-sqlite --db data.db", []string{"data.db"}},
		{"node server.js --rootDir projects", []string{"projects"}},
		{"node server.js --config_file conf.yaml", []string{"conf.yaml"}},
		{"node server.js --allowed-directories docs,notes", []string{"docs", "notes"}},
		{"node server.js --workspace-folder app", []string{"app"}},
		{"npx -y @playwright/mcp --user-data-dir profiles/mcp", []string{"profiles/mcp"}},
		{"npx -y chrome-mcp --profile-dir work", []string{"work"}},
		{"npx -y @modelcontextprotocol/server-memory --profile work", nil},
		{"uvx awslabs.aws-api-mcp-server --profile prod-admin", nil},
		{"uvx some-mcp --profiles a,b", nil},
		{"uvx mcp-server-postgres --dbname app", nil},
		{"npx -y @modelcontextprotocol/server-memory --profile /home/dev/memory", []string{"/home/dev/memory"}},
	} {
		if got := ParseCommand(tc.line).Paths; !reflect.DeepEqual(got, tc.paths) {
			t.Errorf("%s: paths %q, want %q", tc.line, got, tc.paths)
		}
	}
}
