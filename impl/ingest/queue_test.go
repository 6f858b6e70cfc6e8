package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// reportFixture is an organization's agents on a store, and a report queue the test controls.
type reportFixture struct {
	t     *testing.T
	store *db.Storage
	q     *reportQueue
}

func newReportFixture(t *testing.T, conn *sqlx.DB) reportFixture {
	store := db.New(conn)
	return reportFixture{t: t, store: store, q: &reportQueue{store: store, metrics: newMetrics()}}
}

// hold keeps reports waiting, as if every batch slot were taken, until the returned function
// is called; the reports then form batches from the queue as it is.
func (f reportFixture) hold() (release func()) {
	f.q.mu.Lock()
	f.q.running += maxRunningBatches
	f.q.mu.Unlock()
	return func() {
		f.q.mu.Lock()
		f.q.running -= maxRunningBatches
		f.q.startLocked(context.Background())
		f.q.mu.Unlock()
	}
}

// waiting is how many reports wait for a batch.
func (f reportFixture) waiting() int {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	return len(f.q.waiting)
}

// batches is how many batches have started.
func (f reportFixture) batches() int64 {
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	return f.q.batches
}

// apply writes a report and waits for its outcome.
func (f reportFixture) apply(org, agent uuid.UUID, hash []byte, servers []db.ReportServer) (db.ReportOutcome, error) {
	return f.q.submit(context.Background(), &pendingReport{org: org, agent: agent, hash: hash, servers: servers})
}

func (f reportFixture) org(name string) uuid.UUID { return dbtest.Organization(f.t, f.store, name) }

func (f reportFixture) agent(org uuid.UUID) uuid.UUID { return dbtest.Agent(f.t, f.store, org) }

type reportResult struct {
	out db.ReportOutcome
	err error
}

// submit sends a report and waits until it is queued, so reports queue in the order submitted.
func (f reportFixture) submit(org, agent uuid.UUID, servers []db.ReportServer) <-chan reportResult {
	return f.submitPlanned(org, agent, servers, nil)
}

func (f reportFixture) submitPlanned(org, agent uuid.UUID, servers []db.ReportServer, plan func(*string, map[string]db.PreviousServer, []db.ReportServer) []db.NewAlert) <-chan reportResult {
	f.t.Helper()
	queued := f.waiting()
	hash := sha256.Sum256([]byte(uuid.NewString()))
	res := make(chan reportResult, 1)
	go func() {
		out, err := f.q.submit(context.Background(), &pendingReport{org: org, agent: agent, hash: hash[:], servers: servers, alerts: plan})
		res <- reportResult{out, err}
	}()
	for f.waiting() == queued {
		time.Sleep(time.Millisecond)
	}
	return res
}

// servers is a report of the named servers at a configuration revision.
func servers(rev string, names ...string) []db.ReportServer {
	out := make([]db.ReportServer, len(names))
	for i, n := range names {
		h := sha256.Sum256([]byte(n + rev))
		out[i] = db.ReportServer{ServerName: n, ServerType: "mcp-server-" + n, Command: "uvx mcp-server-" + n + " --rev " + rev,
			EnvVars: []string{}, ConfigHash: h[:], RiskLevel: "low", RiskScore: 10}
	}
	return out
}

