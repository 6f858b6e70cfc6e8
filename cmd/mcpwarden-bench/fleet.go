package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The fleet-capacity targets: the largest fleet whose heartbeats and reports keep their p99
// within fleetP99Target while the server and PostgreSQL together use at most fleetCPUTarget of
// the machine's cores.
const (
	fleetP99Target    = 100.0 // ms
	fleetCPUTarget    = 0.5   // share of the machine's cores
	fleetAgentsTarget = 1_000_000
)

// fleetStep is one fleet size tried by the capacity search.
type fleetStep struct {
	Agents   int
	Results  *lgResults
	CPU      cpuUse
	Upd, HOT int64 // agents rows updated in the measured window, and how many of those HOT
	Xacts    int64 // transactions committed in the server's database in the measured window
	SeedSecs float64
	Pass     bool
	Why      string // what failed
	Cmd      string
	// Profile is the server's CPU profile of fleetProfileSecs in the measured window ("": none).
	Profile string
}

// fleetProfileSecs is how long each fleet size's server is profiled; the report shows the profile
// of the smallest size not sustained, which says what bounds the capacity.
const fleetProfileSecs = 20

func (s fleetStep) hotRatio() float64 { return ratio(float64(s.HOT), float64(s.Upd)) }

// fleetSearch is the capacity phase's outcome.
type fleetSearch struct {
	Steps    []fleetStep
	Best     int // largest passing fleet (0: none passed)
	FailedAt int // smallest failing fleet (0: none failed)
	Stopped  string
	SeedCmd  string
	Elapsed  time.Duration
}

// fleetPhase finds the largest fleet this machine sustains: it seeds agents (with keys, so no
// enrolment, and with the load generator's baseline inventory, so their reports are unchanged
// until they change), plays them with mcpwarden-loadgen --mode fleet at real rates and checks
// each fleet size against the targets, doubling from --fleet-start until a size fails (or
// --fleet-max passes), then bisecting --fleet-bisect times between the last size that passed and
// the first that failed. Fleets only grow in the database: a smaller size plays the first agents
// of the keys file, the others stay silent. The server restarts for each size, so every size
// starts with cold caches and the warm-up covers every agent's first heartbeat.
func (b *bench) fleetPhase(ctx context.Context) error {
	if b.o.skipFleet {
		return nil
	}
	start := time.Now()
	fs := &fleetSearch{}
	b.r.FleetCapacity = fs
	b.dataDir = filepath.Join(b.tmp, "fleet-data")
	keys, baseline := filepath.Join(b.tmp, "fleet-keys"), filepath.Join(b.tmp, "fleet-baseline.json")
	if _, _, err := runLoadgen(ctx, b.o.bin, b.tmp, "fleet-baseline", "--baseline-report", baseline, "--servers", strconv.Itoa(b.o.fleetServers)); err != nil {
		return err
	}
	seeded := 0
	var seedRate float64 // agents per second, once known
	try := func(n int) (bool, error) {
		// Will this size fit in the budget? Seeding the new agents, then the run and restarts.
		est := b.o.fleetWarmup + b.o.fleetWindow + 30*time.Second
		if seedRate > 0 && n > seeded {
			est += time.Duration(float64(n-seeded) / seedRate * float64(time.Second))
		}
		if time.Since(start)+est > b.o.fleetBudget {
			fs.Stopped = fmt.Sprintf("stopped before trying %d agents: it would have taken about %s more, past the %s budget (--fleet-budget)",
				n, est.Round(time.Second), b.o.fleetBudget)
			return false, errBudget
		}
		st := fleetStep{Agents: n}
		if n > seeded {
			args := []string{"seed", "--org", "Fleet", "--agents", strconv.Itoa(n - seeded), "--report", baseline,
				"--keys-file", keys, "--keys-append"}
			fs.SeedCmd = "mcpwarden " + strings.Join(args, " ")
			step("fleet: seeding %d more agents (%d in all)", n-seeded, n)
			cmd := exec.CommandContext(ctx, filepath.Join(b.o.bin, "mcpwarden"), args...)
			cmd.Env = append(os.Environ(), "MCPWARDEN_DATA_DIR="+b.dataDir, "MCPWARDEN_LOG_LEVEL=warn")
			t0 := time.Now()
			if err := streamCmd(cmd); err != nil {
				return false, fmt.Errorf("%s: %w", fs.SeedCmd, err)
			}
			st.SeedSecs = time.Since(t0).Seconds()
			seedRate = float64(n-seeded) / st.SeedSecs
			seeded = n
		}
		// Seeded agents last heartbeated when they were written, up to the whole seed ago: the
		// offline alert waits longer than that, so it neither fires nor resolves during the
		// measurement (its sweep still runs, at its cost).
		if err := b.startServer(ctx, fmt.Sprintf("fleet of %d", n), "MCPWARDEN_AGENT_OFFLINE_AFTER=60m"); err != nil {
			return false, err
		}
		if b.r.PGVersion == "" {
			b.mon.QueryRowContext(ctx, `SHOW server_version`).Scan(&b.r.PGVersion)
		}
		defer b.stopServer(fmt.Sprintf("fleet of %d agents", n))
		if err := b.runFleetStep(ctx, &st, keys); err != nil {
			return false, err
		}
		fs.Steps = append(fs.Steps, st)
		return st.Pass, nil
	}

	lo, hi, err := searchFleet(b.o.fleetStart, b.o.fleetMax, b.o.fleetBisect, try)
	if err != nil && err != errBudget {
		return err
	}
	for _, st := range fs.Steps {
		if st.Agents == hi && st.Profile != "" {
			b.summarizeProfile(ctx, fmt.Sprintf("a fleet of %d agents, the smallest not sustained", hi), fleetProfileSecs, st.Profile)
		}
	}
	fs.Best, fs.FailedAt, fs.Elapsed = lo, hi, time.Since(start)
	return nil
}

