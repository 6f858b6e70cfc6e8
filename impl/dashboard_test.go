package impl_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
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
	env.Store.DB().MustExec(`UPDATE alerts SET dismissed = true, dismissed_at = now() WHERE dedup_key = 'closed'`)
	other, _ := env.SeedUser(t, "admin")
	oa := seedAgentRow(t, env, other.OrganizationID, "elsewhere", 0)
	seedServerRow(t, env, other.OrganizationID, oa, "x", "pkg", "critical", 99, "active")
	raise(t, env, other.OrganizationID, newAlert("theirs", "critical"))

	want := mcpwarden.DashboardStats{TotalServers: 11, CriticalCount: 2, HighCount: 4, MediumCount: 1, LowCount: 4, ActiveAgents: 2, UnresolvedAlerts: 2}
	if s := stats(t, env, token); s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}

	db := env.Store.DB()
	db.MustExec(`UPDATE mcp_servers SET risk_level = 'critical' WHERE id = $1`, servers[len(servers)-1]) // a low one becomes critical
	db.MustExec(`UPDATE mcp_servers SET status = 'dormant' WHERE organization_id = $1 AND risk_level = 'medium'`, org)
	db.MustExec(`UPDATE mcp_servers SET last_seen_at = now()`) // touches every row, changes no count
	db.MustExec(`DELETE FROM agents WHERE id = $1`, stale)     // cascades to its servers
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
