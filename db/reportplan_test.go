package db_test

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestReportBatchesProbeServersByKeyBeforeAnyAnalyze: a fresh organization's first reports run
// before autovacuum has analyzed mcp_servers, and the batch's statements are generic plans that
// last as long as the connection. Every scan of mcp_servers in them must still go through a key
// of the batch's agents or servers; an index on (organization_id, status) matched the dormant
// update once, and a batch of a 10,000-agent organization then scanned all its 100,000 servers
// (about 1.3 s a batch, 130 reports a second, until the first ANALYZE).
func TestReportBatchesProbeServersByKeyBeforeAnyAnalyze(t *testing.T) {
	conn := dbtest.New(t)
	ctx := context.Background()
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Plans")
	agent := dbtest.Agent(t, store, org)
	// The table, or its partitions when the tenant tables are partitioned (dbtest.Partition).
	var tables []string
	if err := conn.Select(&tables, `SELECT 'mcp_servers' WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'mcp_servers'::regclass)
		UNION ALL SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'mcp_servers'::regclass`); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, err := conn.Exec(`ALTER TABLE ` + table + ` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
	// Enough rows that a scan of the organization's servers is not free, and no statistics.
	if _, err := conn.Exec(`INSERT INTO mcp_servers (organization_id, id, agent_id, server_name, config_hash, risk_level, risk_score)
		SELECT $1, gen_random_uuid(), $2, 'server-' || i, '\x00', 'low', 10 FROM generate_series(1, 20000) i`, org, agent); err != nil {
		t.Fatal(err)
	}
	var analyzed bool
	if err := conn.Get(&analyzed, `SELECT EXISTS (SELECT 1 FROM pg_statistic WHERE starelid::regclass::text LIKE 'mcp_servers%')`); err != nil || analyzed {
		t.Fatalf("mcp_servers has statistics (%v, %v); the test needs a table that was never analyzed", analyzed, err)
	}

	// The keys, of the table or of a partition (mcp_servers_p<i>).
	key := regexp.MustCompile(`^mcp_servers(?:_p\d+)?_(?:pkey|organization_id_agent_id_server_name_key)$`)
	scan := regexp.MustCompile(`(?:Seq Scan on mcp_servers(?:_p\d+)?\b|Index (?:Only )?Scan(?: Backward)? using (\w+) on mcp_servers(?:_p\d+)?\b|Bitmap Index Scan on (mcp_servers\w*))`)
	names := make([]string, 0, len(db.ReportBatchStatements))
	for name := range db.ReportBatchStatements {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`PREPARE stmt AS ` + db.ReportBatchStatements[name]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		if err := tx.Select(&plan, `EXPLAIN EXECUTE stmt(`+placeholders(db.ReportBatchStatements[name], org.String())+`)`); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tx.Exec(`DEALLOCATE stmt`)
		tx.Rollback()
		scans := 0
		for _, line := range plan {
			m := scan.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			scans++
			if index := m[1] + m[2]; !key.MatchString(index) {
				t.Errorf("%s scans mcp_servers by %q:\n%s", name, strings.TrimSpace(line), strings.Join(plan, "\n"))
			}
		}
		if name != "lock agents" && scans == 0 {
			t.Errorf("%s: no scan of mcp_servers found in its plan; has the pattern gone stale?\n%s", name, strings.Join(plan, "\n"))
		}
	}
}

// placeholders are the arguments of a statement whose $1 is the organization: org, then NULL for
// every other parameter (a generic plan does not depend on them; the organization decides which
// partition is scanned when the tenant tables are partitioned).
func placeholders(sql, org string) string {
	n := 0
	for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(sql, -1) {
		k, _ := strconv.Atoi(m[1])
		n = max(n, k)
	}
	return "'" + org + "'" + strings.Repeat(",NULL", n-1)
}
