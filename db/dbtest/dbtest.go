// Package dbtest gives each test its own fresh, migrated PostgreSQL database. One throwaway
// cluster serves a whole `go test` process (fsync off); each test's database is cloned from a
// migrated template, so tests run in parallel and leave nothing behind. TEST_DATABASE_URL points
// the tests at an existing server instead (its user needs CREATEDB). With
// MCPWARDEN_TEST_PARTITIONED=1 the template's tenant tables are hash-partitioned by organization
// (see Partition).
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/localpg"
)

var (
	setupOnce sync.Once
	setupErr  error
	cluster   *localpg.Cluster
	tmpDir    string
	admin     *sqlx.DB
	baseURL   string
	template  string
	cloneMu   sync.Mutex
)

// Main runs the package's tests and then removes the throwaway cluster. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if admin != nil {
		admin.Close()
	}
	if cluster != nil {
		cluster.Stop()
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup() error {
	ctx := context.Background()
	baseURL = os.Getenv("TEST_DATABASE_URL")
	if baseURL == "" {
		var err error
		reapOrphans()
		tmpDir, err = os.MkdirTemp("", "mcpwarden-test-")
		if err != nil {
			return err
		}
		os.Chmod(tmpDir, 0o755)
		if err := os.WriteFile(filepath.Join(tmpDir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
		cluster, err = localpg.Start(ctx, localpg.Options{Dir: tmpDir, NoFsync: true, BinDir: os.Getenv("MCPWARDEN_PG_BIN")})
		if err != nil {
			return fmt.Errorf("start the test PostgreSQL: %w", err)
		}
		baseURL = cluster.URL("postgres")
	}
	var err error
	admin, err = sqlx.Open("postgres", baseURL)
	if err != nil {
		return err
	}
	admin.SetMaxOpenConns(4)
	template = "mcpw_template_" + randomSuffix()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(template)); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	conn, err := sqlx.Open("postgres", withDatabase(baseURL, template))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := db.Migrate(ctx, conn.DB); err != nil {
		return err
	}
	if partitionedMode() {
		if err := Partition(ctx, conn, Partitions); err != nil {
			return fmt.Errorf("partition the template: %w", err)
		}
	}
	return nil
}

// ownerFile, in a throwaway cluster's directory, holds the pid of the test process it serves.
const ownerFile = "owner.pid"

// reapOrphans stops and removes the throwaway clusters whose test process is gone: a test that
// panics ends its process without Main's cleanup, and its PostgreSQL would otherwise run on.
// Directories without an owner file are left alone (not known to be ours, or being made).
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "mcpwarden-test-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(owner) {
			continue
		}
		// postmaster.pid's first line is the server's pid; SIGQUIT is an immediate shutdown.
		if pm, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pm), "\n", 2)[0]))
			if pid > 0 && syscall.Kill(pid, syscall.SIGQUIT) == nil {
				for i := 0; i < 100 && alive(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
		os.RemoveAll(dir)
	}
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// URL returns the URL of a new database, cloned from the migrated template and dropped when the
// test ends.
func URL(t testing.TB) string {
	t.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("test database: %v", setupErr)
	}
	name := "mcpw_test_" + randomSuffix()
	cloneMu.Lock()
	_, err := admin.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name) + " TEMPLATE " + pq.QuoteIdentifier(template))
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("clone the test database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)")
	})
	return withDatabase(baseURL, name)
}