// TestQueuedReportsAreBatchedPerOrganizationInArrivalOrder: reports queued together are written
// in batches of one organization and distinct agents, and an agent's second report waits for
// its first, so it is applied on top of it.
func TestQueuedReportsAreBatchedPerOrganizationInArrivalOrder(t *testing.T) {
	conn := dbtest.New(t)
	f := newReportFixture(t, conn)
	orgA, orgB := f.org("A"), f.org("B")
	a1, a2, a3, b1 := f.agent(orgA), f.agent(orgA), f.agent(orgA), f.agent(orgB)

	release := f.hold()
	first := f.submit(orgA, a1, servers("1", "fs", "git", "fetch"))
	other := f.submit(orgA, a2, servers("1", "fs", "git", "fetch"))
	tenant := f.submit(orgB, b1, servers("1", "fs", "git", "fetch"))
	second := f.submit(orgA, a1, servers("2", "fs")) // fs changed, git and fetch gone
	third := f.submit(orgA, a3, servers("1", "fs", "git", "fetch"))
	before := f.batches()
	release()

	for name, c := range map[string]<-chan reportResult{"a1 first": first, "a2": other, "b1": tenant, "a3": third} {
		r := <-c
		if r.err != nil || r.out.Created != 3 || r.out.Updated != 0 {
			t.Fatalf("%s: %+v, %v; want 3 servers created", name, r.out, r.err)
		}
	}
	r := <-second
	if r.err != nil || r.out.Created != 0 || r.out.Updated != 1 || r.out.Dormant != 2 {
		t.Fatalf("a1 second: %+v, %v; want 1 updated and 2 dormant, applied after the first", r.out, r.err)
	}
	// [a1, a2, a3] of A, [b1] of B, then a1's second report once its first is written.
	if n := f.batches() - before; n != 3 {
		t.Fatalf("%d batches, want 3", n)
	}

	var states []string
	if err := conn.Select(&states, `SELECT server_name || ':' || status || ':' || command FROM mcp_servers
		WHERE organization_id = $1 AND agent_id = $2 ORDER BY server_name`, orgA, a1); err != nil {
		t.Fatal(err)
	}
	want := []string{"fetch:dormant:uvx mcp-server-fetch --rev 1", "fs:active:uvx mcp-server-fs --rev 2", "git:dormant:uvx mcp-server-git --rev 1"}
	if len(states) != 3 || states[0] != want[0] || states[1] != want[1] || states[2] != want[2] {
		t.Fatalf("a1's servers: %q, want %q", states, want)
	}
	// The batch's statement counted every agent's rows into the counters.
	for _, org := range []uuid.UUID{orgA, orgB} {
		var counted, rows int64
		conn.Get(&counted, `SELECT COALESCE(sum(n), 0) FROM server_counts WHERE organization_id = $1`, org)
		conn.Get(&rows, `SELECT count(*) FROM mcp_servers WHERE organization_id = $1`, org)
		var active, rolled int64
		conn.Get(&rolled, `SELECT COALESCE(sum(n), 0) FROM server_rollups WHERE organization_id = $1`, org)
		conn.Get(&active, `SELECT count(*) FROM mcp_servers WHERE organization_id = $1 AND status = 'active'`, org)
		if counted != rows || rolled != active {
			t.Fatalf("org %v: server_counts %d for %d rows, server_rollups %d for %d active", org, counted, rows, rolled, active)
		}
	}
}

// TestAFailingReportFailsAloneInItsBatch: a report the database refuses, and one of an agent
// deleted meanwhile, get their own errors; the reports batched with them are written.
func TestAFailingReportFailsAloneInItsBatch(t *testing.T) {
	conn := dbtest.New(t)
	f := newReportFixture(t, conn)
	org := f.org("A")
	good1, bad, good2 := f.agent(org), f.agent(org), f.agent(org)

	refused := servers("1", "fs", "git")
	refused[1].RiskLevel = "catastrophic" // violates mcp_servers' CHECK
	release := f.hold()
	r1 := f.submit(org, good1, servers("1", "fs", "git"))
	rBad := f.submit(org, bad, refused)
	rGone := f.submit(org, uuid.New(), servers("1", "fs"))
	r2 := f.submit(org, good2, servers("1", "fs", "git"))
	release()

	for name, c := range map[string]<-chan reportResult{"first": r1, "last": r2} {
		if r := <-c; r.err != nil || r.out.Created != 2 {
			t.Fatalf("%s good report: %+v, %v", name, r.out, r.err)
		}
	}
	if r := <-rBad; r.err == nil || errors.Is(r.err, db.ErrNotFound) {
		t.Fatalf("refused report: %+v, %v; want the database's error", r.out, r.err)
	}
	if r := <-rGone; !errors.Is(r.err, db.ErrNotFound) {
		t.Fatalf("unknown agent's report: %v, want ErrNotFound", r.err)
	}
	var n int
	conn.Get(&n, `SELECT count(*) FROM mcp_servers WHERE organization_id = $1`, org)
	if n != 4 {
		t.Fatalf("%d servers stored, want the good reports' 4", n)
	}
}

