package discovery

import (
	_ "embed"
	"fmt"
	"path"
	"strings"

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
	default:
		return "json"
	}
}
