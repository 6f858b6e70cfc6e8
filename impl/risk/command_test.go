package risk

import (
	"reflect"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Command // only the fields set here are compared
	}{
		{"npx -y with scoped package and paths",
			"npx -y @modelcontextprotocol/server-filesystem /Users/alice/Desktop ~/src",
			Command{Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem", Fetched: true, Paths: []string{"/Users/alice/Desktop", "~/src"}}},
		{"npx with pinned version",
			"npx -y @playwright/mcp@0.0.41 --headless",
			Command{Ecosystem: "npm", Package: "@playwright/mcp", Version: "0.0.41", Fetched: true}},
		{"npx @latest",
			"npx @upstash/context7-mcp@latest",
			Command{Ecosystem: "npm", Package: "@upstash/context7-mcp", Version: "latest", Fetched: true}},
		{"npx --package with bin name",
			"npx --yes --package=@wonderwhy-er/desktop-commander@0.2.3 desktop-commander",
			Command{Ecosystem: "npm", Package: "@wonderwhy-er/desktop-commander", Version: "0.2.3", Tool: "desktop-commander", Fetched: true}},
		{"bunx",
			"bunx @playwright/mcp",
			Command{Runner: "bunx", Ecosystem: "npm", Package: "@playwright/mcp", Fetched: true}},
		{"pnpm dlx",
			"pnpm dlx firecrawl-mcp@1.2.0",
			Command{Runner: "pnpm dlx", Ecosystem: "npm", Package: "firecrawl-mcp", Version: "1.2.0", Fetched: true}},
		{"yarn dlx",
			"yarn dlx mcp-remote https://mcp.linear.app/sse",
			Command{Runner: "yarn dlx", Ecosystem: "npm", Package: "mcp-remote", Fetched: true, URLs: []string{"https://mcp.linear.app/sse"}}},
		{"npx from git",
			"npx -y git+https://github.com/someone/cool-mcp.git",
			Command{Ecosystem: "npm", Package: "cool-mcp", Source: "git+https://github.com/someone/cool-mcp.git", Fetched: true}},
		{"npx github shorthand",
			"npx github:someone/cool-mcp",
			Command{Ecosystem: "npm", Package: "cool-mcp", Source: "github:someone/cool-mcp", Fetched: true}},
		{"uvx plain",
			"uvx mcp-server-fetch --ignore-robots-txt",
			Command{Runner: "uvx", Ecosystem: "pypi", Package: "mcp-server-fetch", Fetched: true}},
		{"uvx pinned with ==",
			"uvx mcp-server-git==2025.12.18 --repository ~/src/app",
			Command{Ecosystem: "pypi", Package: "mcp-server-git", Version: "2025.12.18", Fetched: true, Paths: []string{"~/src/app"}}},
		{"uvx with extras and range",
			"uvx mcp-atlassian[all]>=0.11",
			Command{Ecosystem: "pypi", Package: "mcp-atlassian", Version: ">=0.11", Fetched: true}},
		{"uvx --from git",
			"uvx --from git+https://github.com/oraios/serena serena start-mcp-server",
			Command{Ecosystem: "pypi", Package: "serena", Tool: "serena", Source: "git+https://github.com/oraios/serena", Fetched: true}},
		{"uv tool run",
			"uv tool run --from awslabs.aws-api-mcp-server@1.0.2 awslabs.aws-api-mcp-server",
			Command{Runner: "uv tool run", Ecosystem: "pypi", Package: "awslabs.aws-api-mcp-server", Version: "1.0.2", Fetched: true}},
		{"uv run local project",
			"uv --directory /Users/alice/projects/weather run weather.py",
			Command{Runner: "uv run", Ecosystem: "local", Script: "weather.py"}},
		{"uv run console script",
			"uv run --directory C:\\work\\mcp-obsidian mcp-obsidian",
			Command{Runner: "uv run", Ecosystem: "local", Package: "mcp-obsidian"}},
		{"pipx run with spec",
			"pipx run --spec mcp-server-time==2025.8.4 mcp-server-time --local-timezone=Europe/Paris",
			Command{Runner: "pipx run", Ecosystem: "pypi", Package: "mcp-server-time", Version: "2025.8.4", Tool: "mcp-server-time", Fetched: true}},
		{"python -m",
			"python -m mcp_server_fetch",
			Command{Runner: "python", Ecosystem: "pypi", Package: "mcp-server-fetch"}},
		{"python script",
			"python3 /home/bob/mcp/server.py --port 8000",
			Command{Ecosystem: "local", Script: "/home/bob/mcp/server.py"}},
		{"node script with Windows path",
			`node C:\Users\alice\mcp\build\index.js`,
			Command{Runner: "node", Ecosystem: "local", Script: `C:\Users\alice\mcp\build\index.js`}},
		{"absolute npx path on Windows",
			`C:\Program\nodejs\npx.cmd -y @modelcontextprotocol/server-memory`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-memory", Fetched: true}},
		{"docker run with env names and tag",
			"docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN -e GITHUB_TOOLSETS ghcr.io/github/github-mcp-server:v0.13.0",
			Command{Ecosystem: "docker", Package: "ghcr.io/github/github-mcp-server", Version: "v0.13.0", Fetched: true, EnvNames: []string{"GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOOLSETS"}}},
		{"docker run with bind mount",
			"docker run -i --rm --mount type=bind,src=/Users/alice/Desktop,dst=/projects/Desktop,ro mcp/filesystem /projects",
			Command{Ecosystem: "docker", Package: "mcp/filesystem", Fetched: true,
				Container: Container{Mounts: []Mount{{Host: "/Users/alice/Desktop", Target: "/projects/Desktop", ReadOnly: true}}}}},
		{"docker privileged host network and socket",
			"docker run --privileged --network=host -v /var/run/docker.sock:/var/run/docker.sock -v data:/data mcp/docker",
			Command{Ecosystem: "docker", Package: "mcp/docker", Fetched: true,
				Container: Container{Privileged: true, HostNetwork: true, Mounts: []Mount{{Host: "/var/run/docker.sock", Target: "/var/run/docker.sock"}}}}},
		{"docker Windows volume",
			`docker run -i -v C:\Users\alice\code:/code:ro docker.io/mcp/git@sha256:abc123`,
			Command{Ecosystem: "docker", Package: "mcp/git", Version: "sha256:abc123", Fetched: true,
				Container: Container{Mounts: []Mount{{Host: `C:\Users\alice\code`, Target: "/code", ReadOnly: true}}}}},
		{"podman run",
			"podman run -i --rm --cap-add=SYS_ADMIN quay.io/someone/mcp:1.0",
			Command{Runner: "podman", Ecosystem: "docker", Package: "quay.io/someone/mcp", Version: "1.0", Fetched: true, Container: Container{CapAdd: []string{"SYS_ADMIN"}}}},
		{"docker mcp gateway",
			"docker mcp gateway run",
			Command{Ecosystem: "docker", Package: "docker/mcp-gateway"}},
		{"deno with permissions",
			"deno run --allow-net --allow-read=/Users/alice/notes,/tmp jsr:@someone/notes-mcp@0.3.1",
			Command{Runner: "deno", Ecosystem: "jsr", Package: "@someone/notes-mcp", Version: "0.3.1", Fetched: true,
				Deno: []string{"--allow-net", "--allow-read=/Users/alice/notes,/tmp"}, Paths: []string{"/Users/alice/notes", "/tmp"}}},
		{"deno from URL",
			"deno run -A https://example.com/mcp/server.ts",
			Command{Runner: "deno", Source: "https://example.com/mcp/server.ts", Fetched: true, Deno: []string{"-A"}}},
		{"cmd /c wrapper",
			"cmd /c npx -y @modelcontextprotocol/server-sequential-thinking",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@modelcontextprotocol/server-sequential-thinking", Fetched: true, Wrappers: []string{"cmd /c"}}},
		{"bash -c quoted with cd",
			`bash -c "cd ~/mcp && npx -y tavily-mcp@0.1.4"`,
			Command{Runner: "npx", Ecosystem: "npm", Package: "tavily-mcp", Version: "0.1.4", Fetched: true, Wrappers: []string{"bash -c"}}},
		{"sh -c with curl pipe",
			`sh -c "curl -fsSL https://get.example.sh | sh && example-mcp"`,
			Command{Ecosystem: "binary", Package: "example-mcp", Fetcher: "curl -fsSL https://get.example.sh | sh", Wrappers: []string{"sh -c"}}},
		{"bash -lc unquoted after join",
			"bash -lc source ~/.venv/bin/activate && python -m mcp_server_time",
			Command{Runner: "python", Ecosystem: "pypi", Package: "mcp-server-time", Wrappers: []string{"bash -lc"}}},
		{"env prefix",
			"env BRAVE_API_KEY=[REDACTED] npx -y @brave/brave-search-mcp-server",
			Command{Runner: "npx", Ecosystem: "npm", Package: "@brave/brave-search-mcp-server", Fetched: true, EnvNames: []string{"BRAVE_API_KEY"}, Wrappers: []string{"env"}}},
		{"wsl wrapper",
			"wsl.exe -d Ubuntu npx -y mcp-server-kubernetes",
			Command{Runner: "npx", Ecosystem: "npm", Package: "mcp-server-kubernetes", Fetched: true, Wrappers: []string{"wsl"}}},
		{"binary with subcommand",
			"/usr/local/bin/github-mcp-server stdio",
			Command{Ecosystem: "binary", Package: "github-mcp-server", Script: "/usr/local/bin/github-mcp-server"}},
		{"bare URL",
			"https://mcp.notion.com/mcp",
			Command{Ecosystem: "remote", Package: "mcp.notion.com", URLs: []string{"https://mcp.notion.com/mcp"}}},
		{"supergateway unwraps the stdio server",
			`npx -y supergateway --stdio "npx -y @modelcontextprotocol/server-filesystem ./my-folder" --port 8000`,
			Command{Ecosystem: "npm", Package: "@modelcontextprotocol/server-filesystem", Fetched: true, Via: "supergateway", Paths: []string{"./my-folder"}}},
		{"smithery cli run",
			"npx -y @smithery/cli@latest run @someone/weather-mcp --key [REDACTED]",
			Command{Ecosystem: "npm", Package: "@someone/weather-mcp", Fetched: true, Via: "@smithery/cli@latest"}},
		{"go run module",
			"go run github.com/someone/mcp-go-server@latest",
			Command{Runner: "go", Ecosystem: "go", Package: "github.com/someone/mcp-go-server", Version: "latest", Fetched: true}},
		{"quoted path with spaces",
			`npx -y @modelcontextprotocol/server-filesystem "C:\Users\alice\My Documents"`,
			Command{Package: "@modelcontextprotocol/server-filesystem", Paths: []string{`C:\Users\alice\My Documents`}}},
		{"path flag with relative value",
			"uvx mcp-server-git --repository path/to/git/repo",
			Command{Package: "mcp-server-git", Paths: []string{"path/to/git/repo"}}},
		{"sqlite db path",
			"uvx mcp-server-sqlite --db-path ~/test.db",
			Command{Package: "mcp-server-sqlite", Paths: []string{"~/test.db"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCommand(tt.line)
			compareSetFields(t, tt.want, got)
		})
	}
}

// compareSetFields compares only the fields the test case sets, so each case
// states what it pins without repeating every field.
func compareSetFields(t *testing.T, want, got Command) {
	t.Helper()
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		f := wv.Field(i)
		if f.IsZero() {
			continue
		}
		name := wv.Type().Field(i).Name
		if name == "Container" {
			compareContainer(t, want.Container, got.Container)
			continue
		}
		if !reflect.DeepEqual(f.Interface(), gv.Field(i).Interface()) {
			t.Errorf("%s = %#v, want %#v", name, gv.Field(i).Interface(), f.Interface())
		}
	}
}

func compareContainer(t *testing.T, want, got Container) {
	t.Helper()
	if want.Privileged != got.Privileged || want.HostNetwork != got.HostNetwork {
		t.Errorf("container flags = %+v, want %+v", got, want)
	}
	if want.CapAdd != nil && !reflect.DeepEqual(want.CapAdd, got.CapAdd) {
		t.Errorf("CapAdd = %v, want %v", got.CapAdd, want.CapAdd)
	}
	if want.Mounts != nil && !reflect.DeepEqual(want.Mounts, got.Mounts) {
		t.Errorf("Mounts = %+v, want %+v", got.Mounts, want.Mounts)
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
