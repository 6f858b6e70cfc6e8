package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

// TestHeartbeatFlushesAreHOT flushes last-seen times the way a real fleet's heartbeats arrive
// (each flush a few agents of each page, every agent once a minute) and reads PostgreSQL's
// count of heap-only updates: a flush that changed an indexed column, or found its page full,
// would write index entries instead.
func TestHeartbeatFlushesAreHOT(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	store := db.New(conn)
	org := uuid.New()
	conn.MustExec(`INSERT INTO organizations (id, name) VALUES ($1, 'HOT')`, org)
	const agents, rounds = 300, 12
	ids := make([]uuid.UUID, agents)
	for i := range ids {
		ids[i] = uuid.New()
		conn.MustExec(`INSERT INTO agents (organization_id, id, name, key_hash, key_prefix, hostname, os_type, username, agent_version, last_seen_at)
			VALUES ($1, $2::uuid, 'laptop', sha256(convert_to($2::text, 'UTF8')), 'mcp_sk_abcd', 'laptop.corp.example', 'linux', 'dev', '0.2.0', now() - interval '1 hour')`, org, ids[i])
	}
	start := time.Now()
	for r := range rounds {
		var batch []db.AgentSeen
		for i := r; i < agents; i += rounds {
			batch = append(batch, db.AgentSeen{OrganizationID: org, AgentID: ids[i], SeenAt: start.Add(time.Duration(r) * time.Second)})
		}
		if err := store.TouchAgents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Backends report their statistics once idle, at most once a second: wait for them.
	var upd, hot int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		// The table's own counts, or its partitions' under MCPWARDEN_TEST_PARTITIONED.
		if err := conn.QueryRowx(`SELECT COALESCE(sum(n_tup_upd), 0), COALESCE(sum(n_tup_hot_upd), 0) FROM pg_stat_user_tables
			WHERE relid = 'agents'::regclass OR relid IN (SELECT relid FROM pg_partition_tree('agents') WHERE isleaf)`).Scan(&upd, &hot); err != nil {
			t.Fatal(err)
		}
		if upd >= agents || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if upd != agents {
		t.Fatalf("%d updates of agents counted, want %d (one per agent)", upd, agents)
	}
	if hot < upd*9/10 {
		t.Fatalf("%d of %d flush updates were HOT, want at least 90%%", hot, upd)
	}
	t.Logf("%d of %d flush updates were HOT", hot, upd)
}
