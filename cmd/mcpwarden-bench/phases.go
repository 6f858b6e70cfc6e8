package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const benchEmail, benchPassword = "bench@example.com", "loadgen correct horse battery staple"

// pgbenchPhase starts the server once to turn pg_stat_statements on (it must be preloaded),
// restarts it, and runs pgbench's naive heartbeat and report at several client counts.
func (b *bench) pgbenchPhase(ctx context.Context) error {
	if err := b.startServer(ctx, "first start: migrate, preload pg_stat_statements"); err != nil {
		return err
	}
	if _, err := b.mon.ExecContext(ctx, `ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`); err != nil {
		return err
	}
	b.stopServer("first start")
	b.r.RSS = b.r.RSS[:0]
	if err := b.startServer(ctx, "throughput phases"); err != nil {
		return err
	}
	if _, err := b.mon.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.r.note("pg_stat_statements is unavailable (" + err.Error() + "): statements per heartbeat not measured.")
	} else {
		b.r.HaveStatements = true
	}
	b.mon.QueryRowContext(ctx, `SHOW server_version`).Scan(&b.r.PGVersion)

	step("commit cost: pg_test_fsync on the data directory's disk")
	if ops, us, err := commitFlush(ctx, b.dataDir); err != nil {
		b.r.note("commit cost not measured: " + err.Error())
	} else {
		b.r.FlushOpsPerSec, b.r.FlushUsecs = ops, us
	}
	step("pgbench: naive SQL for %d agents", b.o.agents)
	// One statement at a time: VACUUM refuses the implicit transaction of a multi-statement string.
	for _, stmt := range strings.Split(fmt.Sprintf(pgbenchSetup, b.o.agents), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := b.mon.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("pgbench tables: %w", err)
		}
	}
	scripts := map[string]string{"heartbeat": heartbeatSQL(b.o.agents), "report": reportSQL(b.o.agents)}
	for _, name := range []string{"heartbeat", "report"} {
		path := filepath.Join(b.tmp, "pgbench-"+name+".sql")
		if err := os.WriteFile(path, []byte(scripts[name]), 0o644); err != nil {
			return err
		}
		b.r.PgbenchScripts = append(b.r.PgbenchScripts, [2]string{name, scripts[name]})
		for _, c := range b.o.pgClients {
			sock, _ := socketDir(b.dataDir)
			busy0, total0 := machineCPU()
			run, err := runPgbench(ctx, b.pgbench, sock, path, name, c, b.o.pgPhase)
			if err != nil {
				return err
			}
			if busy1, total1 := machineCPU(); total1 > total0 {
				run.MachineCores = (busy1 - busy0) / (total1 - total0) * float64(runtime.NumCPU())
			}
			fmt.Printf("    %-9s clients %3d: %8.0f TPS, %.2f ms average\n", name, c, run.TPS, run.LatencyMs)
			b.r.Pgbench = append(b.r.Pgbench, run)
		}
	}
	_, err := b.mon.ExecContext(ctx, pgbenchCleanup)
	return err
}

