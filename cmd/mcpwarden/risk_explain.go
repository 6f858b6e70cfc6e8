package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mcpwarden/mcpwarden/cmd/internal/riskreport"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
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
	threshold := ""
	if *failOn != "" {
		var err error
		if threshold, err = riskreport.ParseLevel(*failOn); err != nil {
			fmt.Fprintf(stderr, "mcpwarden risk explain: --fail-on: %v\n", err)
			return 2
		}
	}

	var reports []riskreport.File
	for _, path := range fs.Args() {
		r, err := explainFile(path, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "mcpwarden risk explain: %s: %v\n", path, err)
			return 1
		}
		reports = append(reports, r)
	}

	if *asJSON {
		riskreport.WriteJSON(stdout, reports)
	} else {
		riskreport.WriteTable(stdout, reports, *details, func(p string) string { return p })
	}
	if threshold != "" && riskreport.AtOrAbove(reports, threshold) > 0 {
		return 3
	}
	return 0
}

// explainFile reads a file as the agent does (discovery.ParseConfig: any client's
// configuration, a server entry or a report body) and judges the report the agent would send
// of it as the server does (riskreport.Assess). Problems with some of a file's entries are
// warned about; the others are still judged.
func explainFile(path string, stderr io.Writer) (riskreport.File, error) {
	servers, err := discovery.ParseConfig(path)
	switch {
	case err != nil && len(servers) == 0:
		return riskreport.File{}, err
	case err != nil:
		fmt.Fprintf(stderr, "mcpwarden risk explain: %s: %v (the other servers are judged)\n", path, err)
	case len(servers) == 0:
		return riskreport.File{}, errors.New("no MCP servers found (looked for every client's server keys, a server entry and a report body)")
	}
	stored, assessments, err := riskreport.Assess(servers)
	if err != nil {
		return riskreport.File{}, err
	}
	return riskreport.File{Path: path, Servers: stored, Assessments: assessments}, nil
}
