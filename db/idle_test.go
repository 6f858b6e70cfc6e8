package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestActiveAgentsMatchADirectCountWhateverIsMarkedIdle: the dashboard's active_agents, which
// reads only the agents not marked idle, equals a direct count of the agents seen within the
// online window after the idle sweep, heartbeat flushes (also of idle agents), a changed report,
// a heartbeat's new details and an agent's deletion, and the sweep never marks an agent seen
// within the window.
func TestActiveAgentsMatchADirectCountWhateverIsMarkedIdle(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Idle")
	other := dbtest.Organization(t, store, "Other")
	var agents []uuid.UUID
	for range 8 {
		agents = append(agents, dbtest.Agent(t, store, org))
	}
	otherAgent := dbtest.Agent(t, store, other)
	// Seen: 0 and 1 just now, 2 two minutes ago, 3 five minutes ago, 4 to 6 an hour ago, 7 never.
	ago := []string{"0", "0", "2 minutes", "5 minutes", "1 hour", "1 hour", "1 hour"}
	for i, a := range ago {
		conn.MustExec(`UPDATE agents SET last_seen_at = now() - $3::interval WHERE organization_id = $1 AND id = $2`, org, agents[i], a)
	}
	conn.MustExec(`UPDATE agents SET last_seen_at = now() WHERE organization_id = $1`, other)

	requireActive := func(after string, want int64) {
		t.Helper()
		var direct int64
		if err := conn.Get(&direct, `SELECT count(*) FROM agents WHERE organization_id = $1 AND last_seen_at > now() - interval '3 minutes'`, org); err != nil {
			t.Fatal(err)
		}
		st, err := store.DashboardStats(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		if st.ActiveAgents != direct || direct != want {
			t.Fatalf("after %s: active_agents %d, a direct count %d, want %d", after, st.ActiveAgents, direct, want)
		}
		var wrong int
		if err := conn.Get(&wrong, `SELECT count(*) FROM agents WHERE organization_id = $1 AND idle AND last_seen_at > now() - interval '4 minutes'`, org); err != nil || wrong != 0 {
			t.Fatalf("after %s: %d agents seen within 4 minutes are marked idle (%v)", after, wrong, err)
		}
	}
	idle := func() int64 {
		t.Helper()
		var n int64
		if err := conn.Get(&n, `SELECT count(*) FROM agents WHERE organization_id = $1 AND idle`, org); err != nil {
			t.Fatal(err)
		}
		return n
	}
	requireActive("setting the times", 3)

	if n, err := store.MarkIdleAgents(ctx, org, 2); err != nil || n != 2 {
		t.Fatalf("first batch: %d marked, %v; want 2", n, err)
	}
	if n, err := store.MarkIdleAgents(ctx, org, 2); err != nil || n != 2 {
		t.Fatalf("second batch: %d marked, %v; want 2", n, err)
	}
	if n, err := store.MarkIdleAgents(ctx, org, 2); err != nil || n != 1 {
		t.Fatalf("third batch: %d marked, %v; want 1 (agents 3 to 7)", n, err)
	}
	if n := idle(); n != 5 {
		t.Fatalf("%d agents idle, want 5", n)
	}
	requireActive("the idle sweep", 3)

	// A heartbeat flush brings back idle agents 4 and 7 and refreshes 2.
	now := time.Now()
	if err := store.TouchAgents(ctx, []db.AgentSeen{{org, agents[4], now, nil}, {org, agents[7], now, nil}, {org, agents[2], now, nil}, {other, otherAgent, now, nil}}); err != nil {
		t.Fatal(err)
	}
	requireActive("a heartbeat flush", 5)
	if n := idle(); n != 3 {
		t.Fatalf("%d agents idle after the flush, want 3", n)
	}

	// New heartbeat details of idle agent 5.
	if _, err := store.UpdateAgentMeta(ctx, org, agents[5], db.AgentMeta{Hostname: ptr("h")}, nil, now); err != nil {
		t.Fatal(err)
	}
	requireActive("a heartbeat's new details", 6)

	// A changed report of idle agent 6.
	report(t, store, org, agents[6], server{"fs", "filesystem", "high"})
	requireActive("a changed report", 7)

	if _, err := store.DeleteAgent(ctx, org, agents[0]); err != nil {
		t.Fatal(err)
	}
	requireActive("deleting an agent", 6)
	if n, err := store.MarkIdleAgents(ctx, org, 100); err != nil || n != 0 {
		t.Fatalf("sweep after: %d marked, %v; want none (agent 3 is idle already)", n, err)
	}
	requireActive("another sweep", 6)
}
