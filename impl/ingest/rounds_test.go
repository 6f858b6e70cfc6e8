package ingest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRoundsGroupRequestsThatArriveDuringARead: while one read runs, the requests that arrive
// wait and share the next read, which sees all their keys; each gets its own answer.
func TestRoundsGroupRequestsThatArriveDuringARead(t *testing.T) {
	release := make(chan struct{})
	var seen [][]int
	var mu sync.Mutex
	r := &rounds[string, int, int]{}
	r.read = func(_ context.Context, g string, keys []int) (map[int]int, error) {
		mu.Lock()
		seen = append(seen, keys)
		first := len(seen) == 1
		mu.Unlock()
		if first {
			<-release
		}
		out := map[int]int{}
		for _, k := range keys {
			if k%2 == 0 { // odd keys have no value
				out[k] = k * 10
			}
		}
		return out, nil
	}
	ctx := context.Background()
	type answer struct {
		v   int
		ok  bool
		err error
	}
	answers := make([]chan answer, 11)
	ask := func(k int) {
		answers[k] = make(chan answer, 1)
		go func() {
			v, ok, err := r.get(ctx, "org", k)
			answers[k] <- answer{v, ok, err}
		}()
	}
	ask(0) // leads the first read, which blocks
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 })
	for k := 1; k <= 10; k++ {
		ask(k)
	}
	waitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		g := r.groups["org"]
		return g != nil && g.next != nil && len(g.next.keys) == 10
	})
	close(release)
	for k := 0; k <= 10; k++ {
		a := <-answers[k]
		if a.err != nil || a.ok != (k%2 == 0) || (a.ok && a.v != k*10) {
			t.Errorf("key %d: %+v", k, a)
		}
	}
	if n := r.reads.Load(); n != 2 || len(seen[1]) != 10 {
		t.Errorf("%d reads (keys %v), want 2: the first, then one for the ten that waited", n, seen)
	}
	waitFor(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.groups) == 0 })
}

// waitFor polls cond until it holds (goroutines reaching a point), failing after a few seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached")
}
