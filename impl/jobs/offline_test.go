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
