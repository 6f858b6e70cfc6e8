// Package riskreport judges the servers mcpwarden-agent finds as the server judges the report the
// agent sends of them (ingest.AssessReport, the risk engine), and prints the judgement as a
// table, JSON or SARIF: `mcpwarden risk explain` and `mcpwarden-agent scan --risk` share it.
package riskreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mcpwarden/mcpwarden/cmd/internal/agentreport"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// File is the judgement on the servers of one configuration file, in its order.
type File struct {
	Path        string
	Servers     []db.ReportServer
	Assessments []risk.Assessment
}

// Assess judges servers together, as one agent's report: normalized and redacted again as the
// server stores them, then scored (a toxic combination spans servers).
func Assess(servers []discovery.Server) ([]db.ReportServer, []risk.Assessment, error) {
	body := agentreport.Body(servers)
	in := make([]ingest.ReportedServer, len(body.Servers))
	for i, r := range body.Servers {
		in[i] = ingest.ReportedServer{
			ServerName: r.ServerName, ServerType: r.ServerType, Command: r.Command, Scope: r.Scope,
			Client: r.Client, ConfigPath: r.ConfigPath, URL: r.Url, Args: r.Args, EnvVars: r.EnvVars, Enabled: r.Enabled,
		}
		if r.Transport != nil {
			t := string(*r.Transport)
			in[i].Transport = &t
		}
	}
	return ingest.AssessReport(in)
}

// ByConfigPath groups judged servers by the file they were found in, files in order of first
// appearance.
func ByConfigPath(servers []db.ReportServer, assessments []risk.Assessment) []File {
	var files []File
	index := map[string]int{}
	for i, srv := range servers {
		path := ""
		if srv.ConfigPath != nil {
			path = *srv.ConfigPath
		}
		j, ok := index[path]
		if !ok {
			j = len(files)
			index[path] = j
			files = append(files, File{Path: path})
		}
		files[j].Servers = append(files[j].Servers, srv)
		files[j].Assessments = append(files[j].Assessments, assessments[i])
	}
	return files
}

// levelRank orders levels so that a threshold of high also catches critical.
var levelRank = map[string]int{risk.Low: 0, risk.Medium: 1, risk.High: 2, risk.Critical: 3}

// ParseLevel checks a level given on the command line (any case).
func ParseLevel(s string) (string, error) {
	l := strings.ToLower(s)
	if _, ok := levelRank[l]; !ok {
		return "", fmt.Errorf("%q is not a risk level: critical, high, medium or low", s)
	}
	return l, nil
}

// AtOrAbove counts the servers at level or above.
func AtOrAbove(files []File, level string) int {
	n := 0
	for _, f := range files {
		for _, a := range f.Assessments {
			if levelRank[a.Level] >= levelRank[level] {
				n++
			}
		}
	}
	return n
}

// WriteTable prints each file's servers, most of a line each, with their factors below;
// details adds what can go wrong and what to do under each factor. displayPath shortens paths.
func WriteTable(w io.Writer, files []File, details bool, displayPath func(string) string) {
	for i, r := range files {
		if i > 0 {
			fmt.Fprintln(w)
		}
		counts := map[string]int{}
		for _, a := range r.Assessments {
			counts[a.Level]++
		}
		fmt.Fprintf(w, "%s: %d server(s): %d critical, %d high, %d medium, %d low\n", displayPath(r.Path), len(r.Servers),
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

// WriteJSON prints the files as [{"path", "servers": [{server_name, ..., risk_level,
// risk_score, risk_factors}]}].
func WriteJSON(w io.Writer, files []File) error {
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
	out := make([]file, 0, len(files))
	for _, r := range files {
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
	return enc.Encode(out)
}
