package ingest

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
)

// Agent keys are looked up on every heartbeat and report, so verified keys are cached in memory
// for hours: a fleet heartbeating every minute then costs the database nothing per heartbeat.
// Staleness is bounded by polling instead of by the TTL: whatever deletes or rotates a key, or
// changes what a steady heartbeat is answered from (the agent's details, its machine binding, a
// sharing caught), writes the key's hash to agent_key_revocations, as a row of the agent's
// organization, and every replica reads every organization's new rows every few seconds and
// forgets those keys. The replica that deletes or rotates forgets the key at once. If polling
// fails for longer than keyCacheMaxStale the cache is not trusted at all until it succeeds
// again. A report hash is not announced: it is confirmed against the stored one on every report
// (stored.go).
//
// Unknown keys are cached briefly too (and in bounded number), so a stream of well-formed but
// wrong keys does not become a stream of queries.
const (
	keyCacheTTL      = 12 * time.Hour // re-verified after this anyway (jittered by up to 10%)
	keyCacheNegative = 2 * time.Second
	keyCacheShards   = 64
	// keyCacheMaxPerShard bounds memory (about 1M keys in all, a few hundred bytes each); a full
	// shard drops expired entries, then arbitrary ones.
	keyCacheMaxPerShard = 16 << 10
	// keyCacheMaxNegativePerShard bounds the unknown keys remembered.
	keyCacheMaxNegativePerShard = 1 << 10

	// revocationReread is how far before the newest row already seen each poll reads again: a
	// transaction that wrote its row earlier but committed later is still caught.
	revocationReread = 30 * time.Second
	// revocationRetention is how long rows are kept; a replica whose polls failed for half of
	// it forgets every key when it reconnects, since rows it never read may be gone.
	revocationRetention     = time.Hour
	revocationPruneInterval = 5 * time.Minute
	// keyCacheMaxStale: without a successful poll for this long, cached keys are re-verified.
	keyCacheMaxStale = 30 * time.Second
)

// agentState is what the hot paths know about an agent: who it is, and what it last reported,
// so that an unchanged heartbeat or report writes nothing.
// Everything but the report limiter is held inline, as numbers and arrays: a fleet's states
// then take little memory and give the garbage collector little to follow. Held as strings and
// slices before, at 200,000 agents (one fleet run each): live heap about 136 MB, now 90 MB; peak
// RSS 509 MB, now 324 MB; heartbeat p99 85 ms, now 20 ms.
type agentState struct {
	agent Agent

	mu sync.Mutex
	// details is a fingerprint of the agent's stored machine details, ident what the identity
	// rules compare (identity.go): all a steady heartbeat is checked against.
	details uint64
	ident   prints
	// report is the agent's report hash as stored; raw the hash of the last report body as
	// received, before normalization, for which the normalized report hash equalled report
	// (see Ingester.KnownUnchanged). All zeros is none.
	report, raw [sha256.Size]byte
	// reports limits how often the agent may report (see Ingester.AllowReport); nil until its
	// first report.
	reports *rate.Limiter
}

type keyEntry struct {
	state   *agentState // nil: no such key
	expires int64       // Unix nanoseconds
}

type keyCacheShard struct {
	mu        sync.RWMutex
	entries   map[[32]byte]keyEntry
	negatives int
	// gen counts invalidations, so that a lookup that raced one does not cache what it read
	// before the change committed.
	gen uint64
}

type keyCache struct {
	store  *db.Storage
	log    *slog.Logger
	now    func() time.Time
	shards [keyCacheShards]keyCacheShard
	// misses groups the database lookups of concurrent misses into rounds of one (rounds.go):
	// after a replica starts, every agent of a fleet misses within a heartbeat interval.
	misses rounds[struct{}, [32]byte, db.AgentKey]

	agentsMu sync.RWMutex
	agents   map[uuid.UUID]*agentState // by agent id, the state of its cached key

	lastPoll atomic.Int64 // unix nanoseconds of the last successful poll
	lookups  atomic.Int64 // keys read from the database (cache misses)
	hits     atomic.Int64 // keys answered from the cache

	pollMu    sync.Mutex
	since     time.Time              // the next poll reads rows newer than this
	applied   map[[32]byte]time.Time // rows already acted upon, by key
	ownWrites map[[32]byte]time.Time // rows this replica wrote for state it already holds (see wrote)
}