// TestStoredRiskFactorsFollowEveryReport: a report sends a server's risk factors only when their
// hash differs from the stored one; whether sent or not, the stored factors are the report's,
// including for rows stored without a hash (written before it existed, or seeded).
func TestStoredRiskFactorsFollowEveryReport(t *testing.T) {
	conn := dbtest.New(t)
	f := newReportFixture(t, conn)
	org := f.org("A")
	agent := f.agent(org)
	apply := func(rev, factors string) {
		t.Helper()
		s := servers(rev, "fs")
		s[0].RiskFactors = []byte(factors)
		hash := sha256.Sum256([]byte(rev + factors))
		if _, err := f.apply(org, agent, hash[:], s); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(want, wantCommand string) {
		t.Helper()
		var got, command string
		if err := conn.QueryRow(`SELECT risk_factors::text, command FROM mcp_servers WHERE organization_id = $1 AND agent_id = $2`,
			org, agent).Scan(&got, &command); err != nil {
			t.Fatal(err)
		}
		if got != want || command != wantCommand {
			t.Fatalf("stored %s, %q; want %s, %q", got, command, want, wantCommand)
		}
	}
	apply("1", `[{"id": "A"}]`)
	stored(`[{"id": "A"}]`, "uvx mcp-server-fs --rev 1")
	apply("2", `[{"id": "A"}]`) // same factors, not sent
	stored(`[{"id": "A"}]`, "uvx mcp-server-fs --rev 2")
	apply("3", `[{"id": "B"}]`)
	stored(`[{"id": "B"}]`, "uvx mcp-server-fs --rev 3")
	conn.MustExec(`UPDATE mcp_servers SET risk_factors = '[]', risk_factors_hash = NULL WHERE organization_id = $1`, org)
	apply("4", `[{"id": "B"}]`)
	stored(`[{"id": "B"}]`, "uvx mcp-server-fs --rev 4")
}

// TestReportsRefreshLastSeenOnceItIsHalfAMinuteOld: a report moves its agent's last-seen time
// when it is unset or 30 seconds old, and otherwise leaves it alone.
func TestReportsRefreshLastSeenOnceItIsHalfAMinuteOld(t *testing.T) {
	conn := dbtest.New(t)
	f := newReportFixture(t, conn)
	org := f.org("A")
	agent := f.agent(org)
	for i, c := range []struct {
		stored string // SQL for the stored last_seen_at
		moves  bool
	}{{"NULL", true}, {"now() - interval '10 seconds'", false}, {"now() - interval '5 minutes'", true}} {
		conn.MustExec(`UPDATE agents SET last_seen_at = `+c.stored+` WHERE id = $1`, agent)
		var before *time.Time
		conn.Get(&before, `SELECT last_seen_at FROM agents WHERE id = $1`, agent)
		hash := sha256.Sum256([]byte{byte(i)})
		if _, err := f.apply(org, agent, hash[:], servers(strconv.Itoa(i), "fs")); err != nil {
			t.Fatal(err)
		}
		var after time.Time
		var recent bool
		conn.QueryRow(`SELECT last_seen_at, last_seen_at > now() - interval '1 second' FROM agents WHERE id = $1`, agent).Scan(&after, &recent)
		if moved := before == nil || !after.Equal(*before); moved != c.moves || (c.moves && !recent) {
			t.Errorf("stored %s: last seen %v -> %v, want moved=%v", c.stored, before, after, c.moves)
		}
	}
}

// TestAPanickingPlanFailsOnlyItsReport: a report's alert decision runs on the batch's goroutine; its panic is its
// report's error, and the reports batched with it are written.
func TestAPanickingPlanFailsOnlyItsReport(t *testing.T) {
	conn := dbtest.New(t)
	f := newReportFixture(t, conn)
	org := f.org("A")
	good, bad := f.agent(org), f.agent(org)
	panics := func(*string, map[string]db.PreviousServer, []db.ReportServer) []db.NewAlert { panic("plan bug") }
	release := f.hold()
	rGood := f.submit(org, good, servers("1", "fs"))
	rBad := f.submitPlanned(org, bad, servers("1", "fs"), panics)
	release()
	if r := <-rGood; r.err != nil || r.out.Created != 1 {
		t.Fatalf("good report: %+v, %v", r.out, r.err)
	}
	if r := <-rBad; r.err == nil || !strings.Contains(r.err.Error(), "plan bug") {
		t.Fatalf("panicking plan's report: %v, want its panic as the error", r.err)
	}
}
