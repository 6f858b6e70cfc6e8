package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// seenBuffer holds agents' last-seen times between flushes. A fleet of 100,000 agents sends
// over 1,600 heartbeats a second; writing each would make PostgreSQL the bottleneck, so they
// are merged in memory and written in one statement per flush. A crash loses at most one flush
// interval of last-seen times; everything else an agent reports is written before the request
// is answered.
type seenBuffer struct {
	store   *db.Storage
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	pending map[uuid.UUID]db.AgentSeen
}

func newSeenBuffer(store *db.Storage, log *slog.Logger, m *metrics) *seenBuffer {
	return &seenBuffer{store: store, log: log, metrics: m, pending: map[uuid.UUID]db.AgentSeen{}}
}

// size is how many agents' times wait for the next flush.
func (b *seenBuffer) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// touch records that an agent was seen at t, by a heartbeat that sent meta or by a report (nil).
// The details of the agent's newest heartbeat are kept.
func (b *seenBuffer) touch(orgID, agentID uuid.UUID, t time.Time, meta *db.AgentMeta) {
	b.mu.Lock()
	cur, ok := b.pending[agentID]
	switch {
	case !ok:
		b.pending[agentID] = db.AgentSeen{OrganizationID: orgID, AgentID: agentID, SeenAt: t, Meta: meta}
	case cur.SeenAt.Before(t):
		if meta == nil {
			meta = cur.Meta
		}
		b.pending[agentID] = db.AgentSeen{OrganizationID: orgID, AgentID: agentID, SeenAt: t, Meta: meta}
	case cur.Meta == nil && meta != nil:
		cur.Meta = meta
		b.pending[agentID] = cur
	}
	b.mu.Unlock()
}

// seen returns an agent's last-seen time not yet flushed, if any.
func (b *seenBuffer) seen(agentID uuid.UUID) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.pending[agentID]
	return cur.SeenAt, ok
}

// run flushes every interval until ctx ends, then writes what is left.
func (b *seenBuffer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush(context.WithoutCancel(ctx))
		case <-ctx.Done():
			b.flush(context.WithoutCancel(ctx))
			return
		}
	}
}

// flush writes what is pending. On failure the batch goes back into the buffer (newer times
// win) and is retried at the next tick.
func (b *seenBuffer) flush(ctx context.Context) {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.mu.Unlock()
		return
	}
	batch := make([]db.AgentSeen, 0, len(b.pending))
	for _, s := range b.pending {
		batch = append(batch, s)
	}
	b.pending = make(map[uuid.UUID]db.AgentSeen, len(batch))
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	err := b.store.TouchAgents(ctx, batch)
	b.metrics.flushed(time.Since(start))
	if err != nil {
		b.log.Warn("flush agents' last-seen times; will retry", slog.Int("agents", len(batch)), slog.Any("error", err))
		for _, s := range batch {
			b.touch(s.OrganizationID, s.AgentID, s.SeenAt, s.Meta)
		}
	}
}
