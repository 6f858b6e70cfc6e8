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
	if _, err := FindBinaries(os.Getenv("MCPWARDEN_PG_BIN")); err != nil {
		t.Skip(err)
	}
	base := t.TempDir()
	// t.TempDir's directory and its parent are root's alone; the fallback must be reachable.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
