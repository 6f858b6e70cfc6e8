package main

import (
	"context"
	"testing"
)

func TestCommitFlushReadsPgTestFsync(t *testing.T) {
	if _, err := findPGTool("pg_test_fsync"); err != nil {
		t.Skip(err)
	}
	ops, us, err := commitFlush(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ops <= 0 || us <= 0 {
		t.Fatalf("fdatasync: %v ops/s, %v µs per op", ops, us)
	}
	t.Logf("fdatasync: %.0f ops/s, %.0f µs per op", ops, us)
}
