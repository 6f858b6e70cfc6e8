package localpg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootsClusterInAHomeOnlyRootEntersLivesWhereItsUserCanReach: a clone in root's own home
// (mode 0700) gets its cluster under FallbackDir, the same one at each start, and says why.
func TestRootsClusterInAHomeOnlyRootEntersLivesWhereItsUserCanReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root's clusters are run by another user")
	}
	base := reachableTempDir(t)
	home := filepath.Join(base, "root")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(home, "x", ".mcpwarden", "postgres")
	opts := Options{Dir: want, NoFsync: true, BinDir: os.Getenv("MCPWARDEN_PG_BIN"), FallbackDir: filepath.Join(base, "var", "lib", "mcpwarden-postgres")}

	var dirs []string
	for range 2 {
		c, err := Start(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, c.Dir())
		why := c.Relocated()
		if why == nil || !strings.Contains(why.Error(), "cannot enter "+home) {
			t.Errorf("Relocated() = %v, want it to say the PostgreSQL user cannot enter %s", why, home)
		}
		if err := c.CreateDatabase(context.Background(), "mcpwarden"); err != nil {
			t.Errorf("the relocated cluster does not answer: %v", err)
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(dirs[0], opts.FallbackDir+string(filepath.Separator)) || !strings.Contains(filepath.Base(dirs[0]), "_root_x_.mcpwarden_postgres-") {
		t.Errorf("cluster in %s, want a directory under %s named after %s", dirs[0], opts.FallbackDir, want)
	}
	if dirs[1] != dirs[0] {
		t.Errorf("the second start used %s, the first %s: the cluster must be found again", dirs[1], dirs[0])
	}
	if _, err := os.Stat(filepath.Join(home, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was made in root's home (%v); the cluster lives elsewhere", err)
	}
}

// TestTheLastProcessOutStopsTheCluster: a second process adopts the cluster the first started
// and, on its way out, leaves it running for the first (which used to lose its database when a
// `mcpwarden seed` or a second server on the same data directory exited); the last one out
// stops it, and so does a process that adopted a cluster a killed run left behind.
func TestTheLastProcessOutStopsTheCluster(t *testing.T) {
	base := reachableTempDir(t)
	opts := Options{Dir: filepath.Join(base, "postgres"), NoFsync: true, BinDir: os.Getenv("MCPWARDEN_PG_BIN")}
	ctx := context.Background()
	start := func() *Cluster {
		t.Helper()
		c, err := Start(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	running := func(c *Cluster) bool {
		ok, _ := c.runningSocketDir()
		return ok
	}
	release := func(c *Cluster, want bool, who string) {
		t.Helper()
		stopped, err := c.Release()
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if stopped != want {
			t.Errorf("%s: stopped = %v, want %v", who, stopped, want)
		}
	}

	first := start()
	t.Cleanup(func() { first.Stop() })
	second := start()
	release(second, false, "the second process, while the first runs")
	if err := first.CreateDatabase(ctx, "mcpwarden"); err != nil {
		t.Fatalf("the first process's cluster after the second left: %v", err)
	}
	release(first, true, "the last process")
	if running(first) {
		t.Fatal("the cluster still runs after the last process left")
	}

	killed := start()
	killed.users.Close() // killed: its lock goes with it, PostgreSQL keeps running
	if !running(killed) {
		t.Fatal("the cluster is not running after its process was killed")
	}
	next := start()
	release(next, true, "a process that adopted a killed run's cluster")
	if running(next) {
		t.Error("the killed run's cluster still runs after the process that adopted it left")
	}
}

// reachableTempDir skips the test without PostgreSQL's binaries, and returns a temporary
// directory the PostgreSQL user can enter: t.TempDir's directory and its parent are root's alone.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	if _, err := FindBinaries(os.Getenv("MCPWARDEN_PG_BIN")); err != nil {
		t.Skip(err)
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}
