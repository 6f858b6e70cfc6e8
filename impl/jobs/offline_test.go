package jobs

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestOfflineSweepRaisesInBatches alerts five silent agents in transactions of at most two
// alerts: every one, once, and none again on the next sweep.
func TestOfflineSweepRaisesInBatches(t *testing.T) {
	defer func(n int) { offlineBatch = n }(offlineBatch)
	offlineBatch = 2
	conn := dbtest.New(t)
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Silent fleet")
	for range 5 {
		dbtest.Agent(t, store, org)
	}
	conn.MustExec(`UPDATE agents SET last_seen_at = now() WHERE organization_id = $1`, org) // heard from once
	sweep := &OfflineSweep{Store: store, After: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return time.Now().Add(time.Hour) }}
	// One transaction raises no more than its limit.
	if n, err := store.RaiseOfflineAlerts(context.Background(), org, time.Now().Add(time.Minute), 2); err != nil || n != 2 {
		t.Fatalf("one batch of 2: raised %d, %v", n, err)
	}
	raised, _, err := sweep.RunOnce(context.Background())
	if err != nil || raised != 3 {
		t.Fatalf("first sweep: raised %d, %v; want the other 3", raised, err)
	}
	var alerts int
	if err := conn.Get(&alerts, `SELECT count(*) FROM alerts WHERE organization_id = $1 AND type = 'agent_offline'`, org); err != nil || alerts != 5 {
		t.Fatalf("%d agent_offline alerts (%v), want 5", alerts, err)
	}
	if raised, _, err := sweep.RunOnce(context.Background()); err != nil || raised != 0 {
		t.Fatalf("second sweep: raised %d, %v; want 0", raised, err)
	}
}

// TestOfflineAndIdleSweepsResolveInBatchesAndSkipHeldRows: agents back from silence are resolved
// in statements of at most the batch, and the sweeps of agents skip a row another transaction
// holds (a heartbeat flush, a report batch) instead of waiting for it; the next sweep takes it.
func TestOfflineAndIdleSweepsResolveInBatchesAndSkipHeldRows(t *testing.T) {
	defer func(n int) { offlineBatch = n }(offlineBatch)
	offlineBatch = 2
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Returning fleet")
	for range 5 {
		dbtest.Agent(t, store, org)
	}
	conn.MustExec(`UPDATE agents SET last_seen_at = now() - interval '2 hours' WHERE organization_id = $1`, org)
	sweep := &OfflineSweep{Store: store, After: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if raised, _, err := sweep.RunOnce(ctx); err != nil || raised != 5 {
		t.Fatalf("raised %d, %v; want 5", raised, err)
	}

	// Every agent is heard from again; one of them is held by another transaction.
	conn.MustExec(`UPDATE agents SET last_seen_at = now() + interval '1 second' WHERE organization_id = $1`, org)
	held, err := conn.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	var heldID string
	if err := held.Get(&heldID, `SELECT id FROM agents WHERE organization_id = $1 ORDER BY id LIMIT 1 FOR UPDATE`, org); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if n, err := store.ResolveOfflineAlerts(quick, org, 2); err != nil || n != 2 {
		t.Fatalf("one batch of 2: %d back, %v", n, err)
	}
	_, back, err := sweep.RunOnce(quick)
	if err != nil || back != 2 {
		t.Fatalf("the sweep while one agent is held: %d back, %v; want the other 2 (and no wait)", back, err)
	}
	// Every agent silent again (the held one already is, for the idle mark: never heard from).
	conn.MustExec(`UPDATE agents SET last_seen_at = NULL WHERE organization_id = $1 AND id <> $2`, org, heldID)
	if n, err := store.MarkIdleAgents(quick, org, 10); err != nil || n != 4 {
		t.Fatalf("marked %d idle, %v; want the 4 not held", n, err)
	}
	held.Rollback()
	_, back, err = sweep.RunOnce(quick)
	if err != nil || back != 1 {
		t.Fatalf("after the rollback: %d back, %v; want the held one", back, err)
	}
	var open int
	if err := conn.Get(&open, `SELECT count(*) FROM alerts WHERE organization_id = $1 AND type = 'agent_offline' AND NOT dismissed`, org); err != nil || open != 0 {
		t.Fatalf("%d agent_offline alerts still open (%v), want 0", open, err)
	}
}
