package impl_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	openapi_types "github.com/oapi-codegen/runtime/types"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/jobs"
)

func stats(t *testing.T, env *apitest.Env, token string) mcpwarden.DashboardStats {
	t.Helper()
	resp, err := env.User(token).GetDashboardStatsWithResponse(context.Background())
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("stats: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// TestDashboardStatsCountActiveServersOnlineAgentsAndOpenAlerts: the counts follow every way
// servers change (insert, level change, dormancy, agent deletion's cascade), stay within the
// organization, and survive rollup compaction.
func TestDashboardStatsCountActiveServersOnlineAgentsAndOpenAlerts(t *testing.T) {
	// The stale agent would raise agent_offline; the alerts counted are the ones raised here.
	env := apitest.New(t, func(c *config.Server) { c.AgentOfflineAfter = 0 })
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	if s := stats(t, env, token); s != (mcpwarden.DashboardStats{}) {
		t.Fatalf("empty organization: %+v", s)
	}
	online := seedAgentRow(t, env, org, "online", 0)
	seedAgentRow(t, env, org, "recent", 150e9) // 2.5 minutes ago: still online
	stale := seedAgentRow(t, env, org, "stale", 10*60e9)
	seedAgentRow(t, env, org, "never", -1)
	// A fixed order, so that the last server seeded is a low one.
	levels := []struct {
		level string
		n     int
	}{{"critical", 2}, {"high", 3}, {"medium", 1}, {"low", 4}}
	var servers []uuid.UUID
	for _, l := range levels {
		level := l.level
		for i := range l.n {
			servers = append(servers, seedServerRow(t, env, org, online, fmt.Sprintf("%s-%d", level, i), "pkg-"+level, level, 50, "active"))
		}
	}
	seedServerRow(t, env, org, stale, "dormant", "pkg", "critical", 99, "dormant")
	staleServer := seedServerRow(t, env, org, stale, "stale-high", "pkg", "high", 70, "active")
	raise(t, env, org, newAlert("open1", "high"), newAlert("open2", "low"), newAlert("closed", "low"))
	var closed uuid.UUID
	if err := env.Store.DB().Get(&closed, `SELECT id FROM alerts WHERE organization_id = $1 AND dedup_key = 'closed'`, org); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.DismissAlert(context.Background(), org, closed, user.ID, nil); err != nil {
		t.Fatal(err)
	}
	other, _ := env.SeedUser(t, "admin")
	oa := seedAgentRow(t, env, other.OrganizationID, "elsewhere", 0)
	seedServerRow(t, env, other.OrganizationID, oa, "x", "pkg", "critical", 99, "active")
	raise(t, env, other.OrganizationID, newAlert("theirs", "critical"))

	want := mcpwarden.DashboardStats{TotalServers: 11, CriticalCount: 2, HighCount: 4, MediumCount: 1, LowCount: 4, ActiveAgents: 2, UnresolvedAlerts: 2}
	if s := stats(t, env, token); s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}

	db := env.Store.DB()
	changeServersDirectly(t, env, org, func(tx *sqlx.Tx) {
		tx.MustExec(`UPDATE mcp_servers SET risk_level = 'critical' WHERE id = $1`, servers[len(servers)-1]) // a low one becomes critical
		tx.MustExec(`UPDATE mcp_servers SET status = 'dormant' WHERE organization_id = $1 AND risk_level = 'medium'`, org)
		tx.MustExec(`UPDATE mcp_servers SET last_seen_at = now()`) // touches every row, changes no count
	})
	if _, err := env.Store.DeleteAgent(context.Background(), org, stale); err != nil { // with its servers
		t.Fatal(err)
	}
	s := stats(t, env, token)
	if want := (mcpwarden.DashboardStats{TotalServers: 9, CriticalCount: 3, HighCount: 3, MediumCount: 0, LowCount: 3, ActiveAgents: 2, UnresolvedAlerts: 2}); s != want {
		t.Fatalf("after changes: %+v", s)
	}
	_ = staleServer

	before := s
	if _, err := env.Store.CompactRollups(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	var rows int
	db.Get(&rows, `SELECT count(*) FROM server_rollups WHERE organization_id = $1`, org)
	if after := stats(t, env, token); after != before || rows > 4 {
		t.Errorf("after compaction: %+v (was %+v), %d rollup rows", after, before, rows)
	}
}

func TestRiskDistributionCountsLevelsAndTopTypes(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	agent := seedAgentRow(t, env, org, "h", 0)
	// high: seven types with 7..1 servers; only the top five are listed, commonest first.
	for n := 1; n <= 7; n++ {
		for i := range n {
			seedServerRow(t, env, org, agent, fmt.Sprintf("t%d-%d", n, i), fmt.Sprintf("type-%d", n), "high", 60, "active")
		}
	}
	seedServerRow(t, env, org, agent, "c", "crit-a", "critical", 90, "active")
	seedServerRow(t, env, org, agent, "d", "crit-b", "critical", 90, "dormant")

	resp, err := env.User(token).GetRiskDistributionWithResponse(context.Background())
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("%v %s", err, resp.Body)
	}
	d := resp.JSON200
	if d.Total != 29 || d.Critical != 1 || d.High != 28 || d.Medium != 0 || d.Low != 0 || len(d.Levels) != 4 {
		t.Fatalf("distribution %+v", d)
	}
	order := []mcpwarden.RiskLevel{"critical", "high", "medium", "low"}
	for i, b := range d.Levels {
		if b.RiskLevel != order[i] || b.TopServerTypes == nil {
			t.Errorf("bucket %d: %+v", i, b)
		}
	}
	high := d.Levels[1]
	if high.Count != 28 || len(high.TopServerTypes) != 5 || high.TopServerTypes[0].ServerType != "type-7" || high.TopServerTypes[0].Count != 7 || high.TopServerTypes[4].ServerType != "type-3" {
		t.Errorf("high bucket: %+v", high)
	}
	if c := d.Levels[0]; len(c.TopServerTypes) != 1 || c.TopServerTypes[0].ServerType != "crit-a" {
		t.Errorf("critical bucket (dormant servers excluded): %+v", c)
	}
}

func TestTopRisksAreTheHighestScoredActiveServers(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	agent := seedAgentRow(t, env, org, "laptop-9", 0)
	for i := range 60 {
		seedServerRow(t, env, org, agent, fmt.Sprintf("s%02d", i), "pkg", "medium", i, "active")
	}
	seedServerRow(t, env, org, agent, "dormant-top", "pkg", "critical", 100, "dormant")
	other, _ := env.SeedUser(t, "admin")
	oa := seedAgentRow(t, env, other.OrganizationID, "x", 0)
	seedServerRow(t, env, other.OrganizationID, oa, "theirs", "pkg", "critical", 100, "active")

	c := env.User(token)
	resp, err := c.GetTopRisksWithResponse(context.Background(), nil)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("%v %s", err, resp.Body)
	}
	top := *resp.JSON200
	if len(top) != 5 || top[0].ServerName != "s59" || top[4].ServerName != "s55" {
		t.Fatalf("default top-risks: %d servers, first %+v", len(top), top)
	}
	if top[0].AgentHostname == nil || *top[0].AgentHostname != "laptop-9" || len(top[0].RiskFactors) != 1 || top[0].RiskFactors[0].Id != "MCPW-TEST" {
		t.Errorf("server fields: %+v", top[0])
	}
	limit := int32(50)
	resp, _ = c.GetTopRisksWithResponse(context.Background(), &mcpwarden.GetTopRisksParams{Limit: &limit})
	if resp.JSON200 == nil || len(*resp.JSON200) != 50 {
		t.Errorf("limit=50: %s", resp.Body)
	}
	for _, q := range []string{"limit=0", "limit=51", "limit=x"} {
		r := env.Do(authedAlerts(httptest.NewRequest(http.MethodGet, "/dashboard/top-risks?"+q, nil), token))
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.StatusCode)
		}
	}
}

