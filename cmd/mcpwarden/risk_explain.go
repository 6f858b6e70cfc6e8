package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mcpwarden/mcpwarden/impl/discovery"
	"github.com/mcpwarden/mcpwarden/impl/redact"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

const riskExplainUsage = `Usage: mcpwarden risk explain [--json] [--details] [--fail-on LEVEL] FILE...

Reads MCP client configuration files (Claude Desktop, Claude Code, Cursor, VS Code, Zed,
OpenCode, Windsurf, Gemini... JSON or JSON with comments), a single server entry
{"command": ..., "args": [...], "env": {...}}, or a /mcp/report body, and prints each
server's risk level, score and factors. Secrets are redacted before anything is printed.
`

// runRiskExplain implements `mcpwarden risk explain FILE...`.
func runRiskExplain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "explain" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("risk explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, riskExplainUsage) }
	asJSON := fs.Bool("json", false, "print the assessments as JSON")
	details := fs.Bool("details", false, "print each factor's detail (what can go wrong, what to do)")
	failOn := fs.String("fail-on", "", "exit with status 3 when a server is at this level or above (critical, high, medium, low)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	threshold := -1
	if *failOn != "" {
		var ok bool
		if threshold, ok = levelRank[strings.ToLower(*failOn)]; !ok {
			fmt.Fprintf(stderr, "mcpwarden risk explain: --fail-on must be critical, high, medium or low\n")
			return 2
		}
	}

	var reports []explainedFile
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "mcpwarden risk explain: %v\n", err)
			return 1
		}
		var inputs []risk.Input
		switch strings.ToLower(filepath.Ext(path)) {
		case ".toml", ".yaml", ".yml":
			inputs, err = parseWithAgentParser(path)
		default:
			inputs, err = parseExplainConfig(data, filepath.Base(path))
		}
		if err != nil {
			fmt.Fprintf(stderr, "mcpwarden risk explain: %s: %v\n", path, err)
			return 1
		}
		reports = append(reports, explainedFile{Path: path, Servers: inputs, Assessments: risk.AssessAll(inputs)})
	}

	if *asJSON {
		writeExplainJSON(stdout, reports)
	} else {
		writeExplainTable(stdout, reports, *details)
	}
	if threshold >= 0 {
		for _, r := range reports {
			for _, a := range r.Assessments {
				if levelRank[a.Level] >= threshold {
					return 3
				}
			}
		}
	}
	return 0
}

// levelRank orders levels so that --fail-on high also catches critical.
var levelRank = map[string]int{risk.Low: 0, risk.Medium: 1, risk.High: 2, risk.Critical: 3}

type explainedFile struct {
	Path        string
	Servers     []risk.Input
	Assessments []risk.Assessment
}

func writeExplainTable(w io.Writer, reports []explainedFile, details bool) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		counts := map[string]int{}
		for _, a := range r.Assessments {
			counts[a.Level]++
		}
		fmt.Fprintf(w, "%s: %d server(s): %d critical, %d high, %d medium, %d low\n", r.Path, len(r.Servers),
			counts[risk.Critical], counts[risk.High], counts[risk.Medium], counts[risk.Low])
		for j, in := range r.Servers {
			a := r.Assessments[j]
			fmt.Fprintf(w, "\n%-8s %3d  %s  %s\n", strings.ToUpper(a.Level), a.Score, in.ServerName, launchSummary(in))
			// One tabwriter per server keeps its factor columns aligned without
			// stretching them to the widest line of the whole file.
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, f := range a.Factors {
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Title, f.Evidence)
				if details {
					fmt.Fprintf(tw, "    \t\t%s\t\n", f.Detail)
				}
			}
			tw.Flush()
		}
	}
}

