package impl_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/jobs"
)

// TestAgentOfflineIsRaisedOncePerSilenceAndResolves: an agent silent past the threshold raises
// agent_offline once, however many replicas sweep at once and however often; it resolves itself
// when the agent is heard from again, and the next silence raises a new one.
func TestAgentOfflineIsRaisedOncePerSilenceAndResolves(t *testing.T) {
	// The replicas' own sweeps are off; the test runs two at once, as two replicas would.
	env := apitest.New(t, func(c *config.Server) { c.AgentOfflineAfter = 0 })
	_, token := env.SeedUser(t, "admin")
	agentID, key := enrol(t, env, token, "laptop")
	_, quietKey := enrol(t, env, token, "still here")
	heartbeat(env, key, "laptop.local")
	heartbeat(env, quietKey, "quiet.local")
	env.Ingester.FlushLastSeen(tctx)
	sweep := func() {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				s := &jobs.OfflineSweep{Store: env.Store, After: 5 * time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
				if _, _, err := s.RunOnce(tctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	offline := func() (open, all int) {
		resp, err := env.User(token).ListAlertsWithResponse(tctx, nil)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("alerts: %v", err)
		}
		for _, a := range resp.JSON200.Items {
			if a.Type == mcpwarden.AgentOffline {
				if a.AgentId == nil || *a.AgentId != agentID {
					t.Errorf("agent_offline for agent %v, want only %s", a.AgentId, agentID)
				}
				all++
				if !a.Dismissed {
					open++
				}
			}
		}
		return open, all
	}
	silence := func(id uuid.UUID) {
		env.Store.DB().MustExec(`UPDATE agents SET last_seen_at = now() - interval '10 minutes' WHERE id = $1`, id)
	}

	sweep()
	if open, all := offline(); all != 0 {
		t.Fatalf("agent_offline for agents heard from a moment ago: %d open, %d in all", open, all)
	}
	silence(agentID)
	for range 3 {
		sweep()
	}
	if open, all := offline(); open != 1 || all != 1 {
		t.Fatalf("after three sweeps by two replicas of one silence: %d open, %d in all; want exactly 1", open, all)
	}

	heartbeat(env, key, "laptop.local") // back
	env.Ingester.FlushLastSeen(tctx)
	sweep()
	if open, all := offline(); open != 0 || all != 1 {
		t.Fatalf("after the agent came back: %d open, %d in all; want it resolved", open, all)
	}
	silence(agentID) // the next silence is a new one
	sweep()
	sweep()
	if open, all := offline(); open != 1 || all != 2 {
		t.Errorf("after a second silence: %d open, %d in all; want a new one", open, all)
	}
}