// TestRiskTrendIsOnePointPerSnapshottedDay: the snapshot job writes each organization's counts
// of the day (again when it runs again the same day, never twice), and the trend lists the days
// of the window that have one, oldest first, for the caller's organization only.
func TestRiskTrendIsOnePointPerSnapshottedDay(t *testing.T) {
	// The test runs the snapshot job itself, at the days it chooses; the server's own run of it
	// at start-up could otherwise snapshot today before the test's servers exist (and the test's
	// run of today would then find nothing due).
	env := apitest.NewOn(t, db.New(dbtest.New(t)), false)
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	agent := seedAgentRow(t, env, org, "h", 0)
	other, _ := env.SeedUser(t, "admin")
	oa := seedAgentRow(t, env, other.OrganizationID, "x", 0)
	seedServerRow(t, env, other.OrganizationID, oa, "theirs", "pkg", "critical", 99, "active")

	today := time.Now().UTC().Truncate(24 * time.Hour)
	snapshot := func(day time.Time) {
		t.Helper()
		job := &jobs.RiskSnapshots{Store: env.Store, Every: time.Hour, Now: func() time.Time { return day.Add(12 * time.Hour) }}
		if _, err := job.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 40 days ago (outside the default window): one critical server.
	crit := seedServerRow(t, env, org, agent, "crit", "pkg", "critical", 95, "active")
	snapshot(today.AddDate(0, 0, -40))
	// Two days ago: a high one more.
	seedServerRow(t, env, org, agent, "high", "pkg", "high", 70, "active")
	snapshot(today.AddDate(0, 0, -2))
	// Today: the critical one went dormant and two low ones appeared.
	changeServersDirectly(t, env, org, func(tx *sqlx.Tx) {
		tx.MustExec(`UPDATE mcp_servers SET status = 'dormant' WHERE id = $1`, crit)
	})
	seedServerRow(t, env, org, agent, "low1", "pkg", "low", 10, "active")
	seedServerRow(t, env, org, agent, "low2", "pkg", "low", 10, "active")
	snapshot(today)
	// Run again within the hour: nothing is due, and today's row stays one row.
	job := &jobs.RiskSnapshots{Store: env.Store, Every: time.Hour, Now: func() time.Time { return today.Add(12*time.Hour + time.Minute) }}
	if n, err := job.RunOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("second run within the hour wrote %d snapshots (%v), want 0", n, err)
	}

	trend := func(days *int32) mcpwarden.RiskTrend {
		t.Helper()
		resp, err := env.User(token).GetRiskTrendWithResponse(context.Background(), &mcpwarden.GetRiskTrendParams{Days: days})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("trend: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		return *resp.JSON200
	}
	got := trend(nil)
	want := mcpwarden.RiskTrend{Days: 30, Points: []mcpwarden.RiskTrendPoint{
		{Date: openapi_types.Date{Time: today.AddDate(0, 0, -2)}, Critical: 1, High: 1},
		{Date: openapi_types.Date{Time: today}, High: 1, Low: 2},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("30-day trend (-want +got):\n%s", diff)
	}
	two := int32(2)
	if got := trend(&two); len(got.Points) != 1 || got.Points[0].Date.Time != today || got.Days != 2 {
		t.Errorf("2-day trend: %+v", got)
	}
	ninety := int32(90)
	if got := trend(&ninety); len(got.Points) != 3 || got.Points[0].Critical != 1 || got.Points[0].High != 0 {
		t.Errorf("90-day trend: %+v", got)
	}
	for _, q := range []string{"days=0", "days=91", "days=x"} {
		r := env.Do(authedAlerts(httptest.NewRequest(http.MethodGet, "/dashboard/trend?"+q, nil), token))
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.StatusCode)
		}
	}
}