// serverPhases enrols the agents and measures heartbeats (with both generators), unchanged
// reports, changed reports (with both generators) and the steady state of a fleet, on one server.
func (b *bench) serverPhases(ctx context.Context) error {
	keys := filepath.Join(b.tmp, "keys")
	b.r.Keys = keys
	step("enrolling %d agents", b.o.agents)
	t0 := time.Now()
	if _, _, err := b.loadgen(ctx, "enrol", "--enrol-only", "--agents", strconv.Itoa(b.o.agents), "--save-keys", keys,
		"--email", benchEmail, "--password", benchPassword, "--enrol-concurrency", "16"); err != nil {
		return err
	}
	b.r.EnrolSeconds = time.Since(t0).Seconds()

	// Heartbeats: every agent once (a running fleet's agents are known), then the load
	// generator, then wrk; the faster generator's figure counts.
	step("heartbeats: one from every agent, untimed")
	b.resetStatements(ctx)
	warm, _, err := b.loadgen(ctx, "warm", "--keys", keys, "--warm-only", "--concurrency", strconv.Itoa(b.o.concurrency))
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	if warm.Prime != nil {
		b.r.WarmRequests = warm.Prime.Requests
	}
	b.r.WarmStatements, _ = b.statements(ctx)
	step("heartbeats: mcpwarden-loadgen, %d connections, %v", b.o.concurrency, b.o.phase)
	b.resetStatements(ctx)
	var lg *lgResults
	cpu, err := b.serverCPU(func() error {
		var err error
		lg, b.r.HBLoadgenCmd, err = b.loadgen(ctx, "heartbeat", b.hbArgs(keys)...)
		return err
	})
	if err != nil {
		return err
	}
	b.r.HBLoadgen, b.r.HBLoadgenCPU = lg.Endpoint("heartbeat"), cpu
	time.Sleep(3 * time.Second) // one heartbeat flush interval and more
	b.r.HBStatements, b.r.HBTopStatements = b.statements(ctx)
	if b.wrk != "" {
		step("heartbeats: wrk, %d connections, %v", b.o.concurrency, b.o.phase)
		var w *lgResults
		cpu, err := b.serverCPU(func() error {
			var err error
			w, b.r.HBWrkCmd, err = runWrkHeartbeats(ctx, b.wrk, b.tmp, b.srv.url, keys, b.o.concurrency, b.o.phase)
			return err
		})
		if err != nil {
			b.r.note("wrk failed: " + err.Error())
		} else {
			ep := w.Endpoint("heartbeat")
			b.r.HBWrk, b.r.HBWrkCPU = &ep, cpu
		}
	}
	if !b.r.heartbeatMet() {
		b.profile(ctx, "heartbeat", func(ctx context.Context, d time.Duration) error {
			_, _, err := b.hbRun(ctx, keys, d, "heartbeat-profiled")
			return err
		})
	}

	// Reports: prime every agent with its baseline, then unchanged, then changed reports.
	step("reports: priming %d agents with their baseline", b.o.agents)
	if _, _, err := b.loadgen(ctx, "prime", "--keys", keys, "--prime-only", "--concurrency", strconv.Itoa(b.o.concurrency)); err != nil {
		return err
	}
	// Priming grew mcp_servers from nothing within seconds. Autovacuum analyzes a table that grew
	// that much within a minute or so, and PostgreSQL then plans the server's prepared statements
	// again; until then they keep plans made for an empty table. A fleet grows slower than its
	// statistics are refreshed, so the phases below start from fresh statistics, as it does.
	if _, err := b.mon.ExecContext(ctx, `ANALYZE`); err != nil {
		return err
	}
	xid, err := currentXID(ctx, b.mon)
	if err != nil {
		return err
	}
	step("reports: unchanged, %d connections, %v", b.o.concurrency, b.o.phase)
	b.resetStatements(ctx)
	cpu, err = b.serverCPU(func() error {
		lg, b.r.UnchangedCmd, err = b.loadgen(ctx, "unchanged", b.reportArgs(keys, "unchanged=1")...)
		return err
	})
	if err != nil {
		return err
	}
	b.r.Unchanged, b.r.UnchangedCPU = lg.Endpoint("report_unchanged"), cpu
	b.r.UnchangedDB = b.dbProfile(ctx)
	if b.wrk != "" {
		if err := b.unchangedWrkPhase(ctx, keys); err != nil {
			b.r.note("wrk failed: " + err.Error())
		}
	}
	if b.r.UnchangedWrites, err = serverRowsWrittenSince(ctx, b.mon, xid); err != nil {
		return err
	}
	if !b.r.unchangedMet() {
		b.profile(ctx, "report_unchanged", func(ctx context.Context, d time.Duration) error {
			_, _, err := b.loadgen(ctx, "unchanged-profiled", b.reportArgsFor(keys, "unchanged=1", d, false)...)
			return err
		})
	}
	// The steady state of the fleet the issue sizes: every agent heartbeats each minute and
	// reports each 15 minutes, mostly unchanged. It runs while every agent's
	// inventory is still its baseline, so "unchanged" reports are unchanged without priming again.
	step("fleet steady state: %.0f requests/s (%d agents' heartbeats and reports)", b.o.fleetRate, b.o.fleetAgents)
	cpu, err = b.serverCPU(func() error {
		lg, b.r.FleetCmd, err = b.loadgen(ctx, "fleet", "--keys", keys, "--mix", "heartbeat=15,report=1",
			"--report-mix", "unchanged=80,changed=15,new=5", "--rate", fmt.Sprintf("%.0f", b.o.fleetRate),
			"--concurrency", "256", "--duration", b.o.phase.String(), "--progress", "5s", "--http", "raw")
		return err
	})
	if err != nil {
		return err
	}
	b.r.Fleet, b.r.FleetCPU = lg, cpu
	alerts0, _ := countRows(ctx, b.mon, "alerts")
	servers0, _ := countRows(ctx, b.mon, "mcp_servers")
	step("reports: changed, %d connections, %v", b.o.concurrency, b.o.phase)
	b.resetStatements(ctx)
	cpu, err = b.serverCPU(func() error {
		lg, b.r.ChangedCmd, err = b.loadgen(ctx, "changed", b.reportArgs(keys, "changed=1")...)
		return err
	})
	if err != nil {
		return err
	}
	b.r.Changed, b.r.ChangedCPU = lg.Endpoint("report_changed"), cpu
	b.r.ChangedDB = b.dbProfile(ctx)
	alerts1, _ := countRows(ctx, b.mon, "alerts")
	servers1, _ := countRows(ctx, b.mon, "mcp_servers")
	b.r.ChangedAlerts, b.r.ChangedNewRows = alerts1-alerts0, servers1-servers0
	if b.wrk != "" {
		if err := b.changedWrkPhase(ctx, keys); err != nil {
			b.r.note("wrk failed: " + err.Error())
		}
	}
	if !b.r.changedMet() {
		b.profile(ctx, "report_changed", func(ctx context.Context, d time.Duration) error {
			_, _, err := b.changedRun(ctx, keys, d, "changed-profiled")
			return err
		})
	}

	b.stopServer("throughput phases (pgbench, heartbeats, reports, fleet)")
	return nil
}

