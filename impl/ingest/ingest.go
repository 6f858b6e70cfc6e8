// Package ingest is the agents' hot path: it authenticates agent keys from a cache, buffers
// last-seen times, normalizes, redacts and scores reports, recognises unchanged ones before any
// of that, and writes changed ones in batches per organization with the alerts they raise.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/mcpwarden/mcpwarden/db"
)

// Options configure an Ingester.
type Options struct {
	// Version is the server's version; it is part of every report hash, so that an upgrade (new
	// risk rules) re-scores each agent's servers at its next report.
	Version string
	Logger  *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HeartbeatFlushInterval is how often buffered last-seen times are written.
	HeartbeatFlushInterval time.Duration
	// RevocationPollInterval is how often the key announcements of other replicas are read.
	RevocationPollInterval time.Duration
	// ReportRate and ReportBurst limit each agent's reports on this replica: a token bucket
	// that refills ReportRate a second and holds ReportBurst.
	ReportRate  float64
	ReportBurst int
}

// Ingester holds one replica's hot-path state. Run keeps its caches honest and its buffer
// flushed; without Run, keys stay cached until their TTL and last-seen times wait in memory.
type Ingester struct {
	store      *db.Storage
	log        *slog.Logger
	now        func() time.Time
	opts       Options
	keys       *keyCache
	seen       *seenBuffer
	redactions redactCache
	queue      reportQueue
	stored     *storedReader
	metrics    *metrics
}

// New returns an Ingester writing to store.
func New(store *db.Storage, opts Options) *Ingester {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	in := &Ingester{store: store, log: opts.Logger, now: opts.Now, opts: opts, metrics: newMetrics()}
	in.keys = newKeyCache(store, opts.Logger, opts.Now)
	in.seen = newSeenBuffer(store, opts.Logger, in.metrics)
	in.queue.store, in.queue.metrics = store, in.metrics
	in.stored = newStoredReader(store)
	return in
}

// Run polls other replicas' key announcements and flushes last-seen times until ctx ends, then
// writes what is left in the buffer.
func (in *Ingester) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.keys.run(ctx, in.opts.RevocationPollInterval)
	}()
	in.seen.run(ctx, in.opts.HeartbeatFlushInterval)
	<-done
}

// ErrUnknownKey is an agent key that is malformed, unknown, deleted or rotated away.
var ErrUnknownKey = errors.New("unknown agent key")

// Agent is an authenticated agent.
type Agent struct {
	OrgID, AgentID uuid.UUID
}

// Authenticate returns the agent holding key, or ErrUnknownKey.
func (in *Ingester) Authenticate(ctx context.Context, key string) (Agent, error) {
	st, err := in.keys.lookup(ctx, key)
	if err != nil {
		return Agent{}, err
	}
	return st.agent, nil
}

// Heartbeat records that an agent is alive. It reads and writes nothing in the steady state: when
// the heartbeat comes from the machine the key is bound to and sends the details this replica
// holds, its time and details wait in the buffer, whose flush writes them unless a newer heartbeat
// was written meanwhile. So a change another replica wrote and this one has not heard of yet (an
// agent's details reverted there) is overwritten by the newest heartbeat within a flush interval,
// and a key deleted or rebound elsewhere is heard of within a poll interval, as authentication
// itself is. Anything else is checked against the stored state and written at once. It returns
// an *InvalidError for details PostgreSQL cannot store, ErrKeyShared for a second machine using
// the agent's key (see identity.go), and db.ErrNotFound when the agent was deleted after its key
// was cached.
func (in *Ingester) Heartbeat(ctx context.Context, a Agent, meta db.AgentMeta, machineID *string) error {
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"hostname", meta.Hostname}, {"username", meta.Username}, {"agent_version", meta.AgentVersion}} {
		if f.v != nil {
			if err := rejectNUL(f.name, *f.v); err != nil {
				return err
			}
		}
	}
	now := in.now()
	id := Identity{MachineID: machineID, Hostname: meta.Hostname}
	if st := in.keys.agent(a.AgentID); st != nil && st.settled(meta, id, now) {
		in.seen.touch(a.OrgID, a.AgentID, now, &meta)
		return nil
	}
	stored, err := in.storedState(ctx, a)
	if err != nil {
		return err
	}
	bind, err := in.admit(ctx, a, stored, id)
	if err != nil {
		return err
	}
	if !bind && sameMeta(stored.AgentMeta, meta) {
		in.seen.touch(a.OrgID, a.AgentID, now, &meta)
		return nil
	}
	inv, err := in.store.UpdateAgentMeta(ctx, a.OrgID, a.AgentID, meta, machineID, now)
	if err != nil {
		return err
	}
	if st := in.keys.agent(a.AgentID); st != nil {
		st.wroteMeta(meta, machineID)
		in.keys.wrote(inv) // other replicas reload; this one holds the new details already
	}
	return nil
}

