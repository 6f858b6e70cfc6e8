package ingest

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// Before a replica answers "unchanged" from what it remembers of an agent (its last report hash,
// its machine's details), it confirms that this is still what is stored: another replica may
// have applied a different report or heartbeat since, and an answer from memory alone would
// acknowledge a report this replica never applied. The announcements that other replicas poll
// (keycache.go) arrive seconds later; the confirmation is exact.
//
// It costs one read per organization per round, not one per request: requests that arrive while
// an organization's read is running join the next one, which starts when it ends, so under load a
// single indexed read confirms hundreds of agents, and each request's read started after the
// request arrived (so it sees every change acknowledged before then).

// storedReader groups the confirmations of an organization's agents into rounds of one read.
type storedReader struct {
	store *db.Storage

	mu   sync.Mutex
	orgs map[uuid.UUID]*orgRounds
}

// orgRounds is an organization's running read and the round waiting for it to end.
type orgRounds struct {
	running bool
	next    *storedRound
}

// storedRound is one read of some agents' stored state.
type storedRound struct {
	agents map[uuid.UUID]struct{}
	done   chan struct{}
	states map[uuid.UUID]db.AgentState
	err    error
}

// state returns the agent's stored state, read after the call began; db.ErrNotFound when the
// agent was deleted.
func (r *storedReader) state(ctx context.Context, a Agent) (db.AgentState, error) {
	r.mu.Lock()
	if r.orgs == nil {
		r.orgs = map[uuid.UUID]*orgRounds{}
	}
	o := r.orgs[a.OrgID]
	if o == nil {
		o = &orgRounds{}
		r.orgs[a.OrgID] = o
	}
	if o.next == nil {
		o.next = &storedRound{agents: map[uuid.UUID]struct{}{}, done: make(chan struct{})}
	}
	round := o.next
	round.agents[a.AgentID] = struct{}{}
	lead := !o.running
	if lead {
		o.running = true
	}
	r.mu.Unlock()

	if lead {
		// This request reads for its round and for every round that gathers meanwhile. The
		// reads outlive a cancelled request: other requests wait for them.
		go r.readRounds(context.WithoutCancel(ctx), a.OrgID)
	}
	select {
	case <-round.done:
	case <-ctx.Done():
		return db.AgentState{}, ctx.Err()
	}
	if round.err != nil {
		return db.AgentState{}, round.err
	}
	st, ok := round.states[a.AgentID]
	if !ok {
		return db.AgentState{}, db.ErrNotFound
	}
	return st, nil
}

// readRounds reads the organization's waiting rounds one after the other until none is left.
func (r *storedReader) readRounds(ctx context.Context, org uuid.UUID) {
	for {
		r.mu.Lock()
		o := r.orgs[org]
		round := o.next
		if round == nil {
			o.running = false
			delete(r.orgs, org)
			r.mu.Unlock()
			return
		}
		o.next = nil
		r.mu.Unlock()

		ids := make([]uuid.UUID, 0, len(round.agents))
		for id := range round.agents {
			ids = append(ids, id)
		}
		states, err := r.store.AgentStates(ctx, org, ids)
		round.states = make(map[uuid.UUID]db.AgentState, len(states))
		for _, s := range states {
			round.states[s.AgentID] = s
		}
		round.err = err
		close(round.done)
	}
}
