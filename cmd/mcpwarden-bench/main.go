// Command mcpwarden-bench is `make bench`: on this machine, in one run, it measures what
// PostgreSQL itself does with a naive implementation's SQL (pgbench) and what mcpwarden does with
// the same operations (driven by mcpwarden-loadgen, or wrk where it pushes harder), prints each
// server figure as a ratio to its pgbench counterpart, and writes BENCHMARKS.md. Nothing in that
// file is typed by hand. It starts its own servers on a fresh data directory and removes
// everything when it ends.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type opts struct {
	bin          string
	out          string
	agents       int
	concurrency  int
	phase        time.Duration
	pgPhase      time.Duration
	pgClients    []int
	seedAgents   int
	seedServers  int
	skipSeed     bool
	keepTmp      bool
	queryN       int
	fleetAgents  int
	fleetRate    float64
	searchTerm   string
	skipProfiles bool
	explainOver  float64
	queryBudget  time.Duration
	only         string
	// the fleet-capacity phase
	skipFleet    bool
	fleetStart   int
	fleetMax     int
	fleetBisect  int
	fleetWarmup  time.Duration
	fleetWindow  time.Duration
	fleetBudget  time.Duration
	fleetServers int
	fleetChanged float64
}

// bench carries the run's state: the temp directory, the running server and the figures.
type bench struct {
	o       opts
	tmp     string
	dataDir string
	pgbench string
	wrk     string
	// templates is the file of changed-report bodies for wrk ("" until written).
	templates string
	mon       *sql.DB
	srv       *serverProc
	serial    int
	r         *report
	// the seeded organization's admin
	seedEmail, seedPassword string
}

func main() {
	var o opts
	clients := "8,16,32,64"
	flag.StringVar(&o.bin, "bin", "bin", "directory holding mcpwarden and mcpwarden-loadgen")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.IntVar(&o.agents, "agents", 10000, "agents enrolled for the throughput phases (and rows in pgbench's tables)")
	flag.IntVar(&o.concurrency, "concurrency", 64, "connections for the server phases")
	flag.DurationVar(&o.phase, "phase", 20*time.Second, "length of each timed server phase")
	flag.DurationVar(&o.pgPhase, "pgbench-phase", 8*time.Second, "length of each pgbench run")
	flag.StringVar(&clients, "pgbench-clients", clients, "pgbench client counts to try (the best TPS counts)")
	flag.IntVar(&o.seedAgents, "seed-agents", 100000, "agents for the million-row query phase")
	flag.IntVar(&o.seedServers, "seed-servers-per-agent", 10, "servers per seeded agent")
	flag.BoolVar(&o.skipSeed, "skip-seed", false, "skip the million-row query phase")
	flag.BoolVar(&o.keepTmp, "keep", false, "keep the temporary directory (server logs, data) for inspection")
	flag.IntVar(&o.queryN, "query-requests", 100, "timed requests per dashboard/list query")
	flag.DurationVar(&o.queryBudget, "query-budget", 8*time.Second, "most time spent timing one query")
	flag.IntVar(&o.fleetAgents, "fleet-agents", 100000, "fleet size the steady-state phase simulates")
	flag.StringVar(&o.searchTerm, "search", "git", "search term for the list queries")
	flag.BoolVar(&o.skipProfiles, "skip-profiles", false, "do not profile missed targets")
	flag.Float64Var(&o.explainOver, "explain-over", 0, "also collect plans for queries whose p99 exceeds this many ms (diagnostics)")
	flag.StringVar(&o.only, "only", "", "run one phase only: fleet (the fleet-capacity search; writes BENCHMARKS-fleet.md unless --out is given)")
	flag.BoolVar(&o.skipFleet, "skip-fleet", false, "skip the fleet-capacity search")
	flag.IntVar(&o.fleetStart, "fleet-start", 100000, "fleet-capacity search: the first fleet size tried (then doubled until one fails)")
	flag.IntVar(&o.fleetMax, "fleet-max", 1000000, "fleet-capacity search: the largest fleet size tried")
	flag.IntVar(&o.fleetBisect, "fleet-bisect", 2, "fleet-capacity search: bisection steps after the first size that fails")
	flag.DurationVar(&o.fleetWarmup, "fleet-warmup", time.Minute, "fleet-capacity search: unmeasured start of each size's run (at least one heartbeat interval, so every agent was heard once)")
	flag.DurationVar(&o.fleetWindow, "fleet-window", 90*time.Second, "fleet-capacity search: measured time of each size's run")
	flag.DurationVar(&o.fleetBudget, "fleet-budget", 18*time.Minute, "fleet-capacity search: no size is started that would end past this much time")
	flag.IntVar(&o.fleetServers, "fleet-servers", 10, "fleet-capacity search: servers per agent (seeded and reported)")
	flag.Float64Var(&o.fleetChanged, "fleet-changed", 0.1, "fleet-capacity search: share of reports that change the agent's configuration")
	flag.Parse()
	switch o.only {
	case "":
	case "fleet":
		if !isFlagSet("out") {
			o.out = "BENCHMARKS-fleet.md"
		}
		o.skipFleet = false
	default:
		fatalf("--only: %q is not a phase that runs alone (fleet)", o.only)
	}
	if o.fleetStart < 1 || o.fleetMax < o.fleetStart || o.fleetMax > 1_000_000 || o.fleetBisect < 0 {
		fatalf("--fleet-start must be at least 1, --fleet-max between it and 1,000,000, --fleet-bisect at least 0")
	}
	if o.fleetWindow < 10*time.Second || o.fleetWarmup < 0 || o.fleetServers < 1 || o.fleetServers > 500 || o.fleetChanged < 0 || o.fleetChanged > 1 {
		fatalf("--fleet-window at least 10s, --fleet-warmup at least 0, --fleet-servers 1..500, --fleet-changed 0..1")
	}
	for _, c := range strings.Split(clients, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(c), &n); err != nil || n < 1 {
			fatalf("--pgbench-clients: %q is not a client count", c)
		}
		o.pgClients = append(o.pgClients, n)
	}
	// 100,000 agents heartbeating every 60 s and reporting every 15 minutes.
	o.fleetRate = float64(o.fleetAgents)/60 + float64(o.fleetAgents)/900

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	b := &bench{o: o, r: newReport(o)}
	err := b.run(ctx)
	b.cleanup()
	if err != nil {
		fatalf("%v", err)
	}
}