func newKeyCache(store *db.Storage, log *slog.Logger, now func() time.Time) *keyCache {
	c := &keyCache{
		store: store, log: log, now: now, agents: map[uuid.UUID]*agentState{},
		applied: map[[32]byte]time.Time{}, ownWrites: map[[32]byte]time.Time{},
	}
	for i := range c.shards {
		c.shards[i].entries = map[[32]byte]keyEntry{}
	}
	c.misses.read = func(ctx context.Context, _ struct{}, hashes [][32]byte) (map[[32]byte]db.AgentKey, error) {
		in := make([][]byte, len(hashes))
		for i := range hashes {
			in[i] = hashes[i][:]
		}
		keys, err := store.AgentsByKeyHashes(ctx, in)
		out := make(map[[32]byte]db.AgentKey, len(keys))
		for _, k := range keys {
			if len(k.KeyHash) == 32 {
				out[[32]byte(k.KeyHash)] = k
			}
		}
		return out, err
	}
	c.lastPoll.Store(now().UnixNano()) // empty: nothing to be stale about yet
	return c
}

func (c *keyCache) shard(h [32]byte) *keyCacheShard { return &c.shards[h[0]%keyCacheShards] }

// trusted reports whether polling is recent enough for cached keys to be believed.
func (c *keyCache) trusted(now time.Time) bool {
	return now.UnixNano()-c.lastPoll.Load() <= int64(keyCacheMaxStale)
}

// lookup returns the agent holding key, or ErrUnknownKey.
func (c *keyCache) lookup(ctx context.Context, key string) (*agentState, error) {
	if !apikey.Valid(key) {
		return nil, ErrUnknownKey // refused without touching the database
	}
	h := sha256.Sum256([]byte(key)) // apikey.Hash, without the copy
	sh := c.shard(h)
	now := c.now()
	sh.mu.RLock()
	e, ok := sh.entries[h]
	gen := sh.gen
	sh.mu.RUnlock()
	if ok && now.UnixNano() < e.expires && (e.state == nil || c.trusted(now)) {
		c.hits.Add(1)
		if e.state == nil {
			return nil, ErrUnknownKey
		}
		return e.state, nil
	}
	c.lookups.Add(1)
	k, found, err := c.misses.get(ctx, struct{}{}, h)
	switch {
	case err != nil:
		return nil, err
	case !found:
		c.put(h, gen, keyEntry{expires: now.Add(keyCacheNegative).UnixNano()})
		return nil, ErrUnknownKey
	}
	st := &agentState{agent: Agent{OrgID: k.OrganizationID, AgentID: k.AgentID}}
	st.setStored(k.AgentState)
	ttl := keyCacheTTL - time.Duration(rand.Int64N(int64(keyCacheTTL/10)))
	c.put(h, gen, keyEntry{state: st, expires: now.Add(ttl).UnixNano()})
	return st, nil
}

// put caches an entry unless the key was invalidated since gen was read.
func (c *keyCache) put(h [32]byte, gen uint64, e keyEntry) {
	sh := c.shard(h)
	var dropped []*agentState
	sh.mu.Lock()
	if sh.gen != gen {
		sh.mu.Unlock()
		return
	}
	if old, ok := sh.entries[h]; ok {
		if old.state == nil {
			sh.negatives--
		} else if old.state != e.state {
			dropped = append(dropped, old.state)
		}
	}
	if e.state == nil && sh.negatives >= keyCacheMaxNegativePerShard {
		now := c.now()
		for k, old := range sh.entries {
			if old.state == nil && (now.UnixNano() >= old.expires || sh.negatives >= keyCacheMaxNegativePerShard/2) {
				delete(sh.entries, k)
				sh.negatives--
			}
		}
	}
	if len(sh.entries) >= keyCacheMaxPerShard {
		now := c.now()
		for k, old := range sh.entries {
			if now.UnixNano() >= old.expires {
				delete(sh.entries, k)
				if old.state == nil {
					sh.negatives--
				} else {
					dropped = append(dropped, old.state)
				}
			}
		}
		for k, old := range sh.entries {
			if len(sh.entries) < keyCacheMaxPerShard*3/4 {
				break
			}
			delete(sh.entries, k)
			if old.state == nil {
				sh.negatives--
			} else {
				dropped = append(dropped, old.state)
			}
		}
	}
	sh.entries[h] = e
	if e.state == nil {
		sh.negatives++
	}
	sh.mu.Unlock()

	if e.state == nil && len(dropped) == 0 {
		return
	}
	c.agentsMu.Lock()
	for _, st := range dropped {
		if c.agents[st.agent.AgentID] == st {
			delete(c.agents, st.agent.AgentID)
		}
	}
	if e.state != nil {
		c.agents[e.state.agent.AgentID] = e.state
	}
	c.agentsMu.Unlock()
}

