package discovery

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fixtureFile is one file of the fixture homes, and how an agent finds it alone.
type fixtureFile struct {
	path string  // under testdata
	opts Options // a scan of a copy of the file alone, in a home of its own
	copy string  // where opts finds the copy
}

// fixtureFiles lists every file of the fixture homes (testdata/<os>/ and the rooted image
// testdata/root-linux/) with the options of a scan that finds a copy of it alone: project files
// (under src/) through their project root, the rooted image's through Root and AllUsers.
func fixtureFiles(t *testing.T) []fixtureFile {
	t.Helper()
	var out []fixtureFile
	for _, dir := range []string{"linux", "darwin", "windows", "root-linux"} {
		base := filepath.Join("testdata", dir)
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(base, p)
			tmp := t.TempDir()
			f := fixtureFile{path: p, copy: filepath.Join(tmp, rel)}
			switch parts := strings.Split(filepath.ToSlash(rel), "/"); {
			case dir == "root-linux":
				if err := os.MkdirAll(filepath.Join(tmp, "home"), 0o755); err != nil {
					return err
				}
				f.opts = Options{Home: t.TempDir(), OS: "linux", Root: tmp, AllUsers: true}
			case parts[0] == "src" && len(parts) > 2:
				f.opts = Options{Home: tmp, OS: dir, ProjectRoots: []string{filepath.Join(tmp, "src", parts[1])}, ProjectDepth: -1}
			default:
				f.opts = Options{Home: tmp, OS: dir}
			}
			out = append(out, f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// scanAlone is what an agent that finds only this fixture file reports.
func (f fixtureFile) scanAlone(t *testing.T) Result {
	t.Helper()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.copy, string(data))
	r, err := Scan(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ParseConfig, told nothing of clients, finds in every fixture file the servers that a scan
// finding the file alone reports: the same names, commands, vectors and all, but for the client
// where several read the same path (a home's .mcp.json is Claude Code's in a project and Visual
// Studio's in a Windows home) and where the file is.
func TestParseConfigReadsEachFixtureFileAsAScanOfItAlone(t *testing.T) {
	files := fixtureFiles(t)
	if len(files) < 140 {
		t.Fatalf("%d fixture files, want every one of the fixture homes", len(files))
	}
	otherClient := 0
	for _, f := range files {
		scan := f.scanAlone(t)
		got, err := ParseConfig(f.path)
		if len(scan.Findings) > 0 {
			if err == nil {
				t.Errorf("%s: no error, while the scan finds %v", f.path, scan.Findings)
			}
		} else if err != nil {
			t.Errorf("%s: %v", f.path, err)
		}
		want := scan.Servers
		for i := range min(len(want), len(got)) {
			if want[i].Client != got[i].Client {
				otherClient++
			}
		}
		placeless := func(s Server) Server {
			s.Client, s.ConfigPath = "", ""
			return s
		}
		if diff := cmp.Diff(want, got, cmp.Transformer("placeless", placeless), cmp.AllowUnexported(Server{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-scan alone +ParseConfig):\n%s", f.path, diff)
		}
	}
	t.Logf("%d fixture files; %d servers read as another client's", len(files), otherClient)
}

// The clients whose file paths end as a file's path does read it; a path no client's ends like
// is read with every client's keys.
func TestReadersOfAFilePath(t *testing.T) {
	allKeys := []string{"mcpServers", "projects.*.mcpServers", ".", "servers", "mcp.servers", "context_servers", "mcp_servers",
		"mcp", "amp.mcpServers", "augment.advanced.mcpServers", "experimental.modelContextProtocolServers", "extensions"}
	for _, tc := range []struct {
		path string
		want map[string][]string // client: keys
	}{
		{"/home/jane/.cursor/mcp.json", map[string][]string{"cursor": {"mcpServers"}}},
		{"/home/jane/src/app/.vscode/mcp.json", map[string][]string{"vscode": {"servers"}}},
		{"/home/jane/.config/Code/User/settings.json", map[string][]string{
			"vscode": {"mcp.servers"}, "amp": {"amp.mcpServers"}, "augment": {"augment.advanced.mcpServers"}}},
		{`C:\Users\jane\AppData\Roaming\Claude\claude_desktop_config.json`, map[string][]string{"claude-desktop": {"mcpServers"}}},
		{"/home/jane/.claude/plugins/cache/acme/x/1.0/.mcp.json", map[string][]string{"claude-code": {"mcpServers", "."}}},
		{"/srv/copy/claude_desktop_config.json", map[string][]string{"claude-desktop": {"mcpServers"}}},
		{"/etc/codex/config.toml", map[string][]string{"codex": {"mcp_servers"}}},
		{"/tmp/anything.json", map[string][]string{"": allKeys}},
		{"/tmp/anything.yaml", map[string][]string{"": allKeys}},
	} {
		got := map[string][]string{}
		for _, r := range readersOf(tc.path) {
			got[r.client] = r.src.Keys
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.path, diff)
		}
	}
}

// Each shape ParseConfig takes, in full: a client's file found by its path, a single server
// entry, and report bodies, which are redacted again (whoever wrote them may not have).
func TestParseConfigShapes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file, content string
		want                []Server
	}{
		{
			name: "a file at no client's path is read with every client's keys", file: "exported.json",
			content: `{"context_servers": {"z": {"command": {"path": "node", "args": ["/srv/z.js"]}}}, "mcp_servers": {"c": {"command": "uvx", "args": ["mcp-server-time"]}}}`,
			want: []Server{
				{ServerName: "z", ServerType: "/srv/z.js", Command: "node /srv/z.js", Args: []string{"node", "/srv/z.js"}, EnvVars: []string{}, Transport: "stdio", Enabled: true},
				{ServerName: "c", ServerType: "mcp-server-time", Command: "uvx mcp-server-time", Args: []string{"uvx", "mcp-server-time"}, EnvVars: []string{}, Transport: "stdio", Enabled: true},
			},
		},
		{
			name: "single server entry named after its file", file: "notes.json",
			content: `{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"], "env": {"API_TOKEN": "abc"}}`,
			want: []Server{{ServerName: "notes", ServerType: "@modelcontextprotocol/server-filesystem",
				Command: "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes",
				Args:    []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"},
				Scope:   "/home/me/ my notes", EnvVars: []string{"API_TOKEN"}, Transport: "stdio", Enabled: true}},
		},
		{
			name: "report body, redacted again", file: "report.json",
			content: `{"servers": [
				{"server_name": "db", "server_type": "mcp-server-mysql", "command": "uvx mcp-server-mysql --password hunter2pass",
					"args": ["uvx", "mcp-server-mysql", "--password", "hunter2pass"], "env_vars": ["DB_TOKEN=abc", "PATH", " PATH "],
					"client": "cursor", "transport": "stdio", "enabled": false},
				{"server_name": "db (vscode)", "url": "https://u:pw@db.example.com/mcp?key=abc", "transport": "http"}],
				"findings": []}`,
			want: []Server{
				{ServerName: "db", ServerType: "mcp-server-mysql", Command: "uvx mcp-server-mysql --password [REDACTED]",
					Args: []string{"uvx", "mcp-server-mysql", "--password", "[REDACTED]"}, EnvVars: []string{"DB_TOKEN", "PATH"},
					Client: "cursor", Transport: "stdio", Enabled: false},
				{ServerName: "db (vscode)", URL: "https://u:[REDACTED]@db.example.com/mcp?key=[REDACTED]", EnvVars: []string{},
					Transport: "http", Enabled: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.file)
			writeFile(t, p, tc.content)
			got, err := ParseConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].ConfigPath = ""
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Server{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestProjectOfTellsProjectFilesFromTheClientsOwn(t *testing.T) {
	for _, tt := range []struct{ client, path, want string }{
		{"cursor", "/home/jane/src/webapp/.cursor/mcp.json", "/home/jane/src/webapp"},
		{"cursor", "/home/jane/.cursor/mcp.json", ""}, // Cursor's own, though a project at the home reads it too
		{"cline", "/home/jane/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json", ""},
		{"claude-code", "/home/jane/src/api/.mcp.json", "/home/jane/src/api"},
		{"claude-code", "/home/jane/.claude.json", ""},
		{"vscode", `C:\Users\bob\code\app\.vscode\mcp.json`, "C:/Users/bob/code/app"},
		{"vscode", "/home/jane/.config/Code/User/mcp.json", ""},
		{"continue", "/home/jane/src/x/.continue/mcpServers/db.yaml", "/home/jane/src/x"},
		{"claude-desktop", "/home/jane/.config/Claude/claude_desktop_config.json", ""},
		{"no-such-client", "/home/jane/src/webapp/.cursor/mcp.json", ""},
		{"cursor", "", ""},
	} {
		if got := ProjectOf(tt.client, tt.path); got != tt.want {
			t.Errorf("ProjectOf(%s, %s) = %q, want %q", tt.client, tt.path, got, tt.want)
		}
	}
}