func (b *bench) run(ctx context.Context) error {
	start := time.Now()
	var err error
	for _, name := range []string{"mcpwarden", "mcpwarden-loadgen"} {
		if _, err := os.Stat(filepath.Join(b.o.bin, name)); err != nil {
			return fmt.Errorf("%s/%s is missing: run `make bench` (it builds them)", b.o.bin, name)
		}
	}
	if b.pgbench, err = findPgbench(); err != nil {
		return err
	}
	if p, err := exec.LookPath("wrk"); err == nil {
		b.wrk = p
	} else {
		b.r.note("wrk is not installed (Debian: apt-get install wrk): every server figure comes from mcpwarden-loadgen.")
	}
	if b.tmp, err = os.MkdirTemp("", "mcpwarden-bench-"); err != nil {
		return err
	}
	// The built-in PostgreSQL runs as its own user under root and must pass through.
	if err := os.Chmod(b.tmp, 0o711); err != nil {
		return err
	}
	b.dataDir = filepath.Join(b.tmp, "data")
	step("temporary directory %s", b.tmp)

	phases := []func(context.Context) error{b.pgbenchPhase, b.serverPhases, b.settingsPhase, b.queryPhase, b.fleetPhase}
	if b.o.only == "fleet" {
		phases = phases[4:]
	}
	for _, phase := range phases {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	b.r.Elapsed = time.Since(start)
	b.r.LoadAfter = loadAvg()
	md := b.r.markdown()
	if b.o.only == "fleet" {
		md = b.r.fleetMarkdown(true)
	}
	if err := os.WriteFile(b.o.out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(b.r.summary())
	step("wrote %s in %s", b.o.out, b.r.Elapsed.Round(time.Second))
	return nil
}

// startServer starts mcpwarden on the bench's data directory and connects the monitor.
func (b *bench) startServer(ctx context.Context, label string, env ...string) error {
	b.serial++
	step("starting mcpwarden serve (%s)", label)
	srv, err := startServer(ctx, b.o.bin, b.dataDir, filepath.Join(b.tmp, fmt.Sprintf("server-%d.log", b.serial)), env...)
	if err != nil {
		return err
	}
	b.srv = srv
	sock, err := socketDir(b.dataDir)
	if err != nil {
		return err
	}
	if b.mon, err = openPG(sock); err != nil {
		return fmt.Errorf("connect to the built-in PostgreSQL at %s: %w", sock, err)
	}
	return nil
}

// stopServer stops the running server, recording its peak RSS under label.
func (b *bench) stopServer(label string) {
	if b.srv == nil {
		return
	}
	rss := b.srv.peakRSSMiB()
	b.r.RSS = append(b.r.RSS, rssFigure{Label: label, MiB: rss})
	step("stopping mcpwarden serve (peak RSS %.1f MiB)", rss)
	if b.mon != nil {
		b.mon.Close()
		b.mon = nil
	}
	if err := b.srv.stop(); err != nil {
		b.r.note(err.Error())
	}
	b.srv = nil
}

func (b *bench) cleanup() {
	if b.srv != nil {
		b.stopServer("aborted run")
	}
	if b.tmp == "" {
		return
	}
	if b.o.keepTmp {
		step("kept %s", b.tmp)
		return
	}
	// A long data path puts the socket in a directory of its own under /tmp. The fleet phase
	// has a data directory of its own.
	for _, dir := range []string{filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "fleet-data")} {
		if sock, err := socketDir(dir); err == nil && !strings.HasPrefix(sock, b.tmp) && strings.HasPrefix(filepath.Base(sock), "mcpw-pg-") {
			os.RemoveAll(sock)
		}
	}
	os.RemoveAll(b.tmp)
}

// serverCPU measures the CPU the server, its PostgreSQL and the whole machine use while fn
// runs, in cores.
func (b *bench) serverCPU(fn func() error) (cpuUse, error) {
	s0 := b.cpuSnapshot()
	err := fn()
	return b.cpuSnapshot().since(s0, runtime.NumCPU()), err
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mcpwarden-bench: "+format+"\n", args...)
	os.Exit(1)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if st, err := procMeminfo(); err == nil {
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(st)/1024/1024)
	}
	return fmt.Sprintf("%d × %s%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

func procMeminfo() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var kb int64
	_, err = fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
	return kb, err
}
