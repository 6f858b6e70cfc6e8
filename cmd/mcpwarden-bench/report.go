package main

import (
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The performance targets, on a 2-core machine.
const (
	hbRatioTarget        = 2.5
	hbP99Target          = 25.0 // ms, at 64 connections
	hbStatementsTarget   = 1.0 / 500
	unchangedRatioTarget = 2.0
	changedRatioTarget   = 0.5
	listP99Target        = 50.0 // ms
	dashboardP99Target   = 25.0 // ms
	rssTargetMB          = 200.0
	validationCostTarget = 0.20
)

type rssFigure struct {
	Label string
	MiB   float64
}

type profileSummary struct {
	Name string
	Secs int
	Top  string
}

// report holds every figure BENCHMARKS.md shows; nothing in it is typed by hand.
type report struct {
	o         opts
	Started   time.Time
	Elapsed   time.Duration
	Commit    string
	PGVersion string
	LoadStart string
	LoadAfter string
	Notes     []string

	Pgbench        []pgbenchRun
	PgbenchScripts [][2]string

	Keys         string
	EnrolSeconds float64

	HBLoadgen       lgEndpoint
	HBLoadgenCmd    string
	HBLoadgenCPU    cpuUse
	HBWrk           *lgEndpoint
	HBWrkCmd        string
	HBWrkCPU        cpuUse
	HaveStatements  bool
	HBStatements    int64
	HBTopStatements []stmtCount
	WarmStatements  int64
	WarmRequests    uint64
	UnchangedDB     dbProfile
	ChangedDB       dbProfile

	Unchanged       lgEndpoint
	UnchangedCmd    string
	UnchangedCPU    cpuUse
	UnchangedWrk    *lgEndpoint
	UnchangedWrkCmd string
	UnchangedWrkCPU cpuUse
	UnchangedWrites int64
	Changed         lgEndpoint
	ChangedCmd      string
	ChangedCPU      cpuUse
	ChangedAlerts   int64
	ChangedNewRows  int64
	// The same phase driven by wrk (nil without wrk), after the load generator's.
	ChangedWrk        *lgEndpoint
	ChangedWrkCmd     string
	ChangedWrkCPU     cpuUse
	ChangedWrkDB      dbProfile
	ChangedWrkAlerts  int64
	ChangedWrkNewRows int64
	TemplatesCmd      string

	Fleet    *lgResults
	FleetCmd string
	FleetCPU cpuUse

	// Settings are the settings phase's servers: the baseline first, then each with one setting
	// changed (validation off, metrics off).
	Settings []setting

	FleetCapacity *fleetSearch

	RSS []rssFigure

	SeedSkipped     string
	SeedCmd         string
	SeedSeconds     float64
	SeedServers     int64
	SeedAgentsCount int64
	Queries         []lgEndpoint
	QueriesCmd      string
	Plans           []string

	PageLoads        []pageLoad
	PageLoadErrors   []string
	PageLoadsCmd     string
	PageLoadsSkipped string

	Exports []exportRun

	// FlushOpsPerSec and FlushUsecs are pg_test_fsync's fdatasync of one 8kB write on the data
	// directory's disk: what a commit's WAL flush costs on this machine.
	FlushOpsPerSec, FlushUsecs float64

	Profiles []profileSummary
}

func newReport(o opts) *report {
	r := &report{o: o, Started: time.Now(), LoadStart: loadAvg()}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	return r
}

func (r *report) note(s string) {
	fmt.Println("    note: " + s)
	r.Notes = append(r.Notes, s)
}

func (r *report) bestPgbench(script string) pgbenchRun {
	var best pgbenchRun
	for _, p := range r.Pgbench {
		if p.Script == script && p.TPS > best.TPS {
			best = p
		}
	}
	return best
}

// hb is the heartbeat figure that counts: the generator that pushed the server harder.
func (r *report) hb() (lgEndpoint, string) {
	if r.HBWrk != nil && r.HBWrk.RPS > r.HBLoadgen.RPS {
		return *r.HBWrk, "wrk"
	}
	return r.HBLoadgen, "mcpwarden-loadgen"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *report) hbRatio() float64 {
	hb, _ := r.hb()
	return ratio(hb.RPS, r.bestPgbench("heartbeat").TPS)
}

func (r *report) statementsPerHB() float64 {
	if r.HBStatements < 0 || r.HBLoadgen.Requests == 0 {
		return -1
	}
	return float64(r.HBStatements) / float64(r.HBLoadgen.Requests)
}

func (r *report) heartbeatMet() bool {
	hb, _ := r.hb()
	return r.hbRatio() >= hbRatioTarget && hb.P99Ms <= hbP99Target && hb.Errors == 0
}

// unchanged is the unchanged-report figure that counts: wrk's when it pushed the server harder
// and every answer it got said unchanged, else the load generator's.
func (r *report) unchanged() (lgEndpoint, string) {
	if w := r.UnchangedWrk; w != nil && w.RPS > r.Unchanged.RPS && w.Errors == 0 && w.Unexpected == 0 {
		return *w, "wrk"
	}
	return r.Unchanged, "mcpwarden-loadgen"
}

func (r *report) unchangedRatio() float64 {
	u, _ := r.unchanged()
	return ratio(u.RPS, r.bestPgbench("report").TPS)
}

func (r *report) unchangedMet() bool {
	u, _ := r.unchanged()
	return r.unchangedRatio() >= unchangedRatioTarget && r.UnchangedWrites == 0 && u.Errors == 0
}

// changed is the changed-report figure that counts: the generator that pushed the server
// harder, provided every answer wrk got was a change (fast answers that are not would flatter it).
func (r *report) changed() (lgEndpoint, string) {
	if r.wrkChangedCounts() {
		return *r.ChangedWrk, "wrk"
	}
	return r.Changed, "mcpwarden-loadgen"
}

func (r *report) wrkChangedCounts() bool {
	return r.ChangedWrk != nil && r.ChangedWrk.RPS > r.Changed.RPS && r.ChangedWrk.Unexpected == 0
}

func (r *report) changedRatio() float64 {
	c, _ := r.changed()
	return ratio(c.RPS, r.bestPgbench("report").TPS)
}

func (r *report) changedMet() bool {
	c, _ := r.changed()
	return r.changedRatio() >= changedRatioTarget && c.Errors == 0
}

// settingCost is what the baseline gives up against the server with the labelled setting changed
// (the share of heartbeat throughput), and false when that was not measured.
func (r *report) settingCost(label string) (cost float64, base, other lgEndpoint, ok bool) {
	for _, s := range r.Settings[min(1, len(r.Settings)):] {
		if s.Label == label && s.Median.RPS > 0 {
			base = r.Settings[0].Median
			return 1 - base.RPS/s.Median.RPS, base, s.Median, true
		}
	}
	return 0, lgEndpoint{}, lgEndpoint{}, false
}

// noise is the baseline's run-to-run spread: (fastest - slowest) / median of its heartbeat runs. A
// cost within it is not measurable on this machine.
func (r *report) noise() float64 {
	if len(r.Settings) == 0 || r.Settings[0].Median.RPS == 0 {
		return 0
	}
	lo, hi := math.Inf(1), 0.0
	for _, e := range r.Settings[0].Runs {
		lo, hi = min(lo, e.RPS), max(hi, e.RPS)
	}
	return (hi - lo) / r.Settings[0].Median.RPS
}

func (r *report) peakRSSMB() (float64, string) {
	var peak float64
	label := ""
	for _, f := range r.RSS {
		if mb := f.MiB * 1024 * 1024 / 1e6; mb > peak {
			peak, label = mb, f.Label
		}
	}
	return peak, label
}

func (r *report) worstQuery(dashboard bool) (lgEndpoint, bool) {
	var worst lgEndpoint
	found := false
	for _, q := range r.Queries {
		if strings.HasPrefix(q.Name, "dashboard/") != dashboard {
			continue
		}
		if !found || q.P99Ms > worst.P99Ms || q.Errors > 0 {
			worst, found = q, true
		}
	}
	return worst, found
}

type targetRow struct {
	name, measured, counterpart, ratio, goal string
	met                                      *bool
}

func yes(b bool) *bool { return &b }

func (r *report) targets() []targetRow {
	hb, gen := r.hb()
	changed, changedGen := r.changed()
	unchanged, unchangedGen := r.unchanged()
	pgHB, pgRep := r.bestPgbench("heartbeat"), r.bestPgbench("report")
	rows := []targetRow{
		{"Heartbeats: throughput", fmt.Sprintf("%.0f/s (%s)", hb.RPS, gen),
			fmt.Sprintf("pgbench UPDATE: %.0f TPS (%d clients)", pgHB.TPS, pgHB.Clients),
			fmt.Sprintf("%.2f×", r.hbRatio()), fmt.Sprintf("≥ %.1f×", hbRatioTarget), yes(r.hbRatio() >= hbRatioTarget && hb.Errors == 0)},
		{"Heartbeats: p99 at 64 connections", fmt.Sprintf("%.2f ms", hb.P99Ms), "", "",
			fmt.Sprintf("≤ %.0f ms", hbP99Target), yes(hb.P99Ms <= hbP99Target)},
	}
	if s := r.statementsPerHB(); s >= 0 {
		per := "none"
		if s > 0 {
			per = fmt.Sprintf("1 per %.0f heartbeats", 1/s)
		}
		rows = append(rows, targetRow{"Heartbeats: database statements per heartbeat", fmt.Sprintf("%.5f (%s)", s, per),
			"pgbench: 1", "", "≤ 0.002 (1 per 500)", yes(s <= hbStatementsTarget)})
	} else {
		rows = append(rows, targetRow{"Heartbeats: database statements per heartbeat", "not measured", "", "", "≤ 0.002", nil})
	}
	rows = append(rows,
		targetRow{"Unchanged reports: throughput", fmt.Sprintf("%.0f/s (%s)", unchanged.RPS, unchangedGen),
			fmt.Sprintf("pgbench 10-row upsert: %.0f TPS (%d clients)", pgRep.TPS, pgRep.Clients),
			fmt.Sprintf("%.2f×", r.unchangedRatio()), fmt.Sprintf("≥ %.1f×", unchangedRatioTarget), yes(r.unchangedRatio() >= unchangedRatioTarget && unchanged.Errors == 0)},
		targetRow{"Unchanged reports: server rows written", fmt.Sprintf("%d", r.UnchangedWrites), "", "", "0", yes(r.UnchangedWrites == 0)},
		targetRow{"Changed reports (10 servers, scored and alerted): throughput", fmt.Sprintf("%.0f/s (%s)", changed.RPS, changedGen),
			fmt.Sprintf("pgbench 10-row upsert: %.0f TPS", pgRep.TPS),
			fmt.Sprintf("%.2f×", r.changedRatio()), fmt.Sprintf("≥ %.1f×", changedRatioTarget), yes(r.changedMet())},
	)
	if len(r.Queries) > 0 {
		lq, _ := r.worstQuery(false)
		dq, _ := r.worstQuery(true)
		rows = append(rows,
			targetRow{fmt.Sprintf("`GET /mcp/servers` at %d servers: worst p99", r.SeedServers), fmt.Sprintf("%.2f ms (%s)", lq.P99Ms, lq.Name), "", "",
				fmt.Sprintf("≤ %.0f ms", listP99Target), yes(lq.P99Ms <= listP99Target && lq.Errors == 0)},
			targetRow{"Dashboard queries: worst p99", fmt.Sprintf("%.2f ms (%s)", dq.P99Ms, dq.Name), "", "",
				fmt.Sprintf("≤ %.0f ms", dashboardP99Target), yes(dq.P99Ms <= dashboardP99Target && dq.Errors == 0)},
		)
	} else {
		rows = append(rows, targetRow{"Million-row list and dashboard queries", "not measured", "", "", "p99 ≤ 50 / 25 ms", nil})
	}
	if len(r.PageLoads) > 0 {
		worst := r.PageLoads[0]
		for _, p := range r.PageLoads {
			if p.MaxMs > worst.MaxMs {
				worst = p
			}
		}
		rows = append(rows, targetRow{fmt.Sprintf("Dashboard views in Chromium at %d servers: slowest to show data", r.SeedServers), fmt.Sprintf("%.0f ms (%s)", worst.MaxMs, worst.View), "", "",
			fmt.Sprintf("≤ %d ms", pageLoadTarget), yes(worst.MaxMs <= pageLoadTarget && len(r.PageLoadErrors) == 0)})
	} else {
		rows = append(rows, targetRow{"Dashboard views in Chromium at a million servers", "not measured", "", "", fmt.Sprintf("≤ %d ms", pageLoadTarget), nil})
	}
	if len(r.Exports) > 0 {
		worst := r.Exports[0]
		for _, e := range r.Exports {
			if e.PeakMB > worst.PeakMB || e.Err != "" {
				worst = e
			}
		}
		measured := fmt.Sprintf("%.1f MB (%s, %d lines in %.1f s)", worst.PeakMB, worst.Format, worst.Lines, worst.Seconds)
		if worst.Err != "" {
			measured = "failed: " + worst.Err
		}
		rows = append(rows, targetRow{fmt.Sprintf("Export of %d servers: server peak RSS", r.SeedServers), measured, "", "",
			fmt.Sprintf("≤ %d MB", exportRSSTargetMB), yes(worst.Err == "" && worst.PeakMB <= exportRSSTargetMB)})
	}
	rows = append(rows, r.fleetTarget())
	peak, label := r.peakRSSMB()
	rows = append(rows, targetRow{"Server peak RSS (VmHWM), every server run", fmt.Sprintf("%.1f MB (%s)", peak, label), "", "",
		fmt.Sprintf("≤ %.0f MB", rssTargetMB), yes(peak <= rssTargetMB)})
	if c, on, off, ok := r.settingCost("validation off"); ok {
		rows = append(rows, targetRow{"Request validation: cost to heartbeat throughput",
			fmt.Sprintf("%.1f%% (%.0f/s on, %.0f/s off)", 100*c, on.RPS, off.RPS), "", fmt.Sprintf("on/off %.2f×", ratio(on.RPS, off.RPS)),
			fmt.Sprintf("≤ %.0f%%", 100*validationCostTarget), yes(c <= validationCostTarget)})
	}
	if c, on, off, ok := r.settingCost("metrics off"); ok {
		n := r.noise()
		rows = append(rows, targetRow{"Metrics: cost to heartbeat throughput",
			fmt.Sprintf("%.1f%% (%.0f/s on, %.0f/s off)", 100*c, on.RPS, off.RPS), "", fmt.Sprintf("on/off %.2f×", ratio(on.RPS, off.RPS)),
			fmt.Sprintf("not measurable: ≤ the baseline's run-to-run spread, %.1f%%", 100*n), yes(c <= n)})
	}
	return rows
}

func (c cpuUse) String() string {
	return fmt.Sprintf("CPU: server %.2f, PostgreSQL %.2f, machine %.2f cores", c.Server, c.Postgres, c.Machine)
}

// dbProfile is what pg_stat_statements saw the server run during a phase.
type dbProfile struct {
	Calls int64
	Top   []stmtCount
}

func wrkRequests(e *lgEndpoint) uint64 {
	if e == nil {
		return 0
	}
	return e.Requests
}

func mark(m *bool) string {
	switch {
	case m == nil:
		return "not measured"
	case *m:
		return "**met**"
	default:
		return "**missed**"
	}
}

func (r *report) summary() string {
	var b strings.Builder
	b.WriteString("Targets:\n")
	rows := r.targets()
	if r.o.only == "fleet" {
		rows = []targetRow{r.fleetTarget()}
	}
	for _, t := range rows {
		fmt.Fprintf(&b, "  %-62s %-40s %-8s %-14s %s\n", t.name, t.measured, t.ratio, t.goal, strings.Trim(mark(t.met), "*"))
	}
	return b.String()
}

func epRow(label string, e lgEndpoint, extra string) string {
	return fmt.Sprintf("| %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %d | %s |\n",
		label, e.Requests, e.RPS, e.P50Ms, e.P95Ms, e.P99Ms, e.MaxMs, e.Errors, e.Unexpected, extra)
}

const epHeader = "| | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | unexpected | |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	goVersion := runtime.Version()
	w("# mcpwarden benchmarks\n\n")
	w("Written by `make bench` (`cmd/mcpwarden-bench`) on %s in %s; every figure below comes from that run. ", r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Elapsed.Round(time.Second))
	w("To reproduce: `make bench` (about 15 minutes, plus at most %v for the fleet-capacity search, which `BENCHFLAGS=--skip-fleet` leaves out and `mcpwarden-bench --only fleet` runs alone; it starts its own servers and PostgreSQL on a fresh temporary directory and removes them).\n\n", r.o.fleetBudget)
	w("- Commit: `%s`; %s; PostgreSQL %s (the built-in cluster `mcpwarden serve` starts); Go %s.\n", r.Commit, machine(), r.PGVersion, goVersion)
	w("- Load average at start %s, at end %s. ", r.LoadStart, r.LoadAfter)
	if la := strings.Fields(r.LoadStart); len(la) > 0 {
		var l float64
		fmt.Sscan(la[0], &l)
		if l > float64(runtime.NumCPU())/2 {
			w("**Other work was running on this machine when the bench started; its figures are lower than an idle machine's.** ")
		}
	}
	w("\n- The server, PostgreSQL, pgbench and the load generators share the same %d cores, as the targets require. Server phases log at `warn` (no per-request log lines).\n", runtime.NumCPU())
	pgHB0, pgRep0 := r.bestPgbench("heartbeat"), r.bestPgbench("report")
	w("- **Commit cost of this machine**: ")
	if r.FlushUsecs > 0 {
		w("a WAL flush (pg_test_fsync, fdatasync of one 8kB write, on the data directory's disk) takes %.0f µs (%.0f/s); ", r.FlushUsecs, r.FlushOpsPerSec)
	}
	w("pgbench's naive 10-row upsert costs %.3f ms of machine CPU per transaction and its heartbeat UPDATE %.3f ms. Every ratio below is against pgbench on this same machine, so a faster disk raises both sides.\n", pgRep0.machineMsPerTx(), pgHB0.machineMsPerTx())
	w("- pg_stat_statements is preloaded into the cluster for the whole run (for pgbench too), to count the server's statements.\n\n")

	w("## Targets\n\n| target | measured | counterpart | ratio | goal | |\n|---|---|---|---:|---|---|\n")
	for _, t := range r.targets() {
		w("| %s | %s | %s | %s | %s | %s |\n", t.name, t.measured, t.counterpart, t.ratio, t.goal, mark(t.met))
	}

	w("\n## PostgreSQL's own limit: pgbench with a naive implementation's SQL\n\n")
	w("%d agents in `bench_agents` and %d servers in `bench_servers`, copies of `agents` and `mcp_servers` with all their indexes (plus a `key_hash` index for the naive lookup), in the server's own database; `-M prepared`, %v per run; the best client count is the counterpart.\n\n", r.o.agents, r.o.agents*10, r.o.pgPhase)
	w("| script | clients | TPS | latency avg ms | failed | machine CPU, cores | machine CPU ms per transaction |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.Pgbench {
		best := ""
		if p == r.bestPgbench(p.Script) {
			best = " (best)"
		}
		w("| %s%s | %d | %.0f | %.2f | %d | %.2f | %.3f |\n", p.Script, best, p.Clients, p.TPS, p.LatencyMs, p.Failed, p.MachineCores, p.machineMsPerTx())
	}
	for _, s := range r.PgbenchScripts {
		w("\n`%s` script:\n\n```sql\n%s```\n", s[0], s[1])
	}
	if len(r.Pgbench) > 0 {
		w("\nCommand (one of the runs): `%s`\n", r.Pgbench[0].Command)
	}

	w("\n## The server under the same operations\n\n")
	w("%d agents enrolled through `POST /agents/` in %.1f s; %d connections, %v per phase. \"unexpected\" counts 200 answers that contradict the report kind (an unchanged report the server did not find unchanged).\n\n", r.o.agents, r.EnrolSeconds, r.o.concurrency, r.o.phase)
	w(epHeader)
	pgHB, pgRep := r.bestPgbench("heartbeat"), r.bestPgbench("report")
	w("%s", epRow("heartbeat (mcpwarden-loadgen)", r.HBLoadgen, fmt.Sprintf("%.2f× pgbench; %s", ratio(r.HBLoadgen.RPS, pgHB.TPS), r.HBLoadgenCPU)))
	if r.HBWrk != nil {
		w("%s", epRow("heartbeat (wrk)", *r.HBWrk, fmt.Sprintf("%.2f× pgbench; %s", ratio(r.HBWrk.RPS, pgHB.TPS), r.HBWrkCPU)))
	}
	w("%s", epRow("report, unchanged (mcpwarden-loadgen)", r.Unchanged, fmt.Sprintf("%.2f× pgbench; %s", ratio(r.Unchanged.RPS, pgRep.TPS), r.UnchangedCPU)))
	if r.UnchangedWrk != nil {
		w("%s", epRow("report, unchanged (wrk)", *r.UnchangedWrk, fmt.Sprintf("%.2f× pgbench; %s", ratio(r.UnchangedWrk.RPS, pgRep.TPS), r.UnchangedWrkCPU)))
	}
	changedRow := func(e lgEndpoint, alerts, newRows int64, c cpuUse) string {
		return fmt.Sprintf("%.2f× pgbench; %d alerts raised, %d new server rows; %s", ratio(e.RPS, pgRep.TPS), alerts, newRows, c)
	}
	w("%s", epRow("report, 10 servers changed (mcpwarden-loadgen)", r.Changed, changedRow(r.Changed, r.ChangedAlerts, r.ChangedNewRows, r.ChangedCPU)))
	if r.ChangedWrk != nil {
		w("%s", epRow("report, 10 servers changed (wrk)", *r.ChangedWrk, changedRow(*r.ChangedWrk, r.ChangedWrkAlerts, r.ChangedWrkNewRows, r.ChangedWrkCPU)))
	}
	_, gen := r.hb()
	w("\nLoad generator: for heartbeats %s pushed the server harder", gen)
	if r.HBWrk != nil {
		w(" (wrk %.0f/s against mcpwarden-loadgen %.0f/s on the same cores), so its figure counts and it also drives the validation comparison", r.HBWrk.RPS, r.HBLoadgen.RPS)
	}
	_, changedGen := r.changed()
	w(". For changed reports %s's figure counts", changedGen)
	switch {
	case r.ChangedWrk == nil:
	case r.ChangedWrk.RPS > r.Changed.RPS && !r.wrkChangedCounts():
		w(" (wrk was faster, %.0f/s against %.0f/s, but %d of its answers were not a change, so it does not count)", r.ChangedWrk.RPS, r.Changed.RPS, r.ChangedWrk.Unexpected)
	default:
		w(" (wrk %.0f/s against mcpwarden-loadgen %.0f/s on the same cores, the faster counts)", r.ChangedWrk.RPS, r.Changed.RPS)
	}
	_, unchangedGen := r.unchanged()
	w(". For unchanged reports %s's figure counts", unchangedGen)
	if r.UnchangedWrk != nil {
		w(" (wrk %.0f/s against mcpwarden-loadgen %.0f/s; wrk counts when faster and every answer said unchanged)", r.UnchangedWrk.RPS, r.Unchanged.RPS)
	}
	w("; %d server rows were written by both unchanged phases together. mcpwarden-loadgen checks every answer (unchanged, created, updated)", r.UnchangedWrites)
	if r.ChangedWrk != nil || r.UnchangedWrk != nil {
		w("; wrk sends the load generator's bodies (written by `--report-templates`: the changed revisions and the baseline each agent was primed with), after its phase, and its scripts check every answer the same way (for a change `unchanged` false and `servers_updated` above 0, for the baseline `unchanged` true, else unexpected)")
	}
	w(".\n\n")
	w("Commands:\n\n```sh\n%s\n", r.HBLoadgenCmd)
	if r.HBWrkCmd != "" {
		w("%s\n", r.HBWrkCmd)
	}
	w("%s --prime-only   # first, untimed\n%s\n", strings.Split(r.UnchangedCmd, " --mix")[0], r.UnchangedCmd)
	if r.TemplatesCmd != "" {
		w("%s\n", r.TemplatesCmd)
	}
	if r.UnchangedWrkCmd != "" {
		w("%s\n", r.UnchangedWrkCmd)
	}
	w("%s\n", r.ChangedCmd)
	if r.ChangedWrkCmd != "" {
		w("%s\n", r.ChangedWrkCmd)
	}
	w("```\n")
	w("\nThe pgbench counterparts: heartbeat %.0f TPS at %d clients; 10-row upsert %.0f TPS at %d clients.\n", pgHB.TPS, pgHB.Clients, pgRep.TPS, pgRep.Clients)

	w("\nCPU columns are cores used during the phase: the server process, its PostgreSQL (postmaster and backends), and the whole machine (load generator included).\n")
	perReport := func(c cpuUse, rps float64) string {
		return fmt.Sprintf("%.3f ms (server %.3f, PostgreSQL %.3f)", ratio(c.Machine*1000, rps), ratio(c.Server*1000, rps), ratio(c.Postgres*1000, rps))
	}
	w("\nMachine CPU per operation (the same cores, so a ratio of throughputs is the inverse ratio of these): pgbench 10-row upsert %.3f ms per transaction (pgbench and PostgreSQL); unchanged report %s with mcpwarden-loadgen",
		pgRep.machineMsPerTx(), perReport(r.UnchangedCPU, r.Unchanged.RPS))
	if r.UnchangedWrk != nil {
		w(", %s with wrk", perReport(r.UnchangedWrkCPU, r.UnchangedWrk.RPS))
	}
	w("; changed report %s with mcpwarden-loadgen", perReport(r.ChangedCPU, r.Changed.RPS))
	if r.ChangedWrk != nil {
		w(", %s with wrk", perReport(r.ChangedWrkCPU, r.ChangedWrk.RPS))
	}
	w("; load generator included.\n")
	w("\n### Database statements per heartbeat\n\n")
	if r.WarmRequests > 0 && r.WarmStatements >= 0 {
		w("Before the timed heartbeats every agent sent one (untimed), as agents of a running fleet already have: those %d first heartbeats ran %d statements (%.2f each: the key lookup and recording hostname and versions). The figure below is the steady state after them.\n\n", r.WarmRequests, r.WarmStatements, float64(r.WarmStatements)/float64(r.WarmRequests))
	}
	if s := r.statementsPerHB(); s >= 0 {
		w("pg_stat_statements counted %d statements by the server's user during the %d load-generator heartbeats (and 3 s after, one flush interval more), background work included: %.5f per heartbeat. The commonest:\n\n", r.HBStatements, r.HBLoadgen.Requests, s)
		w("| calls | statement |\n|---:|---|\n")
		for _, st := range r.HBTopStatements {
			w("| %d | `%s` |\n", st.Calls, strings.ReplaceAll(st.Query, "|", "\\|"))
		}
	} else {
		w("Not measured (pg_stat_statements unavailable).\n")
	}

	for _, p := range []struct {
		name string
		reqs uint64
		db   dbProfile
	}{
		{"unchanged report", r.Unchanged.Requests, r.UnchangedDB},
		{"changed report (mcpwarden-loadgen)", r.Changed.Requests, r.ChangedDB},
		{"changed report (wrk)", wrkRequests(r.ChangedWrk), r.ChangedWrkDB},
	} {
		if p.db.Calls < 0 || p.reqs == 0 {
			continue
		}
		w("\n### Database work per %s\n\n%d statements for %d reports (%.1f each), by total execution time:\n\n", p.name, p.db.Calls, p.reqs, float64(p.db.Calls)/float64(p.reqs))
		w("| calls | total ms | mean ms | statement |\n|---:|---:|---:|---|\n")
		for _, st := range p.db.Top {
			w("| %d | %.0f | %.3f | `%s` |\n", st.Calls, st.TotalMs, st.MeanMs, strings.ReplaceAll(st.Query, "|", "\\|"))
		}
	}
	if r.Fleet != nil {
		w("\n### Steady state of a %d-agent fleet\n\n", r.o.fleetAgents)
		w("Every agent heartbeats once a minute and reports every 15 minutes (80%% unchanged, 15%% changed, 5%% new servers): %.0f requests/s, replayed by the %d enrolled agents at that rate for %v. CPU used (of %d cores): **%s**.\n\n", r.o.fleetRate, r.o.agents, r.o.phase, runtime.NumCPU(), r.FleetCPU)
		w(epHeader)
		for _, e := range r.Fleet.Endpoints {
			w("%s", epRow(e.Name, e, ""))
		}
		w("\nAchieved %.0f requests/s of %.0f offered (%d errors).\n\n```sh\n%s\n```\n", r.Fleet.RPS, r.o.fleetRate, r.Fleet.Errors, r.FleetCmd)
	}

	w("\n### Request validation and metrics on and off\n\nThree fresh servers side by side on the same database: the baseline as in production (validation and metrics on), one with `MCPWARDEN_DISABLE_VALIDATION=1` and one without `MCPWARDEN_METRICS_ADDR` (no metrics are collected). Heartbeat runs go round the three with the same generator, three rounds, and the median run of each counts. The baseline's own run-to-run spread is %.1f%%: a cost smaller than that is not measurable here.\n\n", 100*r.noise())
	w(epHeader)
	for round := range 3 {
		for _, s := range r.Settings {
			if round < len(s.Runs) {
				w("%s", epRow(fmt.Sprintf("%s, run %d", s.Label, round+1), s.Runs[round], ""))
			}
		}
	}
	for i, s := range r.Settings {
		extra := ""
		if i > 0 {
			extra = fmt.Sprintf("baseline/this = %.2f×", ratio(r.Settings[0].Median.RPS, s.Median.RPS))
		}
		w("%s", epRow("**"+s.Label+", median**", s.Median, extra))
	}
	w("\n```sh\n")
	for _, s := range r.Settings {
		w("%s\n", s.Cmd)
	}
	w("```\n")

	w("\n### Memory\n\nPeak resident memory (VmHWM from `/proc/<pid>/status`, sampled every 200 ms and read before each stop) of every server this run started:\n\n| server run | peak RSS MiB | MB |\n|---|---:|---:|\n")
	for _, f := range r.RSS {
		w("| %s | %.1f | %.1f |\n", f.Label, f.MiB, f.MiB*1024*1024/1e6)
	}

	w("\n## Dashboard and list queries at a million servers\n\n")
	if r.SeedSkipped != "" {
		w("%s\n", r.SeedSkipped)
	} else {
		w("`%s` took %.0f s; the seeded organization holds %d servers across %d agents. Each query: 3 warm-up requests, then up to %d timed requests one at a time (at most %v per query, so a slow query's p99 rests on fewer samples); page size 25, so page 1,000 starts at row 24,976.\n\n", r.SeedCmd, r.SeedSeconds, r.SeedServers, r.SeedAgentsCount, r.o.queryN, r.o.queryBudget)
		w("| query | items | requests | p50 ms | p95 ms | p99 ms | max ms | errors | goal | |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, q := range r.Queries {
			t := queryTarget(q.Name)
			w("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %d | ≤ %.0f ms | %s |\n", q.Name, q.Items, q.Requests, q.P50Ms, q.P95Ms, q.P99Ms, q.MaxMs, q.Errors, t, mark(yes(q.P99Ms <= t && q.Errors == 0)))
		}
		w("\n```sh\n%s\n%s\n```\n", r.SeedCmd, r.QueriesCmd)
	}

	w("\n## Dashboard page loads at a million servers\n\n")
	switch {
	case r.SeedSkipped != "":
		w("%s\n", r.SeedSkipped)
	case r.PageLoadsSkipped != "":
		w("%s\n", r.PageLoadsSkipped)
	case len(r.PageLoads) == 0:
		w("Not measured (see the notes).\n")
	default:
		w("Each view of the dashboard, opened by a full navigation in headless Chromium (Debian's, driven by playwright-core) on the seeded organization: the app loads, refreshes its access token and fetches the view's data; the time is `performance.now()` when the data is on screen, so from the start of the navigation. One untimed navigation warms the browser's cache of the app's files, then %d timed ones.\n\n", r.PageLoads[0].Runs)
		w("| view | URL | median ms | max ms | goal | |\n|---|---|---:|---:|---|---|\n")
		for _, p := range r.PageLoads {
			w("| %s | `%s` | %.0f | %.0f | ≤ %d ms | %s |\n", p.View, p.Path, p.MedianMs, p.MaxMs, pageLoadTarget, mark(yes(p.MaxMs <= pageLoadTarget)))
		}
		if len(r.PageLoadErrors) > 0 {
			w("\nErrors seen by the browser: %s\n", strings.Join(r.PageLoadErrors, "; "))
		}
		w("\n```sh\n%s\n```\n", r.PageLoadsCmd)
	}

	w("\n## Exports\n\n")
	if len(r.Exports) == 0 {
		w("Not measured (the million-row phase was skipped; see the notes).\n")
	} else {
		w("`GET /mcp/servers/export` of the seeded organization's %d servers, unfiltered, streamed by the Go SDK on loopback and counted as it arrives, authenticated with a read API token (created on a server run of its own, so that the exporting server has hashed no password: a sign-in's argon2id leaves about 36 MB of RSS that the Go runtime keeps for minutes). Peak RSS is the server process's `VmHWM`, reset (`echo 5 > /proc/<pid>/clear_refs`) just before each request; PostgreSQL's processes are not counted.\n\n", r.SeedServers)
		w("| format | lines (with header) | bytes | seconds | server RSS before, MB | server peak RSS, MB | goal | |\n|---|---:|---:|---:|---:|---:|---|---|\n")
		for _, e := range r.Exports {
			w("| %s | %d | %d | %.1f | %.1f | %.1f | ≤ %d MB | %s |\n", e.Format, e.Lines, e.Bytes, e.Seconds, e.BeforeMB, e.PeakMB, exportRSSTargetMB, mark(yes(e.Err == "" && e.PeakMB <= exportRSSTargetMB)))
		}
	}
	w("%s", r.fleetMarkdown(false))

	w("\n## Closing note: bottlenecks of missed targets\n\n")
	missed := 0
	for _, t := range r.targets() {
		if t.met != nil && !*t.met {
			missed++
			w("- Missed: %s — %s (goal %s).\n", t.name, t.measured, t.goal)
		}
	}
	if missed == 0 {
		w("Every measured target was met.\n")
	}
	for _, p := range r.Profiles {
		w("\nCPU profile of the server under `%s` load (%d s, `go tool pprof -top`):\n\n```\n%s\n```\n", p.Name, p.Secs, p.Top)
	}
	for i, p := range r.Plans {
		if i == 0 {
			w("\nPlans PostgreSQL logged (auto_explain, ANALYZE, statements over 20 ms) while the queries over target were replayed, slowest first:\n")
		}
		w("\n```\n%s\n```\n", p)
	}
	if len(r.Notes) > 0 {
		w("\n## Notes from the run\n\n")
		for _, n := range r.Notes {
			w("- %s\n", n)
		}
	}
	return b.String()
}
