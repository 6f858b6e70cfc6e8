package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const seedEmail, seedPassword = "seed-bench@example.com", "seed bench correct horse battery"

// queryPhase seeds 1,000,000 servers across 100,000 agents with `mcpwarden seed`, times every
// list filter and dashboard query and the dashboard's page loads in Chromium; for the queries over their target it replays them once more
// under auto_explain to put their plans in the report.
func (b *bench) queryPhase(ctx context.Context) error {
	if b.o.skipSeed {
		b.r.SeedSkipped = "skipped: `--skip-seed` was given."
		return nil
	}
	bin := filepath.Join(b.o.bin, "mcpwarden")
	help, _ := exec.CommandContext(ctx, bin, "seed", "--help").CombinedOutput()
	if !strings.Contains(string(help), "servers-per-agent") {
		b.r.SeedSkipped = "skipped: this build of `mcpwarden` has no `seed` command (`mcpwarden seed --help` does not offer `--servers-per-agent`), so the million-row queries could not be measured."
		return nil
	}
	args := []string{"seed", "--org", "Bench Seed", "--agents", strconv.Itoa(b.o.seedAgents), "--servers-per-agent", strconv.Itoa(b.o.seedServers)}
	b.r.SeedCmd = "mcpwarden " + strings.Join(args, " ")
	step("seeding: %s", b.r.SeedCmd)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "MCPWARDEN_DATA_DIR="+b.dataDir, "MCPWARDEN_LOG_LEVEL=warn")
	t0 := time.Now()
	out, err := streamCmdOutput(cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", b.r.SeedCmd, err)
	}
	b.r.SeedSeconds = time.Since(t0).Seconds()
	// seed creates the organization with an admin and prints the credentials.
	email, password := seedEmail, seedPassword
	if m := seedAdminRe.FindStringSubmatch(out); m != nil {
		email = m[1]
	}
	if m := seedPasswordRe.FindStringSubmatch(out); m != nil {
		password = m[1]
	}

	exportToken, err := b.exportToken(ctx, email, password)
	if err != nil {
		b.r.note("exports: " + err.Error())
	}
	if err := b.startServer(ctx, "million-row queries"); err != nil {
		return err
	}
	const org = `organization_id = (SELECT id FROM organizations WHERE name = 'Bench Seed' ORDER BY created_at LIMIT 1)`
	b.mon.QueryRowContext(ctx, `SELECT count(*) FROM mcp_servers WHERE `+org).Scan(&b.r.SeedServers)
	b.mon.QueryRowContext(ctx, `SELECT count(*) FROM agents WHERE `+org).Scan(&b.r.SeedAgentsCount)
	step("queries at %d servers", b.r.SeedServers)
	b.seedEmail, b.seedPassword = email, password
	// Exports first: the peak they are held to is the whole server's, so it should not carry what
	// the query and page-load phases leave behind.
	if exportToken != "" {
		b.exportPhase(ctx, exportToken)
	}
	lg, line, err := b.loadgen(ctx, "queries", "--mode", "queries", "--email", email, "--password", password,
		"--query-requests", strconv.Itoa(b.o.queryN), "--query-budget", b.o.queryBudget.String(), "--search", b.o.searchTerm)
	if err != nil {
		return err
	}
	b.r.Queries, b.r.QueriesCmd = lg.Endpoints, strings.Replace(line, password, "<printed by seed>", 1)
	b.pageLoadPhase(ctx)
	var missed []string
	for _, q := range lg.Endpoints {
		if q.Errors > 0 || q.P99Ms > queryTarget(q.Name) || (b.o.explainOver > 0 && q.P99Ms > b.o.explainOver) {
			missed = append(missed, q.Name)
		}
	}
	b.stopServer("million-row queries")
	if len(missed) == 0 || b.o.skipProfiles {
		return nil
	}
	return b.explain(ctx, missed)
}

func queryTarget(name string) float64 {
	if strings.HasPrefix(name, "dashboard/") {
		return 25
	}
	return 50
}

// explain restarts the server with auto_explain loaded into its sessions, replays the missed
// queries and collects the plans PostgreSQL logged for statements over 20 ms.
func (b *bench) explain(ctx context.Context, missed []string) error {
	step("EXPLAIN ANALYZE (auto_explain) for %d queries over target", len(missed))
	logPath := filepath.Join(b.dataDir, "postgres", "postgres.log")
	if err := b.startServer(ctx, "auto_explain"); err != nil {
		return err
	}
	for _, s := range []string{
		`ALTER DATABASE mcpwarden SET session_preload_libraries = 'auto_explain'`,
		`ALTER DATABASE mcpwarden SET auto_explain.log_min_duration = '20ms'`,
		`ALTER DATABASE mcpwarden SET auto_explain.log_analyze = on`,
		`ALTER DATABASE mcpwarden SET auto_explain.log_buffers = on`,
	} {
		if _, err := b.mon.ExecContext(ctx, s); err != nil {
			b.r.note("auto_explain: " + err.Error())
			b.stopServer("auto_explain")
			return nil
		}
	}
	// The server's pool opened its sessions before the settings; restart so every session has them.
	b.stopServer("auto_explain")
	before, _ := os.Stat(logPath)
	if err := b.startServer(ctx, "auto_explain"); err != nil {
		return err
	}
	_, _, err := b.loadgen(ctx, "queries-explain", "--mode", "queries", "--email", b.seedEmail, "--password", b.seedPassword,
		"--query-requests", "3", "--search", b.o.searchTerm, "--queries", strings.Join(missed, ","))
	b.stopServer("auto_explain replay")
	if err != nil {
		b.r.note("auto_explain replay: " + err.Error())
		return nil
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		b.r.note("auto_explain: " + err.Error())
		return nil
	}
	if before != nil && int64(len(data)) > before.Size() {
		data = data[before.Size():]
	}
	b.r.Plans = slowestPlans(string(data), 6)
	return nil
}

var (
	seedAdminRe    = regexp.MustCompile(`(?m)^\s*admin: (\S+)`)
	seedPasswordRe = regexp.MustCompile(`(?m)^\s*password: (\S+)`)
)

var durationRe = regexp.MustCompile(`duration: ([0-9.]+) ms\s+plan:`)

// slowestPlans pulls auto_explain's entries out of the PostgreSQL log, one per query text, the
// slowest first.
func slowestPlans(log string, n int) []string {
	type plan struct {
		ms   float64
		text string
	}
	byQuery := map[string]plan{}
	lines := strings.Split(log, "\n")
	for i := 0; i < len(lines); i++ {
		m := durationRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		var body []string
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], "\t") || strings.HasPrefix(lines[i+1], " ")) {
			i++
			body = append(body, strings.TrimPrefix(lines[i], "\t"))
		}
		key := ""
		if len(body) > 0 {
			key = body[0]
		}
		if p, ok := byQuery[key]; !ok || ms > p.ms {
			byQuery[key] = plan{ms, fmt.Sprintf("%.1f ms\n%s", ms, strings.Join(body, "\n"))}
		}
	}
	plans := make([]plan, 0, len(byQuery))
	for _, p := range byQuery {
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].ms > plans[j].ms })
	var out []string
	for i := 0; i < len(plans) && i < n; i++ {
		out = append(out, plans[i].text)
	}
	return out
}