var errBudget = fmt.Errorf("the fleet phase's budget is spent")

// searchFleet doubles the fleet size from start until try fails one (or passes max), then
// bisects between the last size that passed (lo, 0 if none) and the first that failed (hi, 0 if
// none) bisect times, sizes rounded to two significant digits. try's error ends the search;
// lo and hi are then what was established.
func searchFleet(start, maxN, bisect int, try func(n int) (bool, error)) (lo, hi int, err error) {
	for n := start; ; n = min(2*n, maxN) {
		ok, err := try(n)
		if err != nil {
			return lo, hi, err
		}
		if !ok {
			hi = n
			break
		}
		lo = n
		if n >= maxN {
			return lo, hi, nil
		}
	}
	for range bisect {
		mid := roundFleet((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		ok, err := try(mid)
		if err != nil {
			return lo, hi, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, hi, nil
}

// roundFleet rounds a fleet size to two significant digits.
func roundFleet(n int) int {
	unit := 1
	for n/unit >= 100 {
		unit *= 10
	}
	return max(n/unit*unit, 1)
}

// runFleetStep plays the first st.Agents agents of keys for the warm-up and the window, with the
// CPU and the agents table's update counters read at the window's edges.
func (b *bench) runFleetStep(ctx context.Context, st *fleetStep, keys string) error {
	step("fleet: %d agents, %v warm-up, %v measured", st.Agents, b.o.fleetWarmup, b.o.fleetWindow)
	args := []string{"--url", b.srv.url, "--mode", "fleet", "--keys", keys, "--agents", strconv.Itoa(st.Agents),
		"--servers", strconv.Itoa(b.o.fleetServers), "--changed", strconv.FormatFloat(b.o.fleetChanged, 'f', -1, 64),
		"--warmup", b.o.fleetWarmup.String(), "--duration", b.o.fleetWindow.String(), "--progress", "10s"}
	st.Cmd = "mcpwarden-loadgen " + strings.Join(args[2:], " ")
	done := make(chan error, 1)
	var res *lgResults
	go func() {
		var err error
		res, _, err = runLoadgen(ctx, b.o.bin, b.tmp, fmt.Sprintf("fleet-%d", st.Agents), args...)
		done <- err
	}()
	var cpu0 cpuSnap
	var upd0, hot0, xacts0 int64
	select {
	case err := <-done:
		if err == nil {
			err = fmt.Errorf("%s ended before its warm-up did", st.Cmd)
		}
		return err
	case <-time.After(b.o.fleetWarmup):
		cpu0 = b.cpuSnapshot()
		upd0, hot0 = b.agentUpdates(ctx)
		xacts0 = b.committed(ctx)
	}
	profiled := make(chan string, 1)
	go func() {
		path := filepath.Join(b.tmp, fmt.Sprintf("fleet-%d.pprof", st.Agents))
		if err := b.fetchProfile(path, fleetProfileSecs); err != nil {
			b.r.note(fmt.Sprintf("profiling a fleet of %d agents: %v", st.Agents, err))
			path = ""
		}
		profiled <- path
	}()
	if err := <-done; err != nil {
		return err
	}
	st.CPU = b.cpuSnapshot().since(cpu0, runtime.NumCPU())
	st.Profile = <-profiled
	st.Xacts = b.committed(ctx) - xacts0
	// The flush after the window's last heartbeats, and PostgreSQL's statistics (sent when a
	// backend is idle, at most once a second), land within a few seconds.
	time.Sleep(3 * time.Second)
	upd1, hot1 := b.agentUpdates(ctx)
	st.Upd, st.HOT = upd1-upd0, hot1-hot0
	st.Results = res
	st.Pass, st.Why = b.fleetVerdict(st)
	verdict := "sustained"
	if !st.Pass {
		verdict = "not sustained: " + st.Why
	}
	step("fleet: %d agents %s (server and PostgreSQL %.2f cores, machine %.2f, HOT %d of %d agent updates)",
		st.Agents, verdict, st.CPU.Server+st.CPU.Postgres, st.CPU.Machine, st.HOT, st.Upd)
	return nil
}

// fleetVerdict says whether a step met the targets, and if not, why.
func (b *bench) fleetVerdict(st *fleetStep) (bool, string) {
	r := st.Results
	var why []string
	hb, rep := r.Endpoint("heartbeat"), r.Endpoint("report")
	if hb.P99Ms > fleetP99Target {
		why = append(why, fmt.Sprintf("heartbeat p99 %.1f ms", hb.P99Ms))
	}
	if rep.P99Ms > fleetP99Target {
		why = append(why, fmt.Sprintf("report p99 %.1f ms", rep.P99Ms))
	}
	if cores := st.CPU.Server + st.CPU.Postgres; cores > fleetCPUTarget*float64(runtime.NumCPU()) {
		why = append(why, fmt.Sprintf("server and PostgreSQL %.2f cores", cores))
	}
	if r.Errors > 0 {
		why = append(why, fmt.Sprintf("%d errors", r.Errors))
	}
	if r.Fleet != nil && r.Fleet.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d requests dropped", r.Fleet.Dropped))
	}
	if hb.Requests == 0 {
		why = append(why, "no heartbeats measured")
	}
	return len(why) == 0, strings.Join(why, ", ")
}

// committed reads how many transactions the server's database has committed.
func (b *bench) committed(ctx context.Context) (n int64) {
	b.mon.QueryRowContext(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n
}

// agentUpdates reads the agents table's cumulative update counters.
func (b *bench) agentUpdates(ctx context.Context) (upd, hot int64) {
	b.mon.QueryRowContext(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'agents'`).Scan(&upd, &hot)
	return upd, hot
}

// fleetTarget is the capacity search's row of the targets table.
func (r *report) fleetTarget() targetRow {
	name := fmt.Sprintf("Fleet capacity: agents sustained with heartbeat and report p99 ≤ %.0f ms, server and PostgreSQL ≤ %.0f%% of the cores",
		fleetP99Target, 100*fleetCPUTarget)
	goal := fmt.Sprintf("≥ %d agents", fleetAgentsTarget)
	fs := r.FleetCapacity
	if fs == nil || len(fs.Steps) == 0 {
		return targetRow{name, "not measured", "", "", goal, nil}
	}
	measured := fmt.Sprintf("%d agents", fs.Best)
	if fs.FailedAt > 0 {
		measured += fmt.Sprintf(" (%d did not)", fs.FailedAt)
	} else if fs.Stopped != "" {
		measured += " (search stopped by its budget)"
	}
	if best := fs.step(fs.Best); best != nil {
		measured += fmt.Sprintf("; heartbeat flush updates %.1f%% HOT", 100*best.hotRatio())
	}
	return targetRow{name, measured, "", "", goal, yes(fs.Best >= fleetAgentsTarget)}
}

func (fs *fleetSearch) step(n int) *fleetStep {
	for i := range fs.Steps {
		if fs.Steps[i].Agents == n {
			return &fs.Steps[i]
		}
	}
	return nil
}

// fleetMarkdown is the capacity search's section; standalone adds the header and target row a
// file of its own needs (--only fleet).
func (r *report) fleetMarkdown(standalone bool) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	fs := r.FleetCapacity
	if standalone {
		w("# mcpwarden fleet capacity\n\n")
		w("Written by `mcpwarden-bench --only fleet` on %s in %s. Commit `%s`; %s; PostgreSQL %s; Go %s. Load average at start %s, at end %s.\n\n",
			r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Elapsed.Round(time.Second), r.Commit, machine(), r.PGVersion, runtime.Version(), r.LoadStart, r.LoadAfter)
		t := r.fleetTarget()
		w("| target | measured | goal | |\n|---|---|---|---|\n| %s | %s | %s | %s |\n", t.name, t.measured, t.goal, mark(t.met))
	}
	w("\n## Fleet capacity\n\n")
	if fs == nil || len(fs.Steps) == 0 {
		if fs != nil && fs.Stopped != "" {
			w("Not measured: %s.\n", fs.Stopped)
		} else {
			w("Not measured (`--skip-fleet`).\n")
		}
		return b.String()
	}
	w("The largest fleet of distinct agents this machine sustains with real rates: every agent heartbeats every 60 s and reports every 15 minutes (both ±10%%, from random phases), %.0f%% of reports a change of configuration (every other change raising an alert), the rest unchanged; %d servers per agent. ", 100*r.o.fleetChanged, r.o.fleetServers)
	w("The agents are seeded with `mcpwarden seed` (keys written to a file, no enrolment; every agent holding the load generator's baseline inventory) and played by `mcpwarden-loadgen --mode fleet`, open-loop: each request has a scheduled time and its latency runs from that time, so queueing shows; at most 512 requests are in flight, a request over 5 s behind is dropped. The requests share the load generator's keep-alive connections; real agents, a minute apart, mostly open a connection (TLS in production) for each, which costs a server more than measured here. ")
	w("Each size runs on a freshly started server (cold caches) for a %v warm-up, unmeasured, so every agent has been heard once, then %v measured. ", r.o.fleetWarmup, r.o.fleetWindow)
	w("A size is sustained when the heartbeats' and the reports' p99 are within %.0f ms, the server and PostgreSQL together use at most %.0f%% of the %d cores (the load generator, whose CPU is shown apart, and other work on the machine are not counted), and no request failed or was dropped. ",
		fleetP99Target, 100*fleetCPUTarget, runtime.NumCPU())
	w("The search doubles from %d agents until a size is not sustained (or %d is), then bisects %d times between the last sustained size and the first that was not; it starts no size that would end past its %v budget. The offline alert is set to 60 minutes so that agents seeded minutes earlier do not raise it; its sweep runs.\n\n",
		r.o.fleetStart, r.o.fleetMax, r.o.fleetBisect, r.o.fleetBudget)
	w("| agents | offered req/s | heartbeat p99 ms | report p99 ms (unchanged / changed) | server + PostgreSQL cores | machine cores | load generator cores | late | dropped | errors | database transactions per request | agent updates HOT | seeded in | |\n")
	w("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n")
	for _, st := range fs.Steps {
		res := st.Results
		hb, rep := res.Endpoint("heartbeat"), res.Endpoint("report")
		un, ch := res.Endpoint("report_unchanged"), res.Endpoint("report_changed")
		var late, dropped uint64
		var gen float64
		if res.Fleet != nil {
			late, dropped, gen = res.Fleet.Late, res.Fleet.Dropped, res.Fleet.GeneratorCores
		}
		verdict := "**sustained**"
		if !st.Pass {
			verdict = "not sustained: " + st.Why
		}
		seed := ""
		if st.SeedSecs > 0 {
			seed = fmt.Sprintf("%.0f s", st.SeedSecs)
		}
		w("| %d | %.0f | %.2f | %.2f (%.2f / %.2f) | %.2f | %.2f | %.2f | %d | %d | %d | %.3f | %d of %d (%.1f%%) | %s | %s |\n",
			st.Agents, ratioOrZero(res), hb.P99Ms, rep.P99Ms, un.P99Ms, ch.P99Ms, st.CPU.Server+st.CPU.Postgres, st.CPU.Machine, gen,
			late, dropped, res.Errors, ratio(float64(st.Xacts), float64(res.Requests)), st.HOT, st.Upd, 100*st.hotRatio(), seed, verdict)
	}
	w("\nLargest fleet sustained: **%d agents**", fs.Best)
	if fs.FailedAt > 0 {
		w("; the smallest size tried that was not: %d", fs.FailedAt)
	}
	w(". The search took %s.", fs.Elapsed.Round(time.Second))
	if fs.Stopped != "" {
		w(" The search %s.", fs.Stopped)
	}
	w(" \"agent updates HOT\" counts the agents table's updates in the measured window (pg_stat_user_tables: heartbeat flushes, and the reports' own) and how many were heap-only, writing no index entry. \"database transactions per request\" divides the transactions committed in the server's database in the window (pg_stat_database, the server's background work included) by the requests measured. \"late\" requests started over 10 ms after their scheduled time.\n\n")
	w("```sh\n%s\n%s\n```\n", fs.SeedCmd, fs.Steps[len(fs.Steps)-1].Cmd)
	return b.String()
}

func ratioOrZero(r *lgResults) float64 {
	if r.Fleet == nil {
		return 0
	}
	return r.Fleet.OfferedRPS
}
