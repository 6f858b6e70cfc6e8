package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcpwarden/mcpwarden/cmd/internal/riskreport"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// errRiskAtThreshold is scan --fail-on's verdict: the exit status is 3, as for
// `mcpwarden risk explain --fail-on`, apart from errors (1) and usage (2).
var errRiskAtThreshold = errors.New("risk at or above the --fail-on level")

// riskFlags are scan's judgement flags. The judgement runs the server's engine on this
// machine; scan sends nothing whatever they say.
type riskFlags struct {
	risk, details  bool
	format, failOn string
}

func (f *riskFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.risk, "risk", false, "judge each server with the server's risk engine (level, score, factors), offline")
	fs.BoolVar(&f.details, "details", false, "with --risk, print each factor's detail (what can go wrong, what to do)")
	fs.StringVar(&f.format, "format", "text", "with --risk: text, json or sarif (SARIF 2.1.0, for code scanning); json or sarif imply --risk")
	fs.StringVar(&f.failOn, "fail-on", "", "exit with status 3 when a server is at this `level` or above: critical, high, medium or low (implies --risk)")
}

// check validates the flags and works out what they imply; its error is a usage error.
func (f *riskFlags) check(asJSON bool) error {
	switch f.format {
	case "text":
		if asJSON && f.risk {
			f.format = "json"
		}
	case "json", "sarif":
		f.risk = true
	default:
		return fmt.Errorf("--format must be text, json or sarif, not %q", f.format)
	}
	if f.failOn != "" {
		level, err := riskreport.ParseLevel(f.failOn)
		if err != nil {
			return fmt.Errorf("--fail-on: %w", err)
		}
		f.failOn, f.risk = level, true
	}
	return nil
}

func (f *riskFlags) judged() bool { return f.risk }

// scanRisk judges what the scan found as one report, as the server does once the agent has
// sent it, and prints the judgement grouped by configuration file.
func scanRisk(stdout io.Writer, res discovery.Result, f riskFlags, home string) error {
	stored, assessments, err := riskreport.Assess(res.Servers)
	if err != nil {
		return fmt.Errorf("judge the servers found: %w", err)
	}
	files := riskreport.ByConfigPath(stored, assessments)
	switch f.format {
	case "json":
		err = riskreport.WriteJSON(stdout, files)
	case "sarif":
		notices := make([]riskreport.Notice, len(res.Findings))
		for i, fd := range res.Findings {
			notices[i] = riskreport.Notice{Path: fd.Path, Message: fd.Client + ": " + fd.Error}
		}
		cwd, _ := os.Getwd()
		err = riskreport.WriteSARIF(stdout, files, notices, riskreport.Tool{Name: "mcpwarden-agent", Version: version, InformationURI: "https://github.com/mcpwarden/mcpwarden"}, cwd)
	default:
		riskreport.WriteTable(stdout, files, f.details, func(p string) string { return tildePath(p, home) })
		fmt.Fprintf(stdout, "\n%d servers judged on this machine; nothing was sent.\n", len(stored))
		if len(res.Findings) > 0 {
			fmt.Fprintf(stdout, "\n%d files could not be read:\n", len(res.Findings))
			for _, fd := range res.Findings {
				fmt.Fprintf(stdout, "  %s  %s: %s\n", fd.Client, tildePath(fd.Path, home), fd.Error)
			}
		}
	}
	if err != nil {
		return err
	}
	if f.failOn != "" {
		if n := riskreport.AtOrAbove(files, f.failOn); n > 0 {
			return fmt.Errorf("%d server(s) at %s or above: %w", n, f.failOn, errRiskAtThreshold)
		}
	}
	return nil
}