// writeTemplates has the load generator write its report bodies for wrk, once.
func (b *bench) writeTemplates(ctx context.Context) error {
	if b.templates != "" {
		return nil
	}
	path := filepath.Join(b.tmp, "report-templates")
	var err error
	if _, b.r.TemplatesCmd, err = b.loadgen(ctx, "templates", "--report-templates", path); err != nil {
		return err
	}
	b.templates = path
	return nil
}

// unchangedWrkPhase drives unchanged reports with wrk after the load generator did: every agent's
// baseline, the body the load generator primed it with, with the same connections and duration.
func (b *bench) unchangedWrkPhase(ctx context.Context, keys string) error {
	if err := b.writeTemplates(ctx); err != nil {
		return err
	}
	step("reports: unchanged, wrk, %d connections, %v", b.o.concurrency, b.o.phase)
	var w *lgResults
	cpu, err := b.serverCPU(func() error {
		var err error
		w, b.r.UnchangedWrkCmd, err = runWrkUnchanged(ctx, b.wrk, b.tmp, b.srv.url, keys, b.templates, b.o.concurrency, b.o.phase)
		return err
	})
	if err != nil {
		return err
	}
	ep := w.Endpoint("report_unchanged")
	b.r.UnchangedWrk, b.r.UnchangedWrkCPU = &ep, cpu
	return nil
}

