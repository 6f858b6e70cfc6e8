package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mcpwarden/mcpwarden/cmd/internal/agentreport"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

const riskExplainUsage = `Usage: mcpwarden risk explain [--json] [--details] [--fail-on LEVEL] FILE...

Reads MCP client configuration files (Claude Desktop, Claude Code, Cursor, VS Code, Zed,
OpenCode, Codex, Goose, Continue... JSON with comments, TOML or YAML; the client is told by
the file's path), a single server entry {"command": ..., "args": [...], "env": {...}}, or a
/mcp/report body, and prints each server's risk level, score and factors as the mcpwarden
server judges them when mcpwarden-agent reports the file. Secrets are redacted before
anything is printed.
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
		r, err := explainFile(path, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "mcpwarden risk explain: %s: %v\n", path, err)
			return 1
		}
		reports = append(reports, r)
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
	Servers     []db.ReportServer
	Assessments []risk.Assessment
}

// explainFile reads a file as the agent does (discovery.ParseConfig: any client's
// configuration, a server entry or a report body) and judges the report the agent would send
// of it as the server does, normalized and redacted again (ingest.AssessReport). Problems with
// some of a file's entries are warned about; the others are still judged.
func explainFile(path string, stderr io.Writer) (explainedFile, error) {
	servers, err := discovery.ParseConfig(path)
	switch {
	case err != nil && len(servers) == 0:
		return explainedFile{}, err
	case err != nil:
		fmt.Fprintf(stderr, "mcpwarden risk explain: %s: %v (the other servers are judged)\n", path, err)
	case len(servers) == 0:
		return explainedFile{}, errors.New("no MCP servers found (looked for every client's server keys, a server entry and a report body)")
	}
	// The body the agent sends, read as the server reads it.
	wire, err := json.Marshal(agentreport.Body(servers))
	if err != nil {
		return explainedFile{}, err
	}
	var body gen.ReportServersJSONRequestBody
	if err := json.Unmarshal(wire, &body); err != nil {
		return explainedFile{}, err
	}
	stored, assessments, err := ingest.AssessReport(impl.ReportedServers(body.Servers))
	if err != nil {
		return explainedFile{}, err
	}
	return explainedFile{Path: path, Servers: stored, Assessments: assessments}, nil
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
		for j, srv := range r.Servers {
			a := r.Assessments[j]
			name := srv.ServerName
			if srv.Enabled != nil && !*srv.Enabled {
				// Disabled servers are still judged: one click turns them back on.
				name += " (disabled)"
			}
			fmt.Fprintf(w, "\n%-8s %3d  %s  %s\n", strings.ToUpper(a.Level), a.Score, name, launchSummary(srv))
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

func launchSummary(srv db.ReportServer) string {
	s := srv.Command
	if s == "" && srv.URL != nil {
		s = *srv.URL
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
		Enabled bool          `json:"enabled"`
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
		for i, srv := range r.Servers {
			a := r.Assessments[i]
			url := ""
			if srv.URL != nil {
				url = *srv.URL
			}
			enabled := srv.Enabled == nil || *srv.Enabled
			f.Servers = append(f.Servers, server{srv.ServerName, srv.ServerType, srv.Command, url, enabled, a.Level, a.Score, a.Factors})
		}
		out = append(out, f)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}
