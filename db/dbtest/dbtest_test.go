package dbtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestOrphanedClustersAreReaped: a throwaway cluster whose test process is gone is shut down and
// removed; one whose test process lives is left alone.
func TestOrphanedClustersAreReaped(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no `true` to make a finished process with:", err)
	}
	postmaster := exec.Command("sleep", "60") // stands in for an orphaned PostgreSQL
	if err := postmaster.Start(); err != nil {
		t.Skip("no `sleep`:", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- postmaster.Wait() }()

	cluster := func(owner, server int) string {
		dir, err := os.MkdirTemp("", "mcpwarden-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.MkdirAll(filepath.Join(dir, "pgdata"), 0o755)
		os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644)
		os.WriteFile(filepath.Join(dir, "pgdata", "postmaster.pid"), []byte(strconv.Itoa(server)+"\n"+dir+"\n"), 0o644)
		return dir
	}
	orphan := cluster(dead.Process.Pid, postmaster.Process.Pid)
	live := cluster(os.Getpid(), postmaster.Process.Pid)

	reapOrphans()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the orphaned cluster's directory is still there (%v)", err)
	}
	// reapOrphans waits until the process is gone; the goroutine that reaped it reports soon
	// after, however loaded the machine.
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the orphaned cluster's server was not stopped")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live test process's cluster was removed: %v", err)
	}
}