// changedWrkPhase drives changed reports with wrk after the load generator did, with the same
// bodies (mcpwarden-loadgen writes them), connections and duration. Its run picks a fresh nonce,
// so each report is a change from what the load generator's phase left.
func (b *bench) changedWrkPhase(ctx context.Context, keys string) error {
	if err := b.writeTemplates(ctx); err != nil {
		return err
	}
	step("reports: changed, wrk, %d connections, %v", b.o.concurrency, b.o.phase)
	b.resetStatements(ctx)
	alerts0, _ := countRows(ctx, b.mon, "alerts")
	servers0, _ := countRows(ctx, b.mon, "mcp_servers")
	var w *lgResults
	cpu, err := b.serverCPU(func() error {
		var err error
		w, b.r.ChangedWrkCmd, err = runWrkChanged(ctx, b.wrk, b.tmp, b.srv.url, keys, b.templates, b.o.concurrency, b.o.phase)
		return err
	})
	if err != nil {
		return err
	}
	ep := w.Endpoint("report_changed")
	b.r.ChangedWrk, b.r.ChangedWrkCPU = &ep, cpu
	b.r.ChangedWrkDB = b.dbProfile(ctx)
	alerts1, _ := countRows(ctx, b.mon, "alerts")
	servers1, _ := countRows(ctx, b.mon, "mcp_servers")
	b.r.ChangedWrkAlerts, b.r.ChangedWrkNewRows = alerts1-alerts0, servers1-servers0
	return nil
}

// changedRun sends changed reports for d with the generator whose figure counts.
func (b *bench) changedRun(ctx context.Context, keys string, d time.Duration, name string) (lgEndpoint, string, error) {
	if _, gen := b.r.changed(); gen == "wrk" {
		r, line, err := runWrkChanged(ctx, b.wrk, b.tmp, b.srv.url, keys, b.templates, b.o.concurrency, d)
		if err != nil {
			return lgEndpoint{}, line, err
		}
		return r.Endpoint("report_changed"), line, nil
	}
	r, line, err := b.loadgen(ctx, name, b.reportArgsFor(keys, "changed=1", d, false)...)
	if err != nil {
		return lgEndpoint{}, line, err
	}
	return r.Endpoint("report_changed"), line, nil
}

// The load generator sends the timed phases through its direct HTTP client (--http raw), which
// takes about half the CPU per request of the SDK's net/http client, so that it leaves the
// server more of the cores they share; its answers are checked the same way.
func (b *bench) hbArgs(keys string) []string {
	return []string{"--keys", keys, "--mix", "heartbeat=1", "--concurrency", strconv.Itoa(b.o.concurrency), "--duration", b.o.phase.String(), "--http", "raw"}
}

func (b *bench) reportArgs(keys, mix string) []string {
	return b.reportArgsFor(keys, mix, b.o.phase, false)
}

func (b *bench) reportArgsFor(keys, mix string, d time.Duration, prime bool) []string {
	args := []string{"--keys", keys, "--mix", "report=1", "--report-mix", mix, "--concurrency", strconv.Itoa(b.o.concurrency), "--duration", d.String(), "--http", "raw"}
	if prime {
		args = append(args, "--prime")
	}
	return args
}

// hbRun sends heartbeats for d with whichever generator pushed the server harder.
func (b *bench) hbRun(ctx context.Context, keys string, d time.Duration, name string) (lgEndpoint, string, error) {
	if b.r.HBWrk != nil && b.r.HBWrk.RPS > b.r.HBLoadgen.RPS {
		r, line, err := runWrkHeartbeats(ctx, b.wrk, b.tmp, b.srv.url, keys, b.o.concurrency, d)
		if err != nil {
			return lgEndpoint{}, line, err
		}
		return r.Endpoint("heartbeat"), line, nil
	}
	args := []string{"--keys", keys, "--mix", "heartbeat=1", "--concurrency", strconv.Itoa(b.o.concurrency), "--duration", d.String()}
	r, line, err := b.loadgen(ctx, name, args...)
	if err != nil {
		return lgEndpoint{}, line, err
	}
	return r.Endpoint("heartbeat"), line, nil
}

