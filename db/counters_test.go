package db_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// server is a server of a test report: name, type and risk level, the counted columns.
type server struct{ name, typ, level string }

// report applies one agent's report in a batch, as impl/ingest does: the servers it lists are
// written (known ones by their stored id) and the stored ones it no longer lists go dormant.
func report(t *testing.T, store *db.Storage, org, agent uuid.UUID, servers ...server) {
	t.Helper()
	ctx := context.Background()
	b, err := store.BeginReportBatch(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback()
	if _, err := b.LockAgents(ctx, []uuid.UUID{agent}); err != nil {
		t.Fatal(err)
	}
	previous, err := b.PreviousServers(ctx, []uuid.UUID{agent})
	if err != nil {
		t.Fatal(err)
	}
	prev := previous[agent]
	planned := db.PlannedReport{AgentID: agent, ReportHash: []byte(uuid.NewString()), Previous: prev}
	listed := map[string]bool{}
	for _, s := range servers {
		id := uuid.New()
		if p, ok := prev[s.name]; ok {
			id = p.ID
		}
		listed[s.name] = true
		hash := sha256.Sum256([]byte(s.name + s.typ + s.level))
		planned.Servers = append(planned.Servers, db.ReportServer{ID: id, ServerName: s.name, ServerType: s.typ,
			Command: "run " + s.name, ConfigHash: hash[:], RiskLevel: s.level, RiskScore: 10})
	}
	var dormant []uuid.UUID
	for name, p := range prev {
		if !listed[name] && p.Status == "active" {
			dormant = append(dormant, p.ID)
		}
	}
	if _, err := b.Apply(ctx, db.BatchWrite{Reports: []db.PlannedReport{planned}, Dormant: dormant}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

func requireExactCounters(t *testing.T, conn *sqlx.DB, org uuid.UUID, after string) {
	t.Helper()
	if bad := dbtest.CounterMismatches(t, conn, org); len(bad) > 0 {
		t.Fatalf("after %s, the counters disagree with the servers:\n%s", after, bad)
	}
}

// TestCountersStayExactOnEveryPathThatChangesServers: with no trigger on mcp_servers, every
// statement that inserts, updates the counted columns of, or deletes servers writes the
// counters' deltas itself; after each path server_counts and server_rollups equal a recount.
func TestCountersStayExactOnEveryPathThatChangesServers(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Counters")
	other := dbtest.Organization(t, store, "Other")
	a1, a2 := dbtest.Agent(t, store, org), dbtest.Agent(t, store, org)
	b1 := dbtest.Agent(t, store, other)

	report(t, store, org, a1, server{"fs", "filesystem", "high"}, server{"git", "git", "low"}, server{"web", "fetch", "medium"})
	report(t, store, org, a2, server{"fs", "filesystem", "high"}, server{"db", "postgres", "critical"})
	report(t, store, other, b1, server{"fs", "filesystem", "low"})
	requireExactCounters(t, conn, org, "first reports (inserts)")

	report(t, store, org, a1, server{"fs", "filesystem", "critical"}, server{"git", "git-ext", "low"}, server{"web", "fetch", "medium"})
	requireExactCounters(t, conn, org, "a report changing a level and a type")

	report(t, store, org, a1, server{"fs", "filesystem", "critical"}, server{"new", "x", "low"})
	requireExactCounters(t, conn, org, "a report dropping two servers (dormant) and adding one")

	report(t, store, org, a1, server{"fs", "filesystem", "critical"}, server{"git", "git", "high"}, server{"new", "x", "low"})
	requireExactCounters(t, conn, org, "a report bringing a dormant server back at another level and type")

	var fs uuid.UUID
	if err := conn.Get(&fs, `SELECT id FROM mcp_servers WHERE organization_id = $1 AND agent_id = $2 AND server_name = 'fs'`, org, a1); err != nil {
		t.Fatal(err)
	}
	if err := store.SetServerVerified(ctx, org, fs, true, uuid.New(), nil); err != nil {
		t.Fatal(err)
	}
	requireExactCounters(t, conn, org, "verification")

	if _, err := conn.Exec(`UPDATE agents SET last_seen_at = now() - interval '2 days' WHERE organization_id = $1 AND id = $2`, org, a2); err != nil {
		t.Fatal(err)
	}
	agents, marked, err := store.MarkSilentAgentsDormant(ctx, org, time.Now().Add(-24*time.Hour), 100)
	if err != nil || len(agents) != 1 || agents[0] != a2 || marked != 2 {
		t.Fatalf("dormant sweep: %v, %d servers, %v; want a2 and its 2 servers", agents, marked, err)
	}
	requireExactCounters(t, conn, org, "the dormant sweep")

	alert := db.NewAlert{Type: "new_high_risk_server", Severity: "high", Title: "t", Message: "m",
		ServerID: &fs, ServerName: ptr("fs"), AgentID: &a1, AgentHostname: ptr("host"), DedupKey: "k:" + fs.String()}
	if err := store.MarkKeyShared(ctx, org, a1, alert); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeleteAgent(ctx, org, a1); err != nil {
		t.Fatal(err)
	}
	requireExactCounters(t, conn, org, "deleting an agent with its servers")
	var ids struct {
		Server *uuid.UUID `db:"server_id"`
		Agent  *uuid.UUID `db:"agent_id"`
		Name   *string    `db:"server_name"`
	}
	if err := conn.Get(&ids, `SELECT server_id, agent_id, server_name FROM alerts WHERE organization_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if ids.Server != nil || ids.Agent != nil || ids.Name == nil || *ids.Name != "fs" {
		t.Fatalf("the deleted agent's alert: server %v, agent %v, name %v; want no ids and the name kept", ids.Server, ids.Agent, ids.Name)
	}

	bulkAgent := uuid.New()
	key := sha256.Sum256([]byte(bulkAgent.String()))
	now := time.Now()
	if err := store.BulkLoadInventory(ctx, org, []db.BulkAgent{{ID: bulkAgent, Name: "bulk", KeyHash: key[:], KeyPrefix: "mcp_sk_bulk", LastSeenAt: now}},
		[]db.BulkServer{
			{ID: uuid.New(), AgentID: bulkAgent, ServerName: "fs", ServerType: "filesystem", ConfigHash: key[:], RiskLevel: "high", RiskFactors: "[]", Status: "active", FirstSeenAt: now, LastSeenAt: now},
			{ID: uuid.New(), AgentID: bulkAgent, ServerName: "old", ServerType: "x", ConfigHash: key[:], RiskLevel: "low", RiskFactors: "[]", Status: "dormant", FirstSeenAt: now, LastSeenAt: now},
		}, false); err != nil {
		t.Fatal(err)
	}
	requireExactCounters(t, conn, org, "a bulk load")

	if _, err := store.CompactRollups(ctx, 0); err != nil {
		t.Fatal(err)
	}
	requireExactCounters(t, conn, org, "compaction")
	requireExactCounters(t, conn, other, "all of it, in the other organization")
}

func ptr[T any](v T) *T { return &v }
