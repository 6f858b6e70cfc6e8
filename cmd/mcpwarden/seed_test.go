package main

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestSeedCountersMatchRows seeds an organization twice (the second run fills the same
// organization again) through seedInventory, on the superuser path that writes the counters
// itself and on the trigger path a non-superuser role takes, and checks that the counter tables,
// the dashboard and the server list agree with a direct count of the rows.
func TestSeedCountersMatchRows(t *testing.T) {
	for _, tc := range []struct {
		name      string
		superuser bool
	}{
		{"superuser load writes the deltas the triggers would have", true},
		{"non-superuser load goes through the triggers", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := seedTestStore(t, tc.superuser)
			bypass, err := store.CanBypassTriggers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if bypass != tc.superuser {
				t.Fatalf("CanBypassTriggers = %v, want %v", bypass, tc.superuser)
			}
			orgID, err := seedOrganization(ctx, store, "Seed Test")
			if err != nil {
				t.Fatal(err)
			}
			// More servers per agent than the catalog has entries, so names get suffixes; batches
			// that do not divide the agents; several workers.
			opts := seedOptions{agents: 45, perAgent: 130, workers: 3, batch: 7, bypassTriggers: bypass}
			for run := 1; run <= 2; run++ {
				res, err := seedInventory(ctx, store, orgID, opts)
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if want := int64(opts.agents * opts.perAgent); res.agents != int64(opts.agents) || res.servers != want {
					t.Fatalf("run %d: seeded %d agents and %d servers, want %d and %d", run, res.agents, res.servers, opts.agents, want)
				}
				checkSeededOrganization(t, store, orgID, int64(run*opts.agents), int64(run*opts.agents*opts.perAgent))
			}
			// The seed command compacts the deltas afterwards; the sums must not move.
			if _, err := store.CompactRollups(ctx, 0); err != nil {
				t.Fatal(err)
			}
			checkSeededOrganization(t, store, orgID, int64(2*opts.agents), int64(2*opts.agents*opts.perAgent))
		})
	}
}