// A setting is one server configuration in the settings phase: its label, what its environment
// changes from the baseline's, its heartbeat runs and the median one.
type setting struct {
	Label  string
	Env    string
	Runs   []lgEndpoint
	Median lgEndpoint
	Cmd    string
}

// settingsPhase measures what request validation and metrics cost: three servers side by side on
// the same database (the baseline with both on, as in production, then one with validation off and
// one without metrics; the other two get the database by DATABASE_URL, so the first keeps owning
// the built-in cluster). Heartbeat runs go round the three, three rounds, so that other work on the
// machine weighs on all alike; the median run of each counts.
func (b *bench) settingsPhase(ctx context.Context) (err error) {
	settings := []*setting{
		{Label: "baseline (validation and metrics on)"},
		{Label: "validation off", Env: "MCPWARDEN_DISABLE_VALIDATION=1"},
		{Label: "metrics off", Env: "MCPWARDEN_METRICS_ADDR="},
	}
	if err := b.startServer(ctx, "settings baseline"); err != nil {
		return err
	}
	base := b.srv
	sock, err := socketDir(b.dataDir)
	if err != nil {
		return err
	}
	secret, err := os.ReadFile(filepath.Join(b.dataDir, "jwt-secret"))
	if err != nil {
		return err
	}
	servers := []*serverProc{base}
	defer func() {
		for _, srv := range servers[1:] {
			srv.stop()
		}
		if err != nil {
			b.srv = base // the caller's cleanup stops it
		}
	}()
	for _, s := range settings[1:] {
		b.serial++
		srv, err := startServer(ctx, b.o.bin, b.dataDir, filepath.Join(b.tmp, fmt.Sprintf("server-%d.log", b.serial)),
			"DATABASE_URL=postgres:///mcpwarden?host="+sock+"&user=mcpwarden&sslmode=disable",
			"MCPWARDEN_JWT_SECRET="+strings.TrimSpace(string(secret)), s.Env)
		if err != nil {
			return err
		}
		servers = append(servers, srv)
	}
	d := max(b.o.phase/2, 3*time.Second)
	for round := range 3 {
		for i, s := range settings {
			b.srv = servers[i]
			step("heartbeats, %s (round %d of 3)", s.Label, round+1)
			ep, line, err := b.hbRun(ctx, b.r.Keys, d, "heartbeat-"+strings.ReplaceAll(s.Label, " ", "-"))
			if err != nil {
				return err
			}
			s.Runs, s.Cmd = append(s.Runs, ep), strings.TrimSpace(s.Env+" mcpwarden serve; "+line)
		}
	}
	for i, s := range settings {
		s.Median = median(s.Runs)
		b.r.Settings = append(b.r.Settings, *s)
		if i > 0 {
			b.r.RSS = append(b.r.RSS, rssFigure{Label: "heartbeats, " + s.Label, MiB: servers[i].peakRSSMiB()})
		}
	}
	b.srv = base
	b.stopServer("heartbeats, settings baseline")
	return nil
}

// median returns the run with the median throughput.
func median(runs []lgEndpoint) lgEndpoint {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b lgEndpoint) int { return cmp.Compare(a.RPS, b.RPS) })
	if len(s) == 0 {
		return lgEndpoint{}
	}
	return s[len(s)/2]
}

// loadgen runs the load generator against the current server.
func (b *bench) loadgen(ctx context.Context, name string, args ...string) (*lgResults, string, error) {
	args = append([]string{"--url", b.srv.url}, args...)
	return runLoadgen(ctx, b.o.bin, b.tmp, name, args...)
}