// agent returns the state cached for an agent, or nil.
func (c *keyCache) agent(id uuid.UUID) *agentState {
	c.agentsMu.RLock()
	defer c.agentsMu.RUnlock()
	return c.agents[id]
}

// evict forgets a key (deleted or rotated away) and its agent's state on this replica at once.
func (c *keyCache) evict(keyHash []byte, agentID uuid.UUID) {
	var h [32]byte
	copy(h[:], keyHash)
	c.invalidate(h)
	c.agentsMu.Lock()
	delete(c.agents, agentID)
	c.agentsMu.Unlock()
}

// invalidate forgets a key and the agent state cached with it.
func (c *keyCache) invalidate(h [32]byte) {
	sh := c.shard(h)
	sh.mu.Lock()
	e, ok := sh.entries[h]
	if ok {
		delete(sh.entries, h)
		if e.state == nil {
			sh.negatives--
		}
	}
	sh.gen++
	sh.mu.Unlock()
	if ok && e.state != nil {
		c.agentsMu.Lock()
		if c.agents[e.state.agent.AgentID] == e.state {
			delete(c.agents, e.state.agent.AgentID)
		}
		c.agentsMu.Unlock()
	}
}

// clear forgets every key.
func (c *keyCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.entries = map[[32]byte]keyEntry{}
		sh.negatives = 0
		sh.gen++
		sh.mu.Unlock()
	}
	c.agentsMu.Lock()
	c.agents = map[uuid.UUID]*agentState{}
	c.agentsMu.Unlock()
}

// wrote records an announcement this replica wrote about state it has already applied to its
// own cache entry, so that its poll does not throw that entry away. When the key's row already
// existed, the write replaced another announcement, maybe another replica's about state this
// one has not seen: it qualifies only if this replica has taken in the announcement it
// replaced (polled it, or wrote it), and otherwise the poll forgets the entry as usual.
//
// Every writer of a key's row either holds the agent's row lock, so its change is in what the
// replaced row's writer read, or writes after the change it announces committed, so a row it
// writes after this one is newer than this one and invalidates as usual.
func (c *keyCache) wrote(inv db.KeyInvalidation) {
	if len(inv.KeyHash) != 32 {
		return
	}
	var h [32]byte
	copy(h[:], inv.KeyHash)
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if !inv.Fresh {
		if inv.Prior == nil {
			return
		}
		// Rows up to since have all been read by a poll (see revocationReread).
		polled := !inv.Prior.After(c.since)
		if applied, ok := c.applied[h]; ok && applied.Equal(*inv.Prior) {
			polled = true
		}
		own, ok := c.ownWrites[h]
		if !polled && !(ok && own.Equal(*inv.Prior)) {
			return
		}
	}
	c.ownWrites[h] = inv.At
}

