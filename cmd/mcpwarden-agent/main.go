// Command mcpwarden-agent finds the MCP servers configured on a machine and
// reports them to an mcpwarden server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.2.0-dev"

const usage = `mcpwarden-agent finds the MCP servers configured on this machine.

Usage:
  mcpwarden-agent scan [flags]      print what is found; sends nothing
  mcpwarden-agent scan --risk [--format text|json|sarif] [--fail-on LEVEL]
                                    judge it as the server would, on this machine
  mcpwarden-agent enroll [flags]    get this machine's own key with an enrolment secret
  mcpwarden-agent run [flags]       report to an mcpwarden server
  mcpwarden-agent version

Run "mcpwarden-agent <command> -h" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "scan":
		err = scanCmd(args[1:], stdout, stderr)
	case "enroll":
		err = enrollCmd(ctx, args[1:], stdout, stderr)
	case "run":
		err = runCmd(ctx, args[1:], stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "mcpwarden-agent %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if err != errUsage { // a bare errUsage was already explained by the flag package
			fmt.Fprintf(stderr, "mcpwarden-agent: %s\n", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		}
		return 2
	case errors.Is(err, errRiskAtThreshold):
		fmt.Fprintf(stderr, "mcpwarden-agent: %v\n", err)
		return 3
	}
	fmt.Fprintf(stderr, "mcpwarden-agent: %v\n", err)
	return 1
}

var errUsage = errors.New("usage")

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// scanFlags are shared by scan and run: what to look at.
type scanFlags struct {
	home, osName, root, usersDir string
	projectRoots                 stringList
	projectDepth                 int
	allUsers                     bool
}

func (f *scanFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.home, "home", "", "scan this home `dir` instead of this machine's user (a copied or mounted home)")
	fs.StringVar(&f.osName, "os", "", "how --home is laid out: linux, darwin or windows (default: this machine's)")
	fs.StringVar(&f.root, "root", "", "`dir` where system files are found (a mounted disk image); admin-managed files are read under it")
	fs.Var(&f.projectRoots, "project-root", "`dir` holding projects to search for project-scope configs (repeatable)")
	fs.IntVar(&f.projectDepth, "project-depth", 2, "folder levels below a project root that may be projects")
	fs.BoolVar(&f.allUsers, "all-users", false, "scan every user's home (needs root or SYSTEM)")
	fs.StringVar(&f.usersDir, "users-dir", "", "`dir` holding the homes --all-users scans (default /home, /Users or C:\\Users)")
}

func (f *scanFlags) options() (discovery.Options, error) {
	if f.osName != "" && f.home == "" && f.root == "" && f.osName != runtime.GOOS {
		return discovery.Options{}, fmt.Errorf("--os %s needs --home or --root: this machine is %s: %w", f.osName, runtime.GOOS, errUsage)
	}
	depth := f.projectDepth
	if depth == 0 {
		depth = -1 // the flag's 0 means "only the roots"; the option's 0 means the default
	}
	return discovery.Options{
		Home:         f.home,
		OS:           f.osName,
		ProjectRoots: f.projectRoots,
		ProjectDepth: depth,
		AllUsers:     f.allUsers,
		UsersDir:     f.usersDir,
		Root:         f.root,
		Live:         f.home == "" && f.root == "",
	}, nil
}

func scanCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf scanFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the report body ({\"servers\": [...]}) plus the parse findings as JSON (with --risk, the judgement as JSON)")
	var rf riskFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	if err := rf.check(*asJSON); err != nil {
		fmt.Fprintf(stderr, "mcpwarden-agent scan: %v\n", err)
		return errUsage
	}
	opts, err := sf.options()
	if err != nil {
		return err
	}
	res, err := discovery.Scan(opts)
	if err != nil {
		return err
	}
	if rf.judged() {
		return scanRisk(stdout, res, rf, displayPath(opts.Home))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printTable(stdout, res, displayPath(opts.Home))
	return nil
}

// displayPath is the home whose paths are shown as ~/...: the scanned one, or this user's.
func displayPath(home string) string {
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return home
}

func printTable(w io.Writer, res discovery.Result, home string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSERVER\tTRANSPORT\tTYPE\tENABLED\tENV\tCONFIG\tCOMMAND")
	clients := map[string]bool{}
	for _, s := range res.Servers {
		clients[s.Client] = true
		enabled := "yes"
		if !s.Enabled {
			enabled = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Client, clip(s.ServerName, 28, false), dash(s.Transport),
			clip(dash(s.ServerType), 42, false), enabled, clip(dash(strings.Join(s.EnvVars, ",")), 32, false),
			clip(tildePath(s.ConfigPath, home), 56, true), dash(s.Command))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d servers from %d clients in %d files.\n", len(res.Servers), len(clients), len(res.Files))
	if len(res.Findings) > 0 {
		fmt.Fprintf(w, "\n%d files could not be read:\n", len(res.Findings))
		for _, f := range res.Findings {
			fmt.Fprintf(w, "  %s  %s: %s\n", f.Client, tildePath(f.Path, home), f.Error)
		}
	}
}

// clip shortens a cell for the table; --json has the full values. Paths
// keep their end, which names the file.
func clip(s string, n int, keepEnd bool) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if keepEnd {
		return "…" + string(r[len(r)-n+1:])
	}
	return string(r[:n-1]) + "…"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tildePath shortens paths under the scanned home for reading.
func tildePath(p, home string) string {
	if home == "" {
		return p
	}
	rel, err := filepath.Rel(home, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return "~/" + filepath.ToSlash(rel)
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
