package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestServeReadsFromDatabaseReadURLAndRefusesAStandbyAsThePrimary: serve's database setup puts
// DATABASE_READ_URL's standby to use, and refuses to start on a standby given as DATABASE_URL
// (where sign-ins and reports would fail), saying which variable to use instead.
func TestServeReadsFromDatabaseReadURLAndRefusesAStandbyAsThePrimary(t *testing.T) {
	ctx := context.Background()
	pair := dbtest.NewReplicated(t)
	log := newLogger(0, io.Discard)
	secret := strings.Repeat("s", 32)

	cfg, err := config.FromMap(map[string]string{"DATABASE_URL": pair.StandbyURL, "MCPWARDEN_JWT_SECRET": secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := database(ctx, &cfg, log); !errors.Is(err, db.ErrStandby) || !strings.Contains(err.Error(), "DATABASE_READ_URL") {
		t.Fatalf("serve on a standby as DATABASE_URL: %v, want the standby refused", err)
	}

	cfg, err = config.FromMap(map[string]string{
		"DATABASE_URL": pair.PrimaryURL, "DATABASE_READ_URL": pair.StandbyURL, "MCPWARDEN_JWT_SECRET": secret,
		"MCPWARDEN_READ_REPLICA_CHECK_INTERVAL": "50ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, stop, err := database(ctx, &cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	defer store.Close()
	watch, cancel := context.WithCancel(ctx)
	defer cancel()
	go store.WatchReadReplica(watch)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, ok := store.ReadReplicaStatus()
		if !ok {
			t.Fatal("DATABASE_READ_URL is set but the storage has no read replica")
		}
		if st.InUse && st.State == db.ReplicaStreaming {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read replica is still not in use after 60 s: %s, %v", st.State, st.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
