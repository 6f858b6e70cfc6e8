package impl_test

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestDependenciesPointOneWay checks, with `go list -deps`, the layering README.md's Layout table
// describes: cmd → handlers (impl) → the edge, hot path, jobs and domain packages → db, and
// nothing back. The agent links the domain packages, so they pull in no web framework and no
// database driver.
func TestDependenciesPointOneWay(t *testing.T) {
	const mod = "github.com/mcpwarden/mcpwarden/"
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		deps[strings.TrimPrefix(fields[0], mod)] = fields[1:]
	}
	if len(deps) < 20 {
		t.Fatalf("go list found %d packages: %v", len(deps), deps)
	}
	driversAndWeb := []string{"github.com/labstack/echo", "github.com/getkin/kin-openapi", "github.com/jmoiron/sqlx", "github.com/lib/pq"}
	domain := []string{"impl/risk", "impl/redact", "impl/discovery", "impl/apikey"}
	rules := []struct {
		what    string
		applies func(pkg string) bool
		refuses func(dep string) bool
	}{
		{"db imports nothing of impl", prefixed("db"), prefixed(mod + "impl")},
		{"only cmd and the test harness import the handlers", func(p string) bool {
			return !strings.HasPrefix(p, "cmd/") && p != "impl/apitest"
		}, equals(mod + "impl")},
		{"the domain packages import no web framework, database driver or storage", func(p string) bool {
			return anyOf(domain, p)
		}, func(dep string) bool {
			return anyPrefix(driversAndWeb, dep) || strings.HasPrefix(dep, mod+"db") || dep == mod+"gen"
		}},
		{"the domain packages import only each other of the project", func(p string) bool {
			return anyOf(domain, p)
		}, func(dep string) bool {
			return strings.HasPrefix(dep, mod) && !anyOf(domain, strings.TrimPrefix(dep, mod))
		}},
		{"the credential primitives need no web framework or driver", equals("impl/security"), func(dep string) bool {
			return anyPrefix(driversAndWeb, dep) || strings.HasPrefix(dep, mod+"impl/")
		}},
		{"the hot path and the jobs know nothing of HTTP", func(p string) bool {
			return p == "impl/ingest" || p == "impl/jobs"
		}, func(dep string) bool {
			return anyPrefix([]string{"github.com/labstack/echo", "github.com/getkin/kin-openapi", mod + "impl/httpapi"}, dep)
		}},
		{"the edge calls no handler, hot path or job", equals("impl/httpapi"), func(dep string) bool {
			return anyOf([]string{mod + "impl/ingest", mod + "impl/jobs", mod + "impl/notify"}, dep)
		}},
	}
	for _, r := range rules {
		checked := 0
		for pkg, ds := range deps {
			if !r.applies(pkg) {
				continue
			}
			checked++
			for _, d := range ds {
				if r.refuses(d) {
					t.Errorf("%s: %s imports %s", r.what, pkg, d)
				}
			}
		}
		if checked == 0 {
			t.Errorf("%s: no package to check; has the layout changed?", r.what)
		}
	}
}

func prefixed(p string) func(string) bool {
	return func(s string) bool { return s == p || strings.HasPrefix(s, p+"/") }
}

func equals(p string) func(string) bool { return func(s string) bool { return s == p } }

func anyOf(list []string, s string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func anyPrefix(list []string, s string) bool {
	for _, x := range list {
		if s == x || strings.HasPrefix(s, x+"/") {
			return true
		}
	}
	return false
}

// TestBuildingTheHandlerStartsNothing: a replica's pieces and its HTTP handler start no
// goroutine of the hot path, the jobs or the notifiers; Replica.Run does, and stops them all.
func TestBuildingTheHandlerStartsNothing(t *testing.T) {
	ours := func() int {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		n := 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "mcpwarden/impl/ingest.") || strings.Contains(g, "mcpwarden/impl/jobs.") || strings.Contains(g, "mcpwarden/impl/notify.") {
				n++
			}
		}
		return n
	}
	before := ours()
	store := db.New(dbtest.New(t))
	cfg := config.Defaults()
	cfg.JWTSecret = strings.Repeat("k", 32)
	r := impl.NewReplica(cfg, "test", store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := r.Server.Handler(); err != nil {
		t.Fatal(err)
	}
	if n := ours(); n != before {
		t.Fatalf("building a replica and its handler started %d goroutines of the hot path or the jobs", n-before)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, store)
	}()
	for ours() == before { // Run starts them
		runtime.Gosched()
	}
	cancel()
	<-done
	// A job's goroutine has called wg.Done when Run returns, but may not have returned itself
	// yet: give the stragglers a moment to finish, and only then count what outlived Run.
	n := ours()
	for deadline := time.Now().Add(5 * time.Second); n != before && time.Now().Before(deadline); n = ours() {
		time.Sleep(10 * time.Millisecond)
	}
	if n != before {
		t.Errorf("%d goroutines of the hot path or the jobs outlived Run", n-before)
	}
}
