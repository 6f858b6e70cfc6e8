package discovery

import (
	_ "embed"
	"fmt"
	"path"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed clients.yaml
var clientsYAML []byte

// Client is one MCP client and the files it reads its servers from.
type Client struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Sources []Source `yaml:"sources"`
}

// Source is one family of configuration files of a client.
type Source struct {
	// Scope is "user" (the default), "managed" (system-wide, set by an
	// administrator) or "project" (relative to a project root).
	Scope string `yaml:"scope"`
	// Paths by OS ("linux", "darwin", "windows"); "all" applies to every OS.
	Paths map[string][]string `yaml:"paths"`
	// Format overrides the one implied by the file extension.
	Format string `yaml:"format"`
	// Keys are dotted paths to the servers inside the file.
	Keys []string `yaml:"keys"`
	// ProjectsKey names a map whose keys are project folders the client
	// has opened; they become project roots.
	ProjectsKey string `yaml:"projects_key"`
	// URLTransport is what a bare "url" without a type means to the client
	// (Gemini CLI: SSE); otherwise a URL ending in /sse is SSE, others HTTP.
	URLTransport string `yaml:"url_transport"`
}

type table struct {
	Variables map[string]map[string][]string `yaml:"variables"`
	Clients   []Client                       `yaml:"clients"`
}

var clientTable = mustLoadTable(clientsYAML)

func mustLoadTable(b []byte) table {
	var t table
	if err := yaml.Unmarshal(b, &t); err != nil {
		panic(fmt.Sprintf("discovery: clients.yaml: %v", err))
	}
	for i := range t.Clients {
		for j := range t.Clients[i].Sources {
			if t.Clients[i].Sources[j].Scope == "" {
				t.Clients[i].Sources[j].Scope = "user"
			}
		}
	}
	return t
}

// Clients returns the embedded client table.
func Clients() []Client {
	out := make([]Client, len(clientTable.Clients))
	copy(out, clientTable.Clients)
	return out
}

func findClient(id string) (Client, bool) {
	for _, c := range clientTable.Clients {
		if c.ID == id {
			return c, true
		}
	}
	return Client{}, false
}

// patterns returns the source's path patterns for an OS with {variables}
// expanded, still holding ~, %APPDATA%-style and $VAR prefixes.
func (s Source) patterns(osName string) []string {
	var raw []string
	raw = append(raw, s.Paths["all"]...)
	raw = append(raw, s.Paths[osName]...)
	var out []string
	for _, p := range raw {
		out = append(out, expandVariables(p, osName)...)
	}
	return out
}

func expandVariables(p, osName string) []string {
	open := strings.Index(p, "{")
	if open < 0 {
		return []string{p}
	}
	end := strings.Index(p[open:], "}")
	if end < 0 {
		return []string{p}
	}
	name := p[open+1 : open+end]
	vals := append(append([]string{}, clientTable.Variables[name]["all"]...), clientTable.Variables[name][osName]...)
	var out []string
	for _, v := range vals {
		out = append(out, expandVariables(p[:open]+v+p[open+end+1:], osName)...)
	}
	return out
}

// formatOf picks the parser for a file.
func (s Source) formatOf(file string) string {
	if s.Format != "" {
		return s.Format
	}
	return formatByExt(file)
}

func formatByExt(file string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(file, `\`, "/"))) {
	case ".toml":
		return "toml"
	case ".yaml", ".yml":
		return "yaml"
	case ".xml":
		return "xml"
	default:
		return "json"
	}
}

// ProjectOf returns the project folder of a configuration file that client reads per project
// (.mcp.json, .cursor/mcp.json, .continue/mcpServers/x.yaml under the project), or "" for a
// file of the client's own (user or managed scope), an unknown client or an unknown file. The
// server groups servers by it: one client session uses the client's own servers and those of
// one project.
func ProjectOf(client, configPath string) string {
	pats := projectPatterns()[client]
	if configPath == "" || len(pats.project) == 0 {
		return ""
	}
	p := strings.ReplaceAll(configPath, `\`, "/")
	// ~/.cursor/mcp.json is Cursor's own file, though a project at the home folder reads it too.
	for _, u := range pats.own {
		if dir, ok := underProject(p, u.rel); ok && (!u.home || isHomeDir(dir)) {
			return ""
		}
	}
	for _, pat := range pats.project {
		if dir, ok := underProject(p, pat); ok {
			return dir
		}
	}
	return ""
}

// clientPatterns are a client's file patterns as ProjectOf reads them.
type clientPatterns struct {
	own     []ownPattern // user and managed files, without their leading folder variable
	project []string
}

type ownPattern struct {
	rel  string
	home bool // the variable dropped was ~
}

var projectPatterns = sync.OnceValue(func() map[string]clientPatterns {
	m := map[string]clientPatterns{}
	for _, c := range clientTable.Clients {
		var cp clientPatterns
		for _, src := range c.Sources {
			for _, osName := range []string{"linux", "darwin", "windows"} {
				for _, pat := range src.patterns(osName) {
					if src.Scope == "project" {
						cp.project = append(cp.project, pat)
						continue
					}
					rel, home := homeRelative(pat)
					cp.own = append(cp.own, ownPattern{rel, home})
				}
			}
		}
		m[c.ID] = cp
	}
	return m
})

// homeRelative drops a user pattern's leading folder variable (~, %APPDATA%, $CODEX_HOME): what
// follows is matched against the end of a path.
// home says that the variable was the home folder.
func homeRelative(pattern string) (rest string, home bool) {
	first, rest, ok := strings.Cut(pattern, "/")
	if ok && (first == "~" || strings.HasPrefix(first, "%") || strings.HasPrefix(first, "$")) {
		return rest, first == "~"
	}
	return pattern, false
}

// isHomeDir reports a user's home folder: ~, /root, /home/x, /Users/x, C:/Users/x.
func isHomeDir(dir string) bool {
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	switch {
	case dir == "~" || dir == "/root" || dir == "/var/root":
		return true
	case len(parts) == 3 && parts[0] == "" && (parts[1] == "home" || parts[1] == "Users"):
		return true
	case len(parts) == 3 && len(parts[0]) == 2 && parts[0][1] == ':' && strings.EqualFold(parts[1], "Users"):
		return true
	}
	return false
}

// underProject matches a file against a project-relative pattern (".cursor/mcp.json",
// ".continue/mcpServers/*.yaml") and returns the project folder.
func underProject(file, pattern string) (string, bool) {
	fileParts := strings.Split(file, "/")
	patParts := strings.Split(pattern, "/")
	if len(fileParts) <= len(patParts) {
		return "", false
	}
	tail := fileParts[len(fileParts)-len(patParts):]
	for i, pp := range patParts {
		if ok, err := path.Match(pp, tail[i]); err != nil || !ok {
			return "", false
		}
	}
	dir := strings.Join(fileParts[:len(fileParts)-len(patParts)], "/")
	if dir == "" {
		dir = "/"
	}
	return dir, true
}
