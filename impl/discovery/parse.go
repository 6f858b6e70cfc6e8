package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/tailscale/hujson"
	"go.yaml.in/yaml/v3"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// Server is one configured MCP server in the report shape of POST
// /mcp/report; the fields after EnvVars extend the v0.1.2 shape.
type Server struct {
	ServerName string   `json:"server_name"`
	ServerType string   `json:"server_type"`
	Command    string   `json:"command"`
	Scope      string   `json:"scope"`
	EnvVars    []string `json:"env_vars"`
	// Args is a local server's argument vector as configured, program first,
	// redacted; Command is Args joined with spaces, which loses where an
	// argument holding a space begins and ends. Nil for remote servers.
	Args       []string `json:"args,omitempty"`
	Client     string   `json:"client,omitempty"`
	ConfigPath string   `json:"config_path,omitempty"`
	Transport  string   `json:"transport,omitempty"`
	URL        string   `json:"url,omitempty"`
	Enabled    bool     `json:"enabled"`

	// project is the folder under which a shared file lists the server (a
	// key of Claude Code's "projects" map), "" for the file's own servers.
	// It tells same-named servers of one file apart; see UniqueNames.
	project string
}

// Finding is a configuration file that exists but could not be read or
// understood. Error never holds a secret from the file.
type Finding struct {
	Client string `json:"client"`
	Path   string `json:"path"`
	Error  string `json:"error"`
}

// maxFileSize bounds what is read; MCP configurations are small, and a huge
// file at a config path is itself worth a finding.
const maxFileSize = 16 << 20

// ParseFile reads one configuration file as the given client writes it and
// returns its servers. Servers that could be read are returned even when
// err reports a problem with the rest of the file.
func ParseFile(path, client, osName string) ([]Server, error) {
	c, ok := findClient(client)
	if !ok {
		return nil, fmt.Errorf("unknown client %q", client)
	}
	src := sourceFor(c, path, osName)
	servers, _, err := parseWith(path, c.ID, src)
	return servers, err
}

