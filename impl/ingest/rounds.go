package ingest

import (
	"context"
	"sync"
	"sync/atomic"
)

// rounds groups the reads of concurrent requests into rounds of one read per group: requests
// that arrive while a group's read is running join the group's next round, which starts when
// the running one ends. Under load a single indexed read then answers hundreds of requests, and
// each request's answer was read after the request arrived (so it sees every change
// acknowledged before then). The stored-state confirmations (see stored.go) are grouped by
// organization, the key cache's misses (see keycache.go) all in one group.
type rounds[G, K comparable, V any] struct {
	// read returns the values found for keys, all of group g; a key absent from the result
	// has no value.
	read func(ctx context.Context, g G, keys []K) (map[K]V, error)
	// reads counts the calls of read.
	reads atomic.Int64

	mu     sync.Mutex
	groups map[G]*groupRounds[K, V]
}

// groupRounds is a group's running read and the round waiting for it to end.
type groupRounds[K comparable, V any] struct {
	running bool
	next    *round[K, V]
}

// round is one read of some keys.
type round[K comparable, V any] struct {
	keys   map[K]struct{}
	done   chan struct{}
	values map[K]V
	err    error
}

// get returns key's value in group g, read after the call began, and whether there is one.
func (r *rounds[G, K, V]) get(ctx context.Context, g G, key K) (V, bool, error) {
	r.mu.Lock()
	if r.groups == nil {
		r.groups = map[G]*groupRounds[K, V]{}
	}
	o := r.groups[g]
	if o == nil {
		o = &groupRounds[K, V]{}
		r.groups[g] = o
	}
	if o.next == nil {
		o.next = &round[K, V]{keys: map[K]struct{}{}, done: make(chan struct{})}
	}
	rd := o.next
	rd.keys[key] = struct{}{}
	lead := !o.running
	if lead {
		o.running = true
	}
	r.mu.Unlock()

	if lead {
		// This request reads for its round and for every round that gathers meanwhile. The
		// reads outlive a cancelled request: other requests wait for them.
		go r.run(context.WithoutCancel(ctx), g)
	}
	var zero V
	select {
	case <-rd.done:
	case <-ctx.Done():
		return zero, false, ctx.Err()
	}
	if rd.err != nil {
		return zero, false, rd.err
	}
	v, ok := rd.values[key]
	return v, ok, nil
}

// run reads the group's waiting rounds one after the other until none is left.
func (r *rounds[G, K, V]) run(ctx context.Context, g G) {
	for {
		r.mu.Lock()
		o := r.groups[g]
		rd := o.next
		if rd == nil {
			o.running = false
			delete(r.groups, g)
			r.mu.Unlock()
			return
		}
		o.next = nil
		r.mu.Unlock()

		keys := make([]K, 0, len(rd.keys))
		for k := range rd.keys {
			keys = append(keys, k)
		}
		r.reads.Add(1)
		rd.values, rd.err = r.read(ctx, g, keys)
		close(rd.done)
	}
}
