package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestKeyRevocationsArePolledAndPruned: rows newer than the poll's threshold are returned, and
// pruning removes only rows older than the retention.
func TestKeyRevocationsArePolledAndPruned(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	// Rows of two organizations: a poll reads every organization's.
	a, b := dbtest.Organization(t, store, "A"), dbtest.Organization(t, store, "B")
	conn.MustExec(`INSERT INTO agent_key_revocations (organization_id, key_hash, revoked_at) VALUES
		($1, decode(repeat('01', 32), 'hex'), now() - interval '2 hours'),
		($2, decode(repeat('02', 32), 'hex'), now() - interval '10 minutes'),
		($1, decode(repeat('03', 32), 'hex'), now())`, a, b)
	var dbNow time.Time
	if err := conn.Get(&dbNow, `SELECT now()`); err != nil {
		t.Fatal(err)
	}
	rows, err := store.KeyRevocationsSince(ctx, dbNow.Add(-time.Hour))
	if err != nil || len(rows) != 2 {
		t.Fatalf("since an hour ago: %d rows, %v", len(rows), err)
	}
	if rows, _ := store.KeyRevocationsSince(ctx, time.Time{}); len(rows) != 3 {
		t.Fatalf("since the zero time: %d rows", len(rows))
	}
	n, err := store.PruneKeyRevocations(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if rows, _ := store.KeyRevocationsSince(ctx, time.Time{}); len(rows) != 2 {
		t.Fatalf("after pruning: %d rows", len(rows))
	}
}
