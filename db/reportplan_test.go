package db_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestReportBatchesProbeByKeyWhateverTheStatistics: a fresh organization's first reports run
// before autovacuum has analyzed mcp_servers, or after it analyzed a handful of rows, and the
// batch's statements are generic plans that last as long as the connection. Every scan of
// mcp_servers and agents in them must still go through a key of the batch's agents or servers.
// An index on (organization_id, status) matched the dormant update once, and a batch of a
// 10,000-agent organization then scanned all its 100,000 servers (about 1.3 s a batch, 130
// reports a second, until the first ANALYZE); statistics taken while the organization had 41
// servers made the update of known servers a hash join over every server of the organization
// (253 changed reports a second at 2,000 agents, against 767 after a restart re-planned it).
func TestReportBatchesProbeByKeyWhateverTheStatistics(t *testing.T) {
	for _, analyzedAt := range []int{0, 40} {
		t.Run(fmt.Sprintf("analyzed at %d servers", analyzedAt), func(t *testing.T) { checkReportBatchPlans(t, analyzedAt) })
	}
}

// checkReportBatchPlans plans the batch's statements for an organization of 20,000 servers
// whose tables were analyzed when it had analyzedAt servers (0: never analyzed).
func checkReportBatchPlans(t *testing.T, analyzedAt int) {
	conn := dbtest.New(t)
	ctx := context.Background()
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Plans")
	dbtest.Agent(t, store, org)
	// The tables, or their partitions when the tenant tables are partitioned (dbtest.Partition).
	var tables []string
	if err := conn.Select(&tables, `SELECT t FROM unnest(ARRAY['mcp_servers', 'agents']) t
		WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = t::regclass)
		UNION ALL SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent IN ('mcp_servers'::regclass, 'agents'::regclass)`); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, err := conn.Exec(`ALTER TABLE ` + table + ` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(from, to int) {
		t.Helper()
		// Spread over the organization's agents, a few servers each, as a fleet's are.
		if _, err := conn.Exec(`INSERT INTO mcp_servers (organization_id, id, agent_id, server_name, config_hash, risk_level, risk_score)
			SELECT $1, gen_random_uuid(), a.ids[1 + i % cardinality(a.ids)], 'server-' || i, '\x00', 'low', 10
			FROM generate_series($2::int, $3::int) i, (SELECT array_agg(id) AS ids FROM agents WHERE organization_id = $1) a`, org, from, to); err != nil {
			t.Fatal(err)
		}
	}
	if analyzedAt > 0 {
		for range 5 {
			dbtest.Agent(t, store, org)
		}
		insert(1, analyzedAt)
		if _, err := conn.Exec(`ANALYZE mcp_servers, agents`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(`INSERT INTO agents (organization_id, id, name, key_hash, key_prefix)
			SELECT $1, gen_random_uuid(), 'agent-' || i, sha256(convert_to('plans ' || i, 'UTF8')), 'mcp_sk_x' FROM generate_series(1, 5000) i`, org); err != nil {
			t.Fatal(err)
		}
	} else {
		var analyzed bool
		if err := conn.Get(&analyzed, `SELECT EXISTS (SELECT 1 FROM pg_statistic WHERE starelid::regclass::text LIKE 'mcp_servers%')`); err != nil || analyzed {
			t.Fatalf("mcp_servers has statistics (%v, %v); the test needs a table that was never analyzed", analyzed, err)
		}
	}
	// Enough rows that a scan of the organization's servers is not free.
	insert(analyzedAt+1, 20000)

	// The keys, of the tables or of a partition (mcp_servers_p<i>).
	key := regexp.MustCompile(`^(?:mcp_servers(?:_p\d+)?_(?:pkey|organization_id_agent_id_server_name_key)|agents(?:_p\d+)?_pkey)$`)
	scan := regexp.MustCompile(`(?:Seq Scan on (?:mcp_servers|agents)(?:_p\d+)?\b|Index (?:Only )?Scan(?: Backward)? using (\w+) on (?:mcp_servers|agents)(?:_p\d+)?\b|Bitmap Index Scan on ((?:mcp_servers|agents)\w*))`)
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
		if _, err := tx.Exec(db.ReportBatchSettings); err != nil {
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
				t.Errorf("%s scans by %q:\n%s", name, strings.TrimSpace(line), strings.Join(plan, "\n"))
			}
		}
		if scans == 0 {
			t.Errorf("%s: no scan of mcp_servers or agents found in its plan; has the pattern gone stale?\n%s", name, strings.Join(plan, "\n"))
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