func checkSeededOrganization(t *testing.T, store *db.Storage, orgID uuid.UUID, agents, servers int64) {
	t.Helper()
	ctx := context.Background()
	conn := store.DB()
	var got struct {
		Agents     int64 `db:"agents"`
		Keys       int64 `db:"keys"`
		Servers    int64 `db:"servers"`
		Orphans    int64 `db:"orphans"`
		KeyOrphans int64 `db:"key_orphans"`
	}
	if err := conn.GetContext(ctx, &got, `
		SELECT
			(SELECT count(*) FROM agents WHERE organization_id = $1) AS agents,
			(SELECT count(*) FROM agent_keys WHERE organization_id = $1) AS keys,
			(SELECT count(*) FROM mcp_servers WHERE organization_id = $1) AS servers,
			(SELECT count(*) FROM mcp_servers s WHERE s.organization_id = $1 AND NOT EXISTS (
				SELECT 1 FROM agents a WHERE a.organization_id = s.organization_id AND a.id = s.agent_id)) AS orphans,
			(SELECT count(*) FROM agent_keys k WHERE k.organization_id = $1 AND NOT EXISTS (
				SELECT 1 FROM agents a WHERE a.organization_id = k.organization_id AND a.id = k.agent_id
					AND a.key_hash = k.key_hash)) AS key_orphans`, orgID); err != nil {
		t.Fatal(err)
	}
	if got.Agents != agents || got.Keys != agents || got.Servers != servers || got.Orphans != 0 || got.KeyOrphans != 0 {
		t.Fatalf("%d agents, %d keys, %d servers, %d servers without their agent, %d keys without their agent; want %d, %d, %d, 0, 0",
			got.Agents, got.Keys, got.Servers, got.Orphans, got.KeyOrphans, agents, agents, servers)
	}

	// server_counts against the rows, group by group.
	var mismatched []struct {
		Status     string `db:"status"`
		RiskLevel  string `db:"risk_level"`
		ServerName string `db:"server_name"`
		ServerType string `db:"server_type"`
		Counted    int64  `db:"counted"`
		Rows       int64  `db:"rows"`
	}
	if err := conn.SelectContext(ctx, &mismatched, `
		WITH c AS (
			SELECT status, risk_level, server_name, server_type, sum(n)::bigint AS n FROM server_counts
			WHERE organization_id = $1 GROUP BY 1, 2, 3, 4
		), r AS (
			SELECT status, risk_level, server_name, server_type, count(*) AS n FROM mcp_servers
			WHERE organization_id = $1 GROUP BY 1, 2, 3, 4
		)
		SELECT status, risk_level, server_name, server_type, COALESCE(c.n, 0) AS counted, COALESCE(r.n, 0) AS rows
		FROM c FULL JOIN r USING (status, risk_level, server_name, server_type)
		WHERE COALESCE(c.n, 0) <> COALESCE(r.n, 0)`, orgID); err != nil {
		t.Fatal(err)
	}
	if len(mismatched) > 0 {
		t.Fatalf("server_counts disagrees with mcp_servers in %d groups, such as %+v", len(mismatched), mismatched[0])
	}
	// server_rollups against the active rows.
	var rollupMismatches int
	if err := conn.GetContext(ctx, &rollupMismatches, `
		WITH c AS (
			SELECT risk_level, server_type, sum(n)::bigint AS n FROM server_rollups
			WHERE organization_id = $1 GROUP BY 1, 2
		), r AS (
			SELECT risk_level, server_type, count(*) AS n FROM mcp_servers
			WHERE organization_id = $1 AND status = 'active' GROUP BY 1, 2
		)
		SELECT count(*) FROM c FULL JOIN r USING (risk_level, server_type)
		WHERE COALESCE(c.n, 0) <> COALESCE(r.n, 0)`, orgID); err != nil {
		t.Fatal(err)
	}
	if rollupMismatches > 0 {
		t.Fatalf("server_rollups disagrees with the active rows of mcp_servers in %d (level, type) groups", rollupMismatches)
	}

	// What the dashboard and the server list report.
	var direct struct {
		Active   int64 `db:"active"`
		Dormant  int64 `db:"dormant"`
		Critical int64 `db:"critical"`
		High     int64 `db:"high"`
	}
	if err := conn.GetContext(ctx, &direct, `
		SELECT count(*) FILTER (WHERE status = 'active') AS active,
			count(*) FILTER (WHERE status = 'dormant') AS dormant,
			count(*) FILTER (WHERE status = 'active' AND risk_level = 'critical') AS critical,
			count(*) FILTER (WHERE status = 'active' AND risk_level = 'high') AS high
		FROM mcp_servers WHERE organization_id = $1`, orgID); err != nil {
		t.Fatal(err)
	}
	if direct.Active == 0 || direct.Dormant == 0 {
		t.Fatalf("the seed made %d active and %d dormant servers; the test needs both", direct.Active, direct.Dormant)
	}
	stats, err := store.DashboardStats(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	if stats.TotalServers != direct.Active || stats.CriticalCount != direct.Critical || stats.HighCount != direct.High {
		t.Fatalf("dashboard: %d servers, %d critical, %d high; rows: %d active, %d critical, %d high",
			stats.TotalServers, stats.CriticalCount, stats.HighCount, direct.Active, direct.Critical, direct.High)
	}
	levels, _, err := store.RiskDistribution(ctx, orgID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if levels["critical"] != direct.Critical || levels["high"] != direct.High {
		t.Fatalf("risk distribution: %v; rows: %d critical, %d high", levels, direct.Critical, direct.High)
	}
	dormant, critical := "dormant", "critical"
	for _, c := range []struct {
		filter db.ServerFilter
		want   int64
	}{
		{db.ServerFilter{Limit: 20}, servers},
		{db.ServerFilter{Status: &dormant, Limit: 20}, direct.Dormant},
		{db.ServerFilter{RiskLevel: &critical, Limit: 20}, -1},
	} {
		page, total, err := store.ListServers(ctx, orgID, c.filter)
		if err != nil {
			t.Fatal(err)
		}
		want := c.want
		if want < 0 {
			if err := conn.GetContext(ctx, &want, `SELECT count(*) FROM mcp_servers WHERE organization_id = $1 AND risk_level = 'critical'`, orgID); err != nil {
				t.Fatal(err)
			}
		}
		if total != want || int64(len(page)) != min(want, 20) {
			t.Fatalf("server list %+v: total %d with %d rows on the page, want %d", c.filter, total, len(page), want)
		}
	}
}

// seedTestStore returns a store on a fresh database, connected as a superuser or, for the
// trigger path, as a role that is not one.
func seedTestStore(t *testing.T, superuser bool) *db.Storage {
	t.Helper()
	raw := dbtest.URL(t)
	conn, err := sqlx.Open("postgres", raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var isSuper bool
	if err := conn.Get(&isSuper, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`); err != nil {
		t.Fatal(err)
	}
	if superuser {
		if !isSuper {
			t.Skip("the test database's role is not a superuser")
		}
		return db.New(conn)
	}
	if !isSuper {
		return db.New(conn)
	}
	role := "mcpw_seed_" + randomBase62(10)
	conn.MustExec(`CREATE ROLE ` + pq.QuoteIdentifier(role) + ` LOGIN NOSUPERUSER`)
	conn.MustExec(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ` + pq.QuoteIdentifier(role))
	conn.MustExec(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ` + pq.QuoteIdentifier(role))
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Has("user") {
		q.Set("user", role)
		u.RawQuery = q.Encode()
	} else {
		u.User = url.User(role)
	}
	roleConn, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		roleConn.Close()
		conn.Exec(`DROP OWNED BY ` + pq.QuoteIdentifier(role))
		conn.Exec(`DROP ROLE ` + pq.QuoteIdentifier(role))
	})
	return db.New(roleConn)
}
