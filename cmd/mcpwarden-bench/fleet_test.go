package main

import (
	"errors"
	"slices"
	"testing"
)

func TestFleetSearchDoublesThenBisects(t *testing.T) {
	for _, c := range []struct {
		name          string
		capacity      int // largest size that passes
		bisect        int
		lo, hi        int
		tried         []int
		budgetAfter   int // try fails with errBudget after this many sizes (0: never)
		wantBudgetErr bool
	}{
		{"capacity between doublings", 300_000, 2, 300_000, 350_000, []int{100_000, 200_000, 400_000, 300_000, 350_000}, 0, false},
		{"every size up to the maximum passes", 2_000_000, 2, 1_000_000, 0, []int{100_000, 200_000, 400_000, 800_000, 1_000_000}, 0, false},
		{"the first size fails", 30_000, 2, 25_000, 50_000, []int{100_000, 50_000, 25_000}, 0, false},
		{"no bisection", 300_000, 0, 200_000, 400_000, []int{100_000, 200_000, 400_000}, 0, false},
		{"the budget ends the search", 300_000, 2, 200_000, 400_000, []int{100_000, 200_000, 400_000}, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tried []int
			lo, hi, err := searchFleet(100_000, 1_000_000, c.bisect, func(n int) (bool, error) {
				if c.budgetAfter > 0 && len(tried) == c.budgetAfter {
					return false, errBudget
				}
				tried = append(tried, n)
				return n <= c.capacity, nil
			})
			if errors.Is(err, errBudget) != c.wantBudgetErr || (err != nil && !c.wantBudgetErr) {
				t.Fatalf("err = %v", err)
			}
			if lo != c.lo || hi != c.hi || !slices.Equal(tried, c.tried) {
				t.Fatalf("lo %d hi %d after %v; want %d %d after %v", lo, hi, tried, c.lo, c.hi, c.tried)
			}
		})
	}
}