// poll reads the announcements since the last poll and forgets their keys. It runs one
// statement, whatever the traffic.
func (c *keyCache) poll(ctx context.Context) error {
	c.pollMu.Lock()
	since := c.since
	c.pollMu.Unlock()
	rows, err := c.store.KeyRevocationsSince(ctx, since)
	if err != nil {
		return err
	}
	now := c.now()
	if gap := time.Duration(now.UnixNano() - c.lastPoll.Load()); gap > revocationRetention/2 {
		// Rows this replica never read may have been pruned meanwhile.
		c.log.Warn("agent key revocations were not polled for a long time; forgetting every cached key", slog.Duration("gap", gap))
		c.clear()
	}
	c.pollMu.Lock()
	newest := since
	for _, r := range rows {
		if len(r.KeyHash) != 32 {
			continue
		}
		var h [32]byte
		copy(h[:], r.KeyHash)
		if r.RevokedAt.After(newest) {
			newest = r.RevokedAt
		}
		if at, ok := c.applied[h]; ok && at.Equal(r.RevokedAt) {
			continue
		}
		c.applied[h] = r.RevokedAt
		if at, ok := c.ownWrites[h]; ok && at.Equal(r.RevokedAt) {
			delete(c.ownWrites, h)
			continue
		}
		c.invalidate(h)
	}
	if next := newest.Add(-revocationReread); next.After(c.since) {
		c.since = next
	}
	for h, at := range c.applied {
		if !at.After(c.since) {
			delete(c.applied, h)
		}
	}
	for h, at := range c.ownWrites {
		if !at.After(c.since) && now.Sub(at) > revocationRetention {
			delete(c.ownWrites, h)
		}
	}
	c.pollMu.Unlock()
	c.lastPoll.Store(now.UnixNano())
	return nil
}

// run polls every interval and prunes old rows now and then, until ctx ends.
func (c *keyCache) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		if err := c.poll(pctx); err != nil && ctx.Err() == nil {
			c.log.Warn("poll agent key revocations", slog.Any("error", err))
		}
		if time.Since(lastPrune) >= revocationPruneInterval {
			lastPrune = time.Now()
			if _, err := c.store.PruneKeyRevocations(pctx, revocationRetention); err != nil && ctx.Err() == nil {
				c.log.Warn("prune agent key revocations", slog.Any("error", err))
			}
		}
		pcancel()
	}
}

func sameMeta(a, b db.AgentMeta) bool {
	return sameString(a.Hostname, b.Hostname) && sameString(a.OSType, b.OSType) &&
		sameString(a.Username, b.Username) && sameString(a.AgentVersion, b.AgentVersion)
}

// setStored replaces what the replica remembers of the agent with its stored state.
func (st *agentState) setStored(s db.AgentState) {
	report, details, ident := hash32(s.ReportHash), fingerprint(s.AgentMeta), storedPrints(s)
	st.mu.Lock()
	if report != st.report {
		st.report, st.raw = report, [sha256.Size]byte{}
	}
	st.details, st.ident = details, ident
	st.mu.Unlock()
}

// settled reports whether a heartbeat changes nothing the replica knows of the agent: it comes
// from the machine the key is bound to and sends the stored details (see Ingester.Heartbeat).
func (st *agentState) settled(meta db.AgentMeta, id Identity, now time.Time) bool {
	details, sent := fingerprint(meta), id.prints()
	st.mu.Lock()
	same, ident := details == st.details, st.ident
	st.mu.Unlock()
	c := checkIdentity(ident, sent, now)
	return same && !c.other && !c.refuse && !c.bind
}

// wroteMeta records details and a binding this replica wrote.
func (st *agentState) wroteMeta(m db.AgentMeta, machineID *string) {
	details, host, machine := fingerprint(m), fingerprintOf(m.Hostname), fingerprintOf(machineID)
	st.mu.Lock()
	st.details, st.ident.host = details, host
	if machineID != nil {
		st.ident.machine = machine
	}
	st.mu.Unlock()
}

// sharedNow records that another machine was caught using the agent's key.
func (st *agentState) sharedNow(now time.Time) {
	st.mu.Lock()
	st.ident.sharedAt = now.UnixNano()
	st.mu.Unlock()
}

// fingerprint condenses an agent's machine details into 64 bits, each field's absence told
// apart from its being empty. Two different details colliding (one chance in 2^64) would only
// delay their write to the next flush, which writes a heartbeat's details whatever they are.
func fingerprint(m db.AgentMeta) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	for _, v := range [...]*string{m.Hostname, m.OSType, m.Username, m.AgentVersion} {
		if v == nil {
			h.WriteByte(0)
			continue
		}
		h.WriteByte(1)
		h.WriteString(*v)
		h.WriteByte(0) // ends the field: ("ab", "c") and ("a", "bc") differ
	}
	return h.Sum64()
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