// TestRiskSnapshotsOfSeveralReplicasAtOnceWriteOneRowPerOrganization: replicas snapshotting the
// same organizations at the same time leave one row per organization and day, with its counts.
func TestRiskSnapshotsOfSeveralReplicasAtOnceWriteOneRowPerOrganization(t *testing.T) {
	env := apitest.New(t)
	var orgs []uuid.UUID
	for i := range 5 {
		user, _ := env.SeedUser(t, "admin")
		agent := seedAgentRow(t, env, user.OrganizationID, "h", 0)
		for j := range i + 1 {
			seedServerRow(t, env, user.OrganizationID, agent, fmt.Sprintf("s%d", j), "pkg", "high", 70, "active")
		}
		orgs = append(orgs, user.OrganizationID)
	}
	// Every: 0 makes every organization due on every run, so the runs overlap on every row.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := (&jobs.RiskSnapshots{Store: env.Store}).RunOnce(context.Background())
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, org := range orgs {
		var rows []struct {
			High int64 `db:"high"`
		}
		if err := env.Store.DB().Select(&rows, `SELECT high FROM risk_snapshots WHERE organization_id = $1`, org); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].High != int64(i+1) {
			t.Errorf("organization %d: snapshots %+v, want one with %d high", i, rows, i+1)
		}
	}
}
