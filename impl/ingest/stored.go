package ingest

import (
	"context"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// Before a replica answers "unchanged" to a report from what it remembers of an agent (its last
// report hash), it confirms that this is still what is stored: another replica may have applied
// a different report since, and an answer from memory alone would acknowledge a report this
// replica never applied. The announcements that other replicas poll (keycache.go) arrive seconds
// later; the confirmation is exact. It costs one read per organization per round (see
// rounds.go), not one per request.

// storedReader groups the confirmations of an organization's agents into rounds of one read.
type storedReader struct {
	rounds[uuid.UUID, uuid.UUID, db.AgentState]
}

func newStoredReader(store *db.Storage) *storedReader {
	r := &storedReader{}
	r.read = func(ctx context.Context, org uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]db.AgentState, error) {
		states, err := store.AgentStates(ctx, org, ids)
		out := make(map[uuid.UUID]db.AgentState, len(states))
		for _, s := range states {
			out[s.AgentID] = s
		}
		return out, err
	}
	return r
}

// state returns the agent's stored state, read after the call began; db.ErrNotFound when the
// agent was deleted.
func (r *storedReader) state(ctx context.Context, a Agent) (db.AgentState, error) {
	st, ok, err := r.get(ctx, a.OrgID, a.AgentID)
	if err == nil && !ok {
		err = db.ErrNotFound
	}
	return st, err
}
