package discovery

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected inventories in testdata/*.golden.json")

// inventory is a scan result made independent of where the fixtures sit:
// config paths are given relative to the scanned home, as "~/...".
func inventory(t *testing.T, home string, r Result) []byte {
	t.Helper()
	rel := func(p string) string {
		r, err := filepath.Rel(home, p)
		if err != nil || strings.HasPrefix(r, "..") {
			return filepath.ToSlash(p)
		}
		return "~/" + filepath.ToSlash(r)
	}
	for i := range r.Servers {
		r.Servers[i].ConfigPath = rel(r.Servers[i].ConfigPath)
	}
	for i := range r.Findings {
		r.Findings[i].Path = rel(r.Findings[i].Path)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func plantedSecrets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/planted-secrets.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func assertNoSecrets(t *testing.T, where string, b []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s: planted secret %q appears in the result", where, s)
		}
	}
}

func TestScanFixtureHomes(t *testing.T) {
	secrets := plantedSecrets(t)
	for _, osName := range []string{"linux", "darwin", "windows"} {
		t.Run(osName, func(t *testing.T) {
			home := filepath.Join("testdata", osName)
			r, err := Scan(Options{Home: home, OS: osName})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(r)
			assertNoSecrets(t, osName, raw, secrets)

			got := inventory(t, home, r)
			golden := filepath.Join("testdata", osName+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("inventory differs from %s; run go test -update and review the diff\n%s", golden, got)
			}
		})
	}
}

// Every client in the table must be exercised by some fixture, so that a
// new entry cannot land untested.
func TestEveryClientHasAFixture(t *testing.T) {
	found := map[string]bool{}
	for _, osName := range []string{"linux", "darwin", "windows"} {
		r, err := Scan(Options{Home: filepath.Join("testdata", osName), OS: osName})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Servers {
			found[s.Client] = true
		}
	}
	for _, c := range Clients() {
		if !found[c.ID] {
			t.Errorf("no fixture server for client %s", c.ID)
		}
	}
	if n := len(Clients()); n < 20 {
		t.Errorf("%d clients in the table, want at least 20", n)
	}
}

func TestScanRootedImage(t *testing.T) {
	root := filepath.Join("testdata", "root-linux")
	r, err := Scan(Options{Home: filepath.Join("testdata", "linux"), OS: "linux", Root: root, AllUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(r)
	assertNoSecrets(t, "root", raw, plantedSecrets(t))

	type key struct{ client, name, path string }
	have := map[key]Server{}
	for _, s := range r.Servers {
		have[key{s.Client, s.ServerName, filepath.ToSlash(s.ConfigPath)}] = s
	}
	want := []key{
		{"claude-code", "company-docs", "testdata/root-linux/etc/claude-code/managed-mcp.json"},
		{"codex", "corp-search", "testdata/root-linux/etc/codex/config.toml"},
		// Jane's Claude Desktop has a "filesystem" too.
		{"cursor", "filesystem (cursor)", "testdata/root-linux/home/bob/.cursor/mcp.json"},
		{"cursor", "brave-search", "testdata/linux/.cursor/mcp.json"},
	}
	for _, k := range want {
		if _, ok := have[k]; !ok {
			t.Errorf("missing %v", k)
		}
	}
	if s := have[want[1]]; s.Command != "/opt/corp/bin/search-mcp --token [REDACTED]" {
		t.Errorf("managed codex command = %q", s.Command)
	}
	if s := have[want[2]]; s.Scope != "/home/bob" {
		t.Errorf("bob's filesystem scope = %q", s.Scope)
	}
	var rootFinding bool
	for _, f := range r.Findings {
		if f.Client == "codex" && filepath.ToSlash(f.Path) == "testdata/root-linux/root/.codex/config.toml" {
			rootFinding = true
		}
	}
	if !rootFinding {
		t.Errorf("root's broken config.toml is not a finding: %+v", r.Findings)
	}
}

func TestScanWithoutRootSkipsSystemFiles(t *testing.T) {
	r, err := Scan(Options{Home: filepath.Join("testdata", "linux"), OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range r.Watch {
		if strings.HasPrefix(filepath.ToSlash(w), "/etc/") {
			t.Errorf("a --home scan looks at the live system: %s", w)
		}
	}
}

func TestProjectRootsAreSearched(t *testing.T) {
	home := t.TempDir()
	proj := filepath.Join(home, "work", "acme", "shop")
	writeFile(t, filepath.Join(proj, ".cursor", "mcp.json"), `{"mcpServers": {"shop-db": {"command": "uvx", "args": ["mcp-server-sqlite"]}}}`)
	writeFile(t, filepath.Join(proj, "node_modules", "x", ".mcp.json"), `{"mcpServers": {"ignored": {"command": "x"}}}`)
	r, err := Scan(Options{Home: home, OS: "linux", ProjectRoots: []string{filepath.Join(home, "work")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Servers) != 1 || r.Servers[0].ServerName != "shop-db" || r.Servers[0].Client != "cursor" {
		t.Errorf("servers = %+v", r.Servers)
	}
}

func TestLiveScanHonoursEnvironmentOverrides(t *testing.T) {
	home, codexHome := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(codexHome, "config.toml"), "[mcp_servers.elsewhere]\ncommand = \"uvx\"\nargs = [\"mcp-server-time\"]\n")
	env := map[string]string{"CODEX_HOME": codexHome}
	r, err := Scan(Options{Home: home, OS: "linux", Live: true, Root: t.TempDir(), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Servers) != 1 || r.Servers[0].ServerName != "elsewhere" {
		t.Errorf("servers = %+v", r.Servers)
	}
	// Without Live the variable is ignored: it describes this machine, not a mounted home.
	r, _ = Scan(Options{Home: home, OS: "linux", Getenv: func(k string) string { return env[k] }})
	if len(r.Servers) != 0 {
		t.Errorf("servers = %+v", r.Servers)
	}
}

func TestScanRejectsUnknownOS(t *testing.T) {
	if _, err := Scan(Options{Home: t.TempDir(), OS: "plan9"}); err == nil {
		t.Error("want an error")
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
