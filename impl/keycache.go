package impl

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
)

// Agent keys are looked up on every heartbeat and report, so lookups are cached in memory. The
// TTL bounds how long a deleted or rotated key keeps working on another replica; the replica
// that deletes or rotates evicts it at once. Unknown keys are cached briefly too, so a stream
// of well-formed but wrong keys does not become a stream of queries.
const (
	keyCacheTTL      = 5 * time.Second
	keyCacheNegative = 2 * time.Second
	keyCacheShards   = 32
	// keyCacheMaxPerShard bounds memory (about 1M entries in all); a full shard drops expired
	// entries, then arbitrary ones.
	keyCacheMaxPerShard = 32 << 10
)

// agentState is what the hot paths know about an agent: who it is, and what it last reported,
// so that an unchanged heartbeat or report writes nothing. It is refreshed from the database
// whenever its key's cache entry expires.
type agentState struct {
	principal Principal

	mu         sync.Mutex
	meta       db.AgentMeta
	reportHash []byte
}

type keyEntry struct {
	state   *agentState // nil: no such key
	expires time.Time
}

type keyCacheShard struct {
	mu      sync.RWMutex
	entries map[[32]byte]keyEntry
}

type keyCache struct {
	store  *db.Storage
	now    func() time.Time
	shards [keyCacheShards]keyCacheShard

	agentsMu sync.RWMutex
	agents   map[uuid.UUID]*agentState // by agent id, the newest state loaded
}

func newKeyCache(store *db.Storage, now func() time.Time) *keyCache {
	c := &keyCache{store: store, now: now, agents: map[uuid.UUID]*agentState{}}
	for i := range c.shards {
		c.shards[i].entries = map[[32]byte]keyEntry{}
	}
	return c
}

func (c *keyCache) shard(h [32]byte) *keyCacheShard { return &c.shards[h[0]%keyCacheShards] }

// lookup returns the agent holding key, or errUnauthenticated.
func (c *keyCache) lookup(ctx context.Context, key string) (*agentState, error) {
	if !apikey.Valid(key) {
		return nil, errUnauthenticated // refused without touching the database
	}
	var h [32]byte
	copy(h[:], apikey.Hash(key))
	sh := c.shard(h)
	now := c.now()
	sh.mu.RLock()
	e, ok := sh.entries[h]
	sh.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.state == nil {
			return nil, errUnauthenticated
		}
		return e.state, nil
	}
	k, err := c.store.AgentByKeyHash(ctx, h[:])
	switch {
	case errors.Is(err, db.ErrNotFound):
		c.put(h, keyEntry{expires: now.Add(keyCacheNegative)})
		return nil, errUnauthenticated
	case err != nil:
		return nil, err
	}
	st := &agentState{
		principal:  Principal{OrgID: k.OrganizationID, AgentID: k.AgentID},
		meta:       k.AgentMeta,
		reportHash: k.ReportHash,
	}
	c.put(h, keyEntry{state: st, expires: now.Add(keyCacheTTL)})
	c.agentsMu.Lock()
	c.agents[k.AgentID] = st
	c.agentsMu.Unlock()
	return st, nil
}

func (c *keyCache) put(h [32]byte, e keyEntry) {
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.entries) >= keyCacheMaxPerShard {
		now := c.now()
		for k, old := range sh.entries {
			if !now.Before(old.expires) {
				delete(sh.entries, k)
			}
		}
		for k := range sh.entries {
			if len(sh.entries) < keyCacheMaxPerShard*3/4 {
				break
			}
			delete(sh.entries, k)
		}
	}
	sh.entries[h] = e
}

// agent returns the state last loaded for an agent, or nil.
func (c *keyCache) agent(id uuid.UUID) *agentState {
	c.agentsMu.RLock()
	defer c.agentsMu.RUnlock()
	return c.agents[id]
}

// evict forgets a key (deleted or rotated away) and its agent's state on this replica at once.
func (c *keyCache) evict(keyHash []byte, agentID uuid.UUID) {
	var h [32]byte
	copy(h[:], keyHash)
	sh := c.shard(h)
	sh.mu.Lock()
	delete(sh.entries, h)
	sh.mu.Unlock()
	c.agentsMu.Lock()
	delete(c.agents, agentID)
	c.agentsMu.Unlock()
}