// sourceFor picks the client's source whose file name matches path; when
// none does, every key the client uses is tried.
func sourceFor(c Client, file, osName string) Source {
	base := filepath.Base(filepath.FromSlash(strings.ReplaceAll(file, `\`, "/")))
	var all Source
	for _, s := range c.Sources {
		all.Keys = append(all.Keys, s.Keys...)
		for _, p := range s.patterns(osName) {
			if ok, _ := filepath.Match(pathBase(p), base); ok {
				return s
			}
		}
	}
	all.Keys = dedupeStrings(all.Keys)
	return all
}

func pathBase(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// parseWith reads, decodes and normalises a file. It also returns the
// project folders recorded under the source's ProjectsKey.
func parseWith(path, client string, src Source) ([]Server, []string, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	doc, err := decodeFile(data, path, src.formatOf(path))
	if err != nil {
		return nil, nil, err
	}
	var projects []string
	if src.ProjectsKey != "" {
		if m, ok := doc[src.ProjectsKey].(map[string]any); ok {
			for p := range m {
				projects = append(projects, p)
			}
			sort.Strings(projects)
		}
	}
	servers, err := serversIn(doc, src, client, path)
	return servers, projects, err
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("file is %d bytes, larger than the %d read", st.Size(), maxFileSize)
	}
	buf := new(bytes.Buffer)
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}

// decode turns a file into a generic document. JSON is read as JSONC
// (comments and trailing commas), which every JSON file also is; a UTF-8
// byte-order mark, as Windows editors write, is dropped.
func decode(data []byte, format string) (map[string]any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	var doc any
	switch format {
	case "toml":
		var m map[string]any
		if err := toml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("invalid TOML: %w", err)
		}
		doc = m
	case "yaml":
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		doc = stringKeys(doc)
	default:
		std, err := hujson.Standardize(data)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(std))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
	}
	m, ok := doc.(map[string]any)
	if !ok {
		if doc == nil {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("top level is %s, not an object", kind(doc))
	}
	return m, nil
}

// stringKeys converts YAML mappings with non-string keys so the rest of the
// code sees one map type.
func stringKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = stringKeys(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = stringKeys(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = stringKeys(x)
		}
		return t
	}
	return v
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// match is a node a dotted key found, with the map keys its "*" segments
// stood for (Claude Code's project folders).
type match struct {
	node  any
	under []string
}

// lookup resolves a dotted key. Settings files also spell nested keys flat
// ("mcp.servers" as one key), so the longest literal key wins at each level.
func lookup(node any, segs []string) []match {
	return lookupUnder(node, segs, nil)
}

func lookupUnder(node any, segs, under []string) []match {
	if len(segs) == 0 {
		return []match{{node: node, under: under}}
	}
	m, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	if segs[0] == "*" {
		keys := sortedKeys(m)
		var out []match
		for _, k := range keys {
			out = append(out, lookupUnder(m[k], segs[1:], append(slices.Clip(under), k))...)
		}
		return out
	}
	for j := len(segs); j > 0; j-- {
		if v, ok := m[strings.Join(segs[:j], ".")]; ok {
			return lookupUnder(v, segs[j:], under)
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serversIn collects the servers under each key. Problems with single
// entries are joined into the error; the rest of the file still counts.
func serversIn(doc map[string]any, src Source, client, path string) ([]Server, error) {
	keys := src.Keys
	var servers []Server
	var errs []error
	found := false
	for _, key := range keys {
		if key == "." {
			continue
		}
		for _, mt := range lookup(doc, strings.Split(key, ".")) {
			found = true
			s, err := serversOf(mt.node, key, client, path, src.URLTransport, false)
			for i := range s {
				s[i].project = strings.Join(mt.under, "/")
			}
			servers = append(servers, s...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !found && contains(keys, ".") {
		s, err := serversOf(doc, ".", client, path, src.URLTransport, true)
		servers = append(servers, s...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return servers, errors.Join(errs...)
}

// serversOf reads a map of name to server, or a list of servers that carry
// their names. At the top level of a file only entries that look like
// servers count, since other settings share it.
func serversOf(node any, key, client, path, urlTransport string, onlyServers bool) ([]Server, error) {
	var out []Server
	var errs []error
	add := func(name string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			if !onlyServers {
				errs = append(errs, fmt.Errorf("%s: server %q is %s, not an object", key, name, kind(v)))
			}
			return
		}
		if onlyServers && !looksLikeServer(m) {
			return
		}
		s := normalize(name, m, urlTransport)
		if name == "" {
			name = s.ServerType
			if name == "" {
				name = key
			}
			s.ServerName = name
		}
		s.Client, s.ConfigPath = truncate(client, 100), truncate(path, maxPath)
		out = append(out, s)
	}
	switch t := node.(type) {
	case nil:
	case string:
		// A path to another file (plugin.json's "mcpServers": "./mcp.json"),
		// which the client resolves, not a server.
	case map[string]any:
		for _, name := range sortedKeys(t) {
			add(name, t[name])
		}
	case []any:
		for i, v := range t {
			m, _ := v.(map[string]any)
			// Unnamed entries (Continue's old config.json) are named after
			// what they run.
			if m == nil {
				add(fmt.Sprintf("%s[%d]", key, i), v)
				continue
			}
			add(firstString(m, "name", "id", "title"), v)
		}
	default:
		errs = append(errs, fmt.Errorf("%s is %s, not an object or a list", key, kind(node)))
	}
	return out, errors.Join(errs...)
}

var serverFields = []string{"command", "cmd", "url", "serverUrl", "httpUrl", "uri", "transport"}

func looksLikeServer(m map[string]any) bool {
	for _, f := range serverFields {
		if _, ok := m[f]; ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dedupeStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// safeError renders a parse error without any secret a decoder may quote
// from the file.
func safeError(err error) string {
	return redact.Command(err.Error())
}
