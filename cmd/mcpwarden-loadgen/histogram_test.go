package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<20 + 12345, 1 << 40, 1<<63 - 1} {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d, before the previous value's %d", v, b, prev)
		}
		if up := bucketUpper(b); up < v {
			t.Fatalf("bucketUpper(bucketOf(%d)) = %d, below the value", v, up)
		}
		if b > 0 && bucketUpper(b-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, b-1)
		}
		prev = b
	}
}

func TestQuantilesWithinOnePercentOfExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var exact []uint64
	for range 100000 {
		us := uint64(r.ExpFloat64()*2000) + 50
		exact = append(exact, us)
		h.record(time.Duration(us) * time.Microsecond)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.95, 0.99, 1} {
		want := exact[int(q*float64(len(exact)))-1]
		got := h.quantile(q)
		if diff := float64(got) - float64(want); diff < -0.01*float64(want) || diff > 0.01*float64(want) {
			t.Errorf("quantile(%v) = %d, want %d within 1%%", q, got, want)
		}
	}
	if h.quantile(1) != exact[len(exact)-1] {
		t.Errorf("max = %d, want %d", h.quantile(1), exact[len(exact)-1])
	}
}

func TestMergeAddsCounts(t *testing.T) {
	var a, b histogram
	a.record(time.Millisecond)
	b.record(3 * time.Millisecond)
	b.record(5 * time.Millisecond)
	a.merge(&b)
	if a.n != 3 || a.max != 5000 || a.quantile(0.5) > 3030 || a.quantile(0.5) < 2970 {
		t.Fatalf("merged: n=%d max=%d p50=%d", a.n, a.max, a.quantile(0.5))
	}
}