func launchSummary(in risk.Input) string {
	s := in.Command
	if s == "" {
		s = in.URL
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

func writeExplainJSON(w io.Writer, reports []explainedFile) {
	type server struct {
		Name    string        `json:"server_name"`
		Type    string        `json:"server_type,omitempty"`
		Command string        `json:"command,omitempty"`
		URL     string        `json:"url,omitempty"`
		Level   string        `json:"risk_level"`
		Score   int           `json:"risk_score"`
		Factors []risk.Factor `json:"risk_factors"`
	}
	type file struct {
		Path    string   `json:"path"`
		Servers []server `json:"servers"`
	}
	out := make([]file, 0, len(reports))
	for _, r := range reports {
		f := file{Path: r.Path, Servers: []server{}}
		for i, in := range r.Servers {
			a := r.Assessments[i]
			f.Servers = append(f.Servers, server{in.ServerName, in.ServerType, in.Command, in.URL, a.Level, a.Score, a.Factors})
		}
		out = append(out, f)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// parseExplainConfig turns a configuration file into risk inputs, with every
// value redacted as the agent would before reporting.
func parseExplainConfig(data []byte, fileName string) ([]risk.Input, error) {
	clean := stripJSONC(data)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(clean, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	// A /mcp/report body: {"servers": [ {...}, ... ]}.
	if raw, ok := top["servers"]; ok && isJSONArray(raw) {
		return parseReportBody(raw)
	}
	var inputs []risk.Input
	found := false
	for _, shape := range []struct{ key, client string }{
		{"mcpServers", ""}, {"servers", "vscode"}, {"context_servers", "zed"}, {"mcp_servers", "codex"},
	} {
		if raw, ok := top[shape.key]; ok {
			found = true
			in, err := parseServerMap(raw, shape.client, "")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", shape.key, err)
			}
			inputs = append(inputs, in...)
		}
	}
	// "mcp" is OpenCode's server map, or VS Code settings.json's {"mcp": {"servers": {...}}}.
	if raw, ok := top["mcp"]; ok {
		found = true
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			return nil, fmt.Errorf("mcp: %w", err)
		}
		if servers, ok := inner["servers"]; ok {
			in, err := parseServerMap(servers, "vscode", "")
			if err != nil {
				return nil, fmt.Errorf("mcp.servers: %w", err)
			}
			inputs = append(inputs, in...)
		} else {
			in, err := parseServerMap(raw, "opencode", "")
			if err != nil {
				return nil, fmt.Errorf("mcp: %w", err)
			}
			inputs = append(inputs, in...)
		}
	}
	// Claude Code's ~/.claude.json keeps per-project servers under projects.<path>.mcpServers.
	if raw, ok := top["projects"]; ok {
		var projects map[string]struct {
			MCPServers json.RawMessage `json:"mcpServers"`
		}
		if json.Unmarshal(raw, &projects) == nil {
			paths := make([]string, 0, len(projects))
			for p := range projects {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			for _, p := range paths {
				if len(projects[p].MCPServers) == 0 {
					continue
				}
				found = true
				in, err := parseServerMap(projects[p].MCPServers, "claude-code", p)
				if err != nil {
					return nil, fmt.Errorf("projects[%s]: %w", p, err)
				}
				inputs = append(inputs, in...)
			}
		}
	}
	if found {
		return inputs, nil
	}
	// A single server entry.
	if _, ok := top["command"]; ok || firstString(top, "url", "serverUrl", "httpUrl", "uri") != "" || top["cmd"] != nil {
		name := strings.TrimSuffix(fileName, filepath.Ext(fileName))
		in, err := parseServerEntry(name, clean, "")
		if err != nil {
			return nil, err
		}
		return []risk.Input{in}, nil
	}
	return nil, errors.New("no MCP servers found (expected mcpServers, servers, context_servers, mcp, or a server entry)")
}

func parseReportBody(raw json.RawMessage) ([]risk.Input, error) {
	var body []struct {
		ServerName string   `json:"server_name"`
		ServerType string   `json:"server_type"`
		Command    string   `json:"command"`
		Scope      string   `json:"scope"`
		EnvVars    []string `json:"env_vars"`
		Transport  string   `json:"transport"`
		URL        string   `json:"url"`
		Client     string   `json:"client"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("report servers: %w", err)
	}
	inputs := make([]risk.Input, 0, len(body))
	for _, s := range body {
		names := make([]string, 0, len(s.EnvVars))
		for _, n := range s.EnvVars {
			n, _, _ = strings.Cut(n, "=") // the server keeps names only
			names = append(names, n)
		}
		inputs = append(inputs, risk.Input{
			ServerName: s.ServerName, ServerType: s.ServerType, Command: redact.Command(s.Command),
			Scope: s.Scope, EnvVars: names, Transport: s.Transport, URL: redact.Command(s.URL), Client: s.Client,
		})
	}
	return inputs, nil
}

// parseServerMap reads {"name": entry, ...} keeping the file's order.
func parseServerMap(raw json.RawMessage, client, project string) ([]risk.Input, error) {
	names, values, err := orderedObject(raw)
	if err != nil {
		return nil, err
	}
	inputs := make([]risk.Input, 0, len(names))
	for i, name := range names {
		display := name
		if project != "" {
			display = name + " (" + project + ")"
		}
		in, err := parseServerEntry(display, values[i], client)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// serverEntry covers the spellings clients use for one server.
type serverEntry struct {
	Command     json.RawMessage   `json:"command"` // string, array (OpenCode) or {"path","args","env"} (older Zed)
	Cmd         string            `json:"cmd"`     // Goose
	Args        []string          `json:"args"`
	Env         map[string]string `json:"env"`
	Environment map[string]string `json:"environment"` // OpenCode
	Envs        map[string]string `json:"envs"`        // Goose
	Type        string            `json:"type"`
	Transport   string            `json:"transport"`
	URL         string            `json:"url"`
	ServerURL   string            `json:"serverUrl"`
	HTTPURL     string            `json:"httpUrl"`
	URI         string            `json:"uri"`
	Headers     map[string]string `json:"headers"`
	Disabled    bool              `json:"disabled"`
	Enabled     *bool             `json:"enabled"` // OpenCode, Goose
}

func parseServerEntry(name string, raw json.RawMessage, client string) (risk.Input, error) {
	var e serverEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return risk.Input{}, err
	}
	var argv []string
	var env map[string]string
	if len(e.Command) > 0 {
		var s string
		var list []string
		var obj struct {
			Path string            `json:"path"`
			Args []string          `json:"args"`
			Env  map[string]string `json:"env"`
		}
		switch {
		case json.Unmarshal(e.Command, &s) == nil:
			argv = append(argv, s)
		case json.Unmarshal(e.Command, &list) == nil:
			argv = append(argv, list...)
		case json.Unmarshal(e.Command, &obj) == nil:
			argv = append(append(argv, obj.Path), obj.Args...)
			env = obj.Env
		default:
			return risk.Input{}, errors.New("command is neither a string, an array nor an object")
		}
	} else if e.Cmd != "" {
		argv = append(argv, e.Cmd)
	}
	argv = append(argv, e.Args...)

	var envNames []string
	for _, m := range []map[string]string{e.Env, e.Environment, e.Envs, env} {
		envNames = append(envNames, sortedKeys(m)...)
	}
	// Header names say whether credentials are sent (Authorization, X-API-Key); values never leave.
	for _, h := range sortedKeys(e.Headers) {
		envNames = append(envNames, "header "+h)
	}

	url := firstNonEmptyString(e.URL, e.ServerURL, e.HTTPURL, e.URI)
	transport := strings.ToLower(firstNonEmptyString(e.Type, e.Transport))
	switch transport {
	case "local":
		transport = "stdio"
	case "remote":
		transport = "http"
	}
	if transport == "" && url != "" {
		transport = "http"
	}
	// Disabled servers are still judged: one click turns them back on.
	if e.Disabled || e.Enabled != nil && !*e.Enabled {
		name += " (disabled)"
	}
	return risk.Input{
		ServerName: name,
		Command:    joinCommand(redact.Args(argv)),
		EnvVars:    envNames,
		Transport:  transport,
		URL:        redact.Command(url),
		Client:     client,
	}, nil
}

// joinCommand quotes arguments with spaces so the risk parser sees them whole.
func joinCommand(argv []string) string {
	parts := make([]string, 0, len(argv))
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = `"` + strings.ReplaceAll(a, `"`, `\"`) + `"`
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// orderedObject returns a JSON object's keys and values in file order.
func orderedObject(raw json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("expected an object of servers")
	}
	var keys []string
	var values []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, key)
		values = append(values, v)
	}
	return keys, values, nil
}

// stripJSONC removes // and /* */ comments and trailing commas (VS Code,
// Zed and OpenCode files), leaving strings untouched.
func stripJSONC(in []byte) []byte {
	out := make([]byte, 0, len(in))
	inString := false
	for i := 0; i < len(in); i++ {
		c := in[i]
		if inString {
			out = append(out, c)
			if c == '\\' && i+1 < len(in) {
				out = append(out, in[i+1])
				i++
			} else if c == '"' {
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '/' && i+1 < len(in) && in[i+1] == '/':
			for i < len(in) && in[i] != '\n' {
				i++
			}
			if i < len(in) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(in) && in[i+1] == '*':
			i += 2
			for i+1 < len(in) && !(in[i] == '*' && in[i+1] == '/') {
				i++
			}
			i++
		case c == ']' || c == '}':
			// Drop a trailing comma before the closing bracket.
			j := len(out) - 1
			for j >= 0 && (out[j] == ' ' || out[j] == '\t' || out[j] == '\n' || out[j] == '\r') {
				j--
			}
			if j >= 0 && out[j] == ',' {
				out = append(out[:j], out[j+1:]...)
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

func isJSONArray(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '['
}

func firstString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

func firstNonEmptyString(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseWithAgentParser reads the TOML and YAML configurations (Codex, Goose, Continue) with the
// agent's own parser, so that explain judges exactly what an agent would report.
func parseWithAgentParser(path string) ([]risk.Input, error) {
	var firstErr error
	for _, client := range []string{"codex", "goose", "continue"} {
		servers, err := discovery.ParseFile(path, client, runtime.GOOS)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if len(servers) == 0 {
			continue
		}
		inputs := make([]risk.Input, len(servers))
		for i, s := range servers {
			inputs[i] = risk.Input{ServerName: s.ServerName, ServerType: s.ServerType, Command: s.Command, Scope: s.Scope,
				EnvVars: s.EnvVars, Transport: s.Transport, URL: s.URL, Client: s.Client}
		}
		return inputs, nil
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, errors.New("no MCP servers found (TOML and YAML are read as Codex, Goose or Continue configurations)")
}