func (b *bench) resetStatements(ctx context.Context) {
	if b.r.HaveStatements {
		b.mon.ExecContext(ctx, `SELECT pg_stat_statements_reset()`)
	}
}

// statements returns the statements the server (user mcpwarden) ran since the last reset, and
// the commonest of them.
func (b *bench) statements(ctx context.Context) (int64, []stmtCount) {
	return b.statementsBy(ctx, "calls")
}

func (b *bench) dbProfile(ctx context.Context) dbProfile {
	calls, top := b.statementsBy(ctx, "total_exec_time")
	return dbProfile{Calls: calls, Top: top}
}

// statementsBy returns the statements the server (user mcpwarden) ran since the last reset, and
// the top ones by the given pg_stat_statements column.
func (b *bench) statementsBy(ctx context.Context, order string) (int64, []stmtCount) {
	if !b.r.HaveStatements {
		return -1, nil
	}
	const filter = `FROM pg_stat_statements WHERE userid = 'mcpwarden'::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = 'mcpwarden')`
	var total int64
	if err := b.mon.QueryRowContext(ctx, `SELECT coalesce(sum(calls), 0)::bigint `+filter).Scan(&total); err != nil {
		b.r.note("pg_stat_statements: " + err.Error())
		return -1, nil
	}
	rows, err := b.mon.QueryContext(ctx, `SELECT calls, total_exec_time, mean_exec_time, regexp_replace(left(query, 160), '\s+', ' ', 'g') `+filter+` ORDER BY `+order+` DESC LIMIT 8`)
	if err != nil {
		return total, nil
	}
	defer rows.Close()
	var top []stmtCount
	for rows.Next() {
		var s stmtCount
		if rows.Scan(&s.Calls, &s.TotalMs, &s.MeanMs, &s.Query) == nil {
			top = append(top, s)
		}
	}
	return total, top
}

// profile runs load for 15 s while taking a 10 s CPU profile of the server, and keeps the top of
// `go tool pprof -top` for the report.
func (b *bench) profile(ctx context.Context, name string, load func(context.Context, time.Duration) error) {
	if b.o.skipProfiles {
		return
	}
	step("profiling %s (a target was missed)", name)
	path := filepath.Join(b.tmp, name+".pprof")
	errc := make(chan error, 1)
	go func() {
		time.Sleep(3 * time.Second)
		errc <- b.fetchProfile(path, 10)
	}()
	if err := load(ctx, 15*time.Second); err != nil {
		b.r.note(fmt.Sprintf("profiling %s: %v", name, err))
	}
	if err := <-errc; err != nil {
		b.r.note(fmt.Sprintf("profiling %s: %v", name, err))
		return
	}
	b.summarizeProfile(ctx, name, 10, path)
}

// fetchProfile writes a CPU profile of the running server, secs long, to path.
func (b *bench) fetchProfile(path string, secs int) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", b.srv.pprofURL, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// summarizeProfile adds the top of a CPU profile of secs seconds, at path, to the report.
func (b *bench) summarizeProfile(ctx context.Context, name string, secs int, path string) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.r.note("profiling: go is not on PATH, no pprof summary")
		return
	}
	var top []string
	for _, args := range [][]string{{"-top", "-nodecount=15"}, {"-top", "-cum", "-nodecount=40"}} {
		args = append(append([]string{"tool", "pprof"}, args...), filepath.Join(b.o.bin, "mcpwarden"), path)
		out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput()
		if err != nil {
			b.r.note(fmt.Sprintf("pprof %s: %v", name, err))
			return
		}
		top = append(top, "$ go tool pprof "+strings.Join(args[2:len(args)-2], " ")+"\n"+strings.TrimSpace(string(out)))
	}
	b.r.Profiles = append(b.r.Profiles, profileSummary{Name: name, Secs: secs, Top: strings.Join(top, "\n\n")})
}

type stmtCount struct {
	Calls           int64
	TotalMs, MeanMs float64
	Query           string
}
