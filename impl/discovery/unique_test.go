package discovery

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUniqueNames(t *testing.T) {
	type in struct{ name, client, path, project string }
	long := strings.Repeat("n", maxName)
	tests := []struct {
		name string
		in   []in
		want []string
	}{
		{
			name: "names that do not collide are kept",
			in:   []in{{"github", "vscode", "/h/.vscode/mcp.json", ""}, {"fetch", "goose", "/h/.config/goose/config.yaml", ""}},
			want: []string{"github", "fetch"},
		},
		{
			name: "one name in several clients is qualified with each client",
			in: []in{
				{"github", "claude-desktop", "/h/.config/Claude/claude_desktop_config.json", ""},
				{"time", "vscode", "/h/.config/Code/User/mcp.json", ""},
				{"github", "vscode", "/h/.config/Code/User/mcp.json", ""},
				{"github", "goose", "/h/.config/goose/config.yaml", ""},
			},
			want: []string{"github (claude-desktop)", "time", "github (vscode)", "github (goose)"},
		},
		{
			name: "one client in several projects adds the project folder",
			in: []in{
				{"github", "vscode", "/h/src/webapp/.vscode/mcp.json", ""},
				{"github", "vscode", "/h/src/api/.vscode/mcp.json", ""},
				{"github", "cursor", "/h/.cursor/mcp.json", ""},
			},
			want: []string{"github (vscode, webapp)", "github (vscode, api)", "github (cursor)"},
		},
		{
			name: "one client in several files of one folder adds the file",
			in: []in{
				{"fetch", "vscode", `C:\Users\j\AppData\Roaming\Code\User\mcp.json`, ""},
				{"fetch", "vscode", `C:\Users\j\AppData\Roaming\Code\User\settings.json`, ""},
			},
			want: []string{"fetch (vscode, mcp.json)", "fetch (vscode, settings.json)"},
		},
		{
			name: "the same client in two users' homes adds the user",
			in: []in{
				{"filesystem", "cursor", "/home/jane/.cursor/mcp.json", ""},
				{"filesystem", "cursor", "/home/bob/.cursor/mcp.json", ""},
			},
			want: []string{"filesystem (cursor, jane)", "filesystem (cursor, bob)"},
		},
		{
			name: "when the last differing folder is the same, the whole difference",
			in: []in{
				{"db", "cursor", "/h/a/x/.cursor/mcp.json", ""},
				{"db", "cursor", "/h/b/x/y/.cursor/mcp.json", ""},
				{"db", "cursor", "/h/a/y/.cursor/mcp.json", ""},
			},
			want: []string{"db (cursor, a/x)", "db (cursor, b/x/y)", "db (cursor, a/y)"},
		},
		{
			name: "projects of one shared file are told apart by the project",
			in: []in{
				{"github", "claude-code", "/h/.claude.json", ""},
				{"github", "claude-code", "/h/.claude.json", "/home/jane/src/webapp"},
				{"github", "claude-code", "/h/.claude.json", "/home/jane/src/api"},
			},
			want: []string{"github (claude-code, .claude.json)", "github (claude-code, webapp)", "github (claude-code, api)"},
		},
		{
			name: "nothing tells them apart: positions",
			in: []in{
				{"x", "continue", "/h/.continue/config.json", ""},
				{"x", "continue", "/h/.continue/config.json", ""},
				{"x", "goose", "/h/.config/goose/config.yaml", ""},
			},
			want: []string{"x (continue, 1)", "x (continue, 2)", "x (goose)"},
		},
		{
			name: "a qualified name already taken gets a number, and the taken name is kept",
			in: []in{
				{"github", "vscode", "/h/a.json", ""},
				{"github (vscode)", "cursor", "/h/b.json", ""},
				{"github", "goose", "/h/c.yaml", ""},
			},
			want: []string{"github (vscode, 2)", "github (vscode)", "github (goose)"},
		},
		{
			name: "servers without a client are told apart by location",
			in:   []in{{"s", "", "/h/one/mcp.json", ""}, {"s", "", "/h/two/mcp.json", ""}},
			want: []string{"s (one)", "s (two)"},
		},
		{
			name: "long names are shortened to fit the limit with the qualifier",
			in:   []in{{long, "vscode", "/h/a.json", ""}, {long, "cursor", "/h/b.json", ""}},
			want: []string{long[:maxName-len(" (vscode)")] + " (vscode)", long[:maxName-len(" (cursor)")] + " (cursor)"},
		},
		{
			name: "labels never carry secrets or separators",
			in: []in{
				{"s", "c", "/h/ghp_F4keFixtureT0ken0123456789abcdefghij/mcp.json", ""},
				{"s", "c", "/h/a,b (c)/mcp.json", ""},
			},
			want: []string{"s (c, [REDACTED])", "s (c, a_b _c_)"},
		},
		{
			name: "empty",
			in:   nil,
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := make([]Server, len(tt.in))
			for i, x := range tt.in {
				servers[i] = Server{ServerName: x.name, Client: x.client, ConfigPath: x.path, project: x.project, Command: "cmd " + x.path}
			}
			before, _ := json.Marshal(servers)
			got := UniqueNames(servers)
			after, _ := json.Marshal(servers)
			if string(before) != string(after) {
				t.Error("UniqueNames changed its argument")
			}
			if got == nil {
				t.Fatal("nil result")
			}
			names := make([]string, len(got))
			seen := map[string]bool{}
			for i, s := range got {
				names[i] = s.ServerName
				if seen[s.ServerName] {
					t.Errorf("name %q twice", s.ServerName)
				}
				seen[s.ServerName] = true
				if n := utf8.RuneCountInString(s.ServerName); n > maxName {
					t.Errorf("name of %d characters", n)
				}
				// Only the name changes.
				s.ServerName = servers[i].ServerName
				if !reflect.DeepEqual(s, servers[i]) {
					t.Errorf("server %d changed beyond its name: %+v", i, s)
				}
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("names\n got  %q\n want %q", names, tt.want)
			}
		})
	}
}

