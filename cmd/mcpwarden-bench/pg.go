package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

// openPG connects to the built-in PostgreSQL over its unix socket as the server does.
func openPG(sock string) (*sql.DB, error) {
	db, err := sql.Open("postgres", fmt.Sprintf("host=%s user=mcpwarden dbname=mcpwarden sslmode=disable", sock))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	return db, db.Ping()
}

// The naive implementation's tables: copies of agents and mcp_servers with all their indexes
// (and a key_hash index on agents, which the naive heartbeat looks up by), filled like the
// server's own after enrolment and a first report.
const pgbenchSetup = `
DROP TABLE IF EXISTS bench_agents, bench_servers;
CREATE TABLE bench_agents (LIKE agents INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE UNIQUE INDEX bench_agents_key_hash ON bench_agents (key_hash);
CREATE TABLE bench_servers (LIKE mcp_servers INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
INSERT INTO bench_agents (organization_id, id, name, key_hash, key_prefix, hostname, os_type, last_seen_at)
SELECT '00000000-0000-0000-0000-000000000001', md5(i::text)::uuid, 'agent-' || i,
       sha256(convert_to(i::text, 'UTF8')), 'mcp_sk_' || i, 'host-' || i || '.local', 'linux', now()
FROM generate_series(1, %[1]d) AS i;
INSERT INTO bench_servers (organization_id, id, agent_id, server_name, server_type, command, config_hash, risk_level, risk_score)
SELECT '00000000-0000-0000-0000-000000000001', gen_random_uuid(), md5(i::text)::uuid, 'server-' || s,
       '@modelcontextprotocol/server-' || s, 'npx -y @modelcontextprotocol/server-' || s || ' /home/dev',
       sha256(convert_to(i || '/' || s, 'UTF8')), 'medium', 40
FROM generate_series(1, %[1]d) AS i, generate_series(0, 9) AS s;
VACUUM ANALYZE bench_agents;
VACUUM ANALYZE bench_servers;
`

const pgbenchCleanup = `DROP TABLE IF EXISTS bench_agents, bench_servers`

// heartbeatSQL is one heartbeat of the naive implementation: one UPDATE by key hash.
func heartbeatSQL(agents int) string {
	return fmt.Sprintf(`\set k random(1, %d)
UPDATE bench_agents SET last_seen_at = now() WHERE key_hash = sha256(convert_to(:k::text, 'UTF8'));
`, agents)
}

// reportSQL is one report of the naive implementation: a 10-row upsert of the agent's servers.
func reportSQL(agents int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\\set a random(1, %d)\n", agents)
	b.WriteString("INSERT INTO bench_servers (organization_id, id, agent_id, server_name, server_type, command, config_hash, risk_level, risk_score) VALUES\n")
	for s := range 10 {
		if s > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "('00000000-0000-0000-0000-000000000001', gen_random_uuid(), md5(:a::text)::uuid, 'server-%[1]d', "+
			"'@modelcontextprotocol/server-%[1]d', 'npx -y @modelcontextprotocol/server-%[1]d /home/dev', "+
			"sha256(convert_to(:a || '/%[1]d', 'UTF8')), 'medium', 40)", s)
	}
	b.WriteString("\nON CONFLICT (organization_id, agent_id, server_name) DO UPDATE SET server_type = EXCLUDED.server_type,\n" +
		"  command = EXCLUDED.command, config_hash = EXCLUDED.config_hash, risk_level = EXCLUDED.risk_level,\n" +
		"  risk_score = EXCLUDED.risk_score, status = 'active', last_seen_at = now(), updated_at = now();\n")
	return b.String()
}

type pgbenchRun struct {
	Script    string  `json:"script"`
	Clients   int     `json:"clients"`
	TPS       float64 `json:"tps"`
	LatencyMs float64 `json:"latency_avg_ms"`
	Failed    int64   `json:"failed"`
	Command   string  `json:"command"`
	// MachineCores is the CPU the whole machine used during the run (pgbench and PostgreSQL).
	MachineCores float64 `json:"machine_cores"`
}

// machineMsPerTx is the machine's CPU time per transaction.
func (p pgbenchRun) machineMsPerTx() float64 { return ratio(p.MachineCores*1000, p.TPS) }

var (
	tpsRe     = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	latencyRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	failedRe  = regexp.MustCompile(`number of failed transactions: ([0-9]+)`)
)

// runPgbench runs one script at one client count over the unix socket.
func runPgbench(ctx context.Context, pgbench, sock, script, name string, clients int, d time.Duration) (pgbenchRun, error) {
	args := []string{"-h", sock, "-U", "mcpwarden", "-n", "-M", "prepared", "-c", strconv.Itoa(clients),
		"-j", strconv.Itoa(min(clients, 2)), "-T", strconv.Itoa(int(d.Seconds())), "-f", script, "mcpwarden"}
	r := pgbenchRun{Script: name, Clients: clients, Command: "pgbench " + strings.Join(args, " ")}
	cmd := exec.CommandContext(ctx, pgbench, args...)
	cmd.Env = append(os.Environ(), "PGAPPNAME=pgbench")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("%s: %w\n%s", r.Command, err, out)
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("%s: no tps in output:\n%s", r.Command, out)
	}
	r.TPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latencyRe.FindSubmatch(out); m != nil {
		r.LatencyMs, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := failedRe.FindSubmatch(out); m != nil {
		r.Failed, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return r, nil
}

func findPgbench() (string, error) { return findPGTool("pgbench") }

// findPGTool finds one of PostgreSQL's programs: on the PATH, else in Debian's versioned
// directories (the newest).
func findPGTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found (Debian: apt-get install postgresql-client)", name)
}

// currentXID returns a fresh transaction id: rows written after it have an xmin at least as big.
func currentXID(ctx context.Context, db *sql.DB) (int64, error) {
	var x int64
	err := db.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&x)
	return x, err
}

// serverRowsWrittenSince counts mcp_servers row versions created (inserted or updated) after xid.
func serverRowsWrittenSince(ctx context.Context, db *sql.DB, xid int64) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM mcp_servers WHERE xmin::text::bigint >= $1`, xid).Scan(&n)
	return n, err
}

func countRows(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n)
	return n, err
}

var fdatasyncRe = regexp.MustCompile(`^\s*fdatasync\s+([0-9.]+) ops/sec\s+([0-9]+) usecs/op`)

// commitFlush measures what a commit's WAL flush costs on the disk under dir: pg_test_fsync's
// one-8kB-write fdatasync figure (the method PostgreSQL uses on Linux). That is in its first
// section, so the rest of its run is cut short.
func commitFlush(ctx context.Context, dir string) (opsPerSec, usecs float64, err error) {
	bin, err := findPGTool("pg_test_fsync")
	if err != nil {
		return 0, 0, err
	}
	file := filepath.Join(dir, "pg_test_fsync.out")
	defer os.Remove(file)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-s", "2", "-f", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer cmd.Wait()
	defer cancel() // stops pg_test_fsync once its figure is read (deferred calls run last first)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := fdatasyncRe.FindStringSubmatch(sc.Text()); m != nil {
			opsPerSec, _ = strconv.ParseFloat(m[1], 64)
			usecs, _ = strconv.ParseFloat(m[2], 64)
			return opsPerSec, usecs, nil
		}
	}
	return 0, 0, fmt.Errorf("%s printed no fdatasync figure", bin)
}