// storedState reads the agent's stored state (see stored.go) and remembers it.
func (in *Ingester) storedState(ctx context.Context, a Agent) (db.AgentState, error) {
	stored, err := in.stored.state(ctx, a)
	if err != nil {
		return stored, err
	}
	if st := in.keys.agent(a.AgentID); st != nil {
		st.setStored(stored)
	}
	return stored, nil
}

// Admit reads the reporting agent's stored state and checks that the report comes from the
// machine its key is bound to (ErrKeyShared otherwise, see identity.go), binding the key to the
// machine on its first report with an identity. The state is what KnownUnchanged and Report
// compare with.
func (in *Ingester) Admit(ctx context.Context, a Agent, id Identity) (db.AgentState, error) {
	stored, err := in.storedState(ctx, a)
	if err != nil {
		return stored, err
	}
	bind, err := in.admit(ctx, a, stored, id)
	if err != nil {
		return stored, err
	}
	if bind {
		inv, err := in.store.BindMachine(ctx, a.OrgID, a.AgentID, *id.MachineID)
		if err != nil {
			return stored, err
		}
		stored.MachineID = id.MachineID
		if st := in.keys.agent(a.AgentID); st != nil {
			st.wroteMeta(stored.AgentMeta, id.MachineID)
			in.keys.wrote(inv)
		}
	}
	return stored, nil
}

// KeyReplaced forgets, on this replica at once, a key that was deleted or rotated away; other
// replicas learn it from the announcement the change wrote.
func (in *Ingester) KeyReplaced(keyHash []byte, agentID uuid.UUID) { in.keys.evict(keyHash, agentID) }

// LastSeen returns an agent's last-seen time still waiting in this replica's buffer, if any.
func (in *Ingester) LastSeen(agentID uuid.UUID) (time.Time, bool) { return in.seen.seen(agentID) }

// ReportsForgotten tells this replica that the agents' stored report hashes were cleared (their
// servers went dormant), so that their next reports are applied in full even if unchanged.
func (in *Ingester) ReportsForgotten(agents []uuid.UUID) {
	for _, id := range agents {
		if st := in.keys.agent(id); st != nil {
			st.setReport(nil, nil)
		}
	}
}

// AllowReport reports whether the agent may report now, and otherwise how long it should wait.
// An agent reports every quarter of an hour and when a configuration changes; one that sends
// far more (a loop, a stolen key) is refused before its reports cost anything.
func (in *Ingester) AllowReport(a Agent) (bool, time.Duration) {
	st := in.keys.agent(a.AgentID)
	if st == nil {
		return true, 0 // its key was forgotten since it authenticated: nothing to count against
	}
	now := in.now()
	st.mu.Lock()
	if st.reports == nil {
		st.reports = rate.NewLimiter(rate.Limit(in.opts.ReportRate), in.opts.ReportBurst)
	}
	r := st.reports.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait > 0 {
		r.CancelAt(now)
	}
	st.mu.Unlock()
	return wait == 0, wait
}

// PollRevocations reads the key announcements written since the last poll, as Run does.
func (in *Ingester) PollRevocations(ctx context.Context) error { return in.keys.poll(ctx) }

// StoredReads is how many reads of agents' stored state this replica made (see stored.go).
func (in *Ingester) StoredReads() int64 { return in.stored.reads.Load() }

// KeyLookups is how many keys were read from the database (key cache misses).
func (in *Ingester) KeyLookups() int64 { return in.keys.lookups.Load() }

// FlushLastSeen writes the buffered last-seen times now, as Run does.
func (in *Ingester) FlushLastSeen(ctx context.Context) { in.seen.flush(ctx) }