// A scan's servers are named uniquely, also where one client lists the same
// name in its user file, in several projects of that file and in several
// project folders; servers a file lists twice alike are reported once.
func TestScanNamesServersUniquely(t *testing.T) {
	home := t.TempDir()
	server := func(pkg string) string { return `{"command": "npx", "args": ["-y", "` + pkg + `"]}` }
	writeFile(t, filepath.Join(home, ".claude.json"), `{
		"mcpServers": {"github": `+server("gh-user")+`},
		"projects": {
			"/home/jane/src/webapp": {"mcpServers": {"github": `+server("gh-webapp")+`}},
			"/home/jane/src/api": {"mcpServers": {"github": `+server("gh-api")+`}}
		}}`)
	writeFile(t, filepath.Join(home, "src", "webapp", ".vscode", "mcp.json"), `{"servers": {"github": `+server("gh-vscode-webapp")+`}}`)
	writeFile(t, filepath.Join(home, "src", "api", ".vscode", "mcp.json"), `{"servers": {"github": `+server("gh-vscode-api")+`}}`)
	// Listed under both of Continue's keys, alike.
	writeFile(t, filepath.Join(home, ".continue", "config.json"), `{"mcpServers": {"only": `+server("x")+`}, "experimental": {"modelContextProtocolServers": {"only": `+server("x")+`}}}`)

	r, err := Scan(Options{Home: home, OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range r.Servers {
		if _, dup := got[s.ServerName]; dup {
			t.Errorf("name %q twice", s.ServerName)
		}
		got[s.ServerName] = s.ServerType
	}
	want := map[string]string{
		"github (claude-code, .claude.json)": "gh-user",
		"github (claude-code, webapp)":       "gh-webapp",
		"github (claude-code, api)":          "gh-api",
		"github (vscode, webapp)":            "gh-vscode-webapp",
		"github (vscode, api)":               "gh-vscode-api",
		"only":                               "x",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("servers\n got  %v\n want %v", got, want)
	}
}
