package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestOpenAlertCountStaysExactOnEveryPathThatOpensOrDismisses: alert_counts, which the
// dashboard's unresolved_alerts sums, equals a count of the open alerts after every statement
// that raises, dismisses or resolves alerts, after a compaction, and after concurrent dismissals
// of the same alert; another organization's alerts are not counted.
func TestOpenAlertCountStaysExactOnEveryPathThatOpensOrDismisses(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	org := dbtest.Organization(t, store, "Alerts")
	other := dbtest.Organization(t, store, "Other")
	user := uuid.New()

	requireOpen := func(after string, want int64) {
		t.Helper()
		requireExactCounters(t, conn, org, after)
		requireExactCounters(t, conn, other, after)
		st, err := store.DashboardStats(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		if st.UnresolvedAlerts != want {
			t.Fatalf("after %s: unresolved_alerts %d, want %d", after, st.UnresolvedAlerts, want)
		}
	}
	alert := func(severity, key string) db.NewAlert {
		return db.NewAlert{Type: "malicious_package", Severity: severity, Title: "t", Message: "m", DedupKey: key}
	}

	ids, err := store.InsertAlerts(ctx, org, []db.NewAlert{alert("high", "a"), alert("high", "b"), alert("medium", "c"), alert("low", "d")})
	if err != nil || len(ids) != 4 {
		t.Fatalf("insert: %v, %v", ids, err)
	}
	if _, err := store.InsertAlerts(ctx, other, []db.NewAlert{alert("high", "a")}); err != nil {
		t.Fatal(err)
	}
	requireOpen("raising 4 alerts", 4)

	if again, err := store.InsertAlerts(ctx, org, []db.NewAlert{alert("high", "a"), alert("low", "e")}); err != nil || len(again) != 1 {
		t.Fatalf("insert again: %v, %v; want only e created", again, err)
	}
	requireOpen("raising one open alert again and a new one", 5)

	if _, err := store.DismissAlert(ctx, org, ids[0], user, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DismissAlert(ctx, org, ids[0], user, nil); err != nil {
		t.Fatal(err)
	}
	requireOpen("dismissing one alert twice", 4)

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := store.DismissAlert(ctx, org, ids[1], user, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	requireOpen("dismissing one alert four times at once", 3)

	agent := dbtest.Agent(t, store, org)
	conn.MustExec(`UPDATE agents SET last_seen_at = now() - interval '1 hour' WHERE organization_id = $1 AND id = $2`, org, agent)
	if n, err := store.RaiseOfflineAlerts(ctx, org, time.Now().Add(-5*time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("offline: %d raised, %v", n, err)
	}
	requireOpen("an offline alert", 4)
	conn.MustExec(`UPDATE agents SET last_seen_at = now() WHERE organization_id = $1 AND id = $2`, org, agent)
	if n, err := store.ResolveOfflineAlerts(ctx, org, 1000); err != nil || n != 1 {
		t.Fatalf("resolve: %d back, %v", n, err)
	}
	requireOpen("resolving the offline alert", 3)

	severity := "low"
	if n, err := store.DismissAllAlerts(ctx, org, user, &severity, nil); err != nil || n != 2 {
		t.Fatalf("dismiss all low: %d, %v", n, err)
	}
	requireOpen("dismissing every low alert", 1)

	if _, err := store.CompactRollups(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := conn.Get(&rows, `SELECT count(*) FROM alert_counts WHERE organization_id = $1`, org); err != nil || rows != 1 {
		t.Fatalf("after compaction: %d rows, %v; want 1", rows, err)
	}
	requireOpen("compaction", 1)

	if n, err := store.DismissAllAlerts(ctx, org, user, nil, nil); err != nil || n != 1 {
		t.Fatalf("dismiss all: %d, %v", n, err)
	}
	requireOpen("dismissing every alert", 0)
	if _, err := store.CompactRollups(ctx, 0); err != nil {
		t.Fatal(err)
	}
	requireOpen("compacting to nothing", 0)
}