// New returns a connection pool to a fresh database, closed when the test ends.
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	conn, err := db.Pool(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetMaxOpenConns(10)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Organization creates an organization, with an admin, for tests that need a tenant.
func Organization(t testing.TB, store *db.Storage, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := store.CreateOrganization(context.Background(), id, name, db.NewUser{
		ID: uuid.New(), Email: uuid.NewString() + "@example.com", FullName: "Admin", Role: "admin", PasswordHash: "unused",
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Agent enrols an agent of the organization, with a key nobody holds.
func Agent(t testing.TB, store *db.Storage, org uuid.UUID) uuid.UUID {
	t.Helper()
	key := sha256.Sum256([]byte(uuid.NewString()))
	a, err := store.CreateAgent(context.Background(), org, "laptop", key[:], "mcp_sk_test", math.MaxInt)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// Replicated is a private primary with a streaming standby of it, for tests of read replicas.
type Replicated struct {
	Primary, Standby *localpg.Cluster
	// PrimaryURL and StandbyURL reach the same migrated database, on each cluster.
	PrimaryURL, StandbyURL string
}

// NewReplicated starts a PostgreSQL cluster of the test's own with a migrated database, and a
// streaming standby of it (pg_basebackup -R), which has replayed the migrations when this
// returns. Both are stopped and removed when the test ends (or reaped, like the shared cluster,
// when the test process dies first).
func NewReplicated(t testing.TB) Replicated {
	t.Helper()
	ctx := context.Background()
	dir := func() string {
		d, err := os.MkdirTemp("", "mcpwarden-test-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	opts := localpg.Options{Dir: dir(), NoFsync: true, BinDir: os.Getenv("MCPWARDEN_PG_BIN")}
	primary, err := localpg.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the primary: %v", err)
	}
	t.Cleanup(func() { primary.Stop() })
	const database = "mcpwarden"
	if err := primary.CreateDatabase(ctx, database); err != nil {
		t.Fatal(err)
	}
	conn, err := sqlx.Open("postgres", primary.URL(database))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := db.Migrate(ctx, conn.DB); err != nil {
		t.Fatal(err)
	}
	opts.Dir = dir()
	standby, err := localpg.StartStandby(ctx, primary, opts)
	if err != nil {
		t.Fatalf("start the standby: %v", err)
	}
	t.Cleanup(func() { standby.Stop() })
	return Replicated{Primary: primary, Standby: standby, PrimaryURL: primary.URL(database), StandbyURL: standby.URL(database)}
}

// CounterMismatches compares the organization's counters with a recount of its servers and
// alerts: the server_counts sums per (status, risk_level, server_name, server_type), the
// server_rollups sums per (risk_level, server_type) of active servers, and the alert_counts sum
// of open alerts. It returns the groups that differ.
func CounterMismatches(t testing.TB, conn *sqlx.DB, org uuid.UUID) []string {
	t.Helper()
	var out []string
	if err := conn.Select(&out, `
		WITH counted AS (
			SELECT status, risk_level, server_name, server_type, sum(n)::bigint AS n FROM server_counts
			WHERE organization_id = $1 GROUP BY 1, 2, 3, 4
		), actual AS (
			SELECT status, risk_level, server_name, server_type, count(*) AS n FROM mcp_servers
			WHERE organization_id = $1 GROUP BY 1, 2, 3, 4
		), rolled AS (
			SELECT risk_level, server_type, sum(n)::bigint AS n FROM server_rollups
			WHERE organization_id = $1 GROUP BY 1, 2
		), active AS (
			SELECT risk_level, server_type, count(*) AS n FROM mcp_servers
			WHERE organization_id = $1 AND status = 'active' GROUP BY 1, 2
		)
		SELECT format('server_counts %s/%s/%s/%s: %s counted, %s rows', status, risk_level, server_name, server_type,
			COALESCE(c.n, 0), COALESCE(a.n, 0))
		FROM counted c FULL JOIN actual a USING (status, risk_level, server_name, server_type)
		WHERE COALESCE(c.n, 0) <> COALESCE(a.n, 0)
		UNION ALL
		SELECT format('server_rollups %s/%s: %s counted, %s active rows', risk_level, server_type, COALESCE(r.n, 0), COALESCE(a.n, 0))
		FROM rolled r FULL JOIN active a USING (risk_level, server_type)
		WHERE COALESCE(r.n, 0) <> COALESCE(a.n, 0)
		UNION ALL
		SELECT format('alert_counts: %s counted, %s open alerts', c.n, a.n)
		FROM (SELECT COALESCE(sum(n), 0) AS n FROM alert_counts WHERE organization_id = $1) c,
			(SELECT count(*) AS n FROM alerts WHERE organization_id = $1 AND NOT dismissed) a
		WHERE c.n <> a.n`, org); err != nil {
		t.Fatal(err)
	}
	return out
}
