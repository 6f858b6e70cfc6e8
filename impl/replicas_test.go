package impl_test

import (
	"fmt"
	"sync"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// fleetTotals is what a fleet's history leaves behind, independent of ids.
type fleetTotals struct {
	Stats          mcpwarden.DashboardStats
	Distribution   [4]int64
	ServersByState map[string]int
	AlertsByType   map[string]int
	OutboxRows     int
}

// runFleet enrols agents through the first replica, then has every agent report three rounds
// (initial, changed, unchanged), each report sent twice at once through different replicas,
// with heartbeats in between. It returns the totals once every replica has flushed.
func runFleet(t *testing.T, replicas []*apitest.Env, agents int) fleetTotals {
	t.Helper()
	first := replicas[0]
	_, token := first.SeedUser(t, "admin")
	keys := make([]string, agents)
	for i := range keys {
		_, keys[i] = enrol(t, first, token, fmt.Sprintf("laptop-%02d", i))
	}
	home := func(i int) string { return fmt.Sprintf("/home/dev%02d", i) }
	rounds := []func(i int) []mcpwarden.ReportedServer{
		func(i int) []mcpwarden.ReportedServer { // initial inventory
			fs := srv("filesystem", "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem "+home(i)+"/project")
			scope := home(i) + "/project"
			fs.Scope = &scope
			return []mcpwarden.ReportedServer{fs,
				srv("fetch", "mcp-server-fetch", "uvx mcp-server-fetch"),
				srv("shell", "mcp-shell-server", "npx -y mcp-shell-server")}
		},
		func(i int) []mcpwarden.ReportedServer { // scope widened to / (risk rises), fetch removed (dormant)
			return []mcpwarden.ReportedServer{criticalFS("filesystem"), srv("shell", "mcp-shell-server", "npx -y mcp-shell-server")}
		},
	}
	rounds = append(rounds, rounds[1]) // the same again: unchanged
	for r, servers := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, 2*agents)
		for i := range keys {
			for copy := 0; copy < 2; copy++ {
				wg.Add(1)
				go func(env *apitest.Env, key string, body []mcpwarden.ReportedServer) {
					defer wg.Done()
					resp, err := env.Agent(key).ReportServersWithResponse(tctx, mcpwarden.ReportRequest{Servers: body})
					if err == nil && resp.JSON200 == nil {
						err = fmt.Errorf("round %d: status %d: %s", r, resp.StatusCode(), resp.Body)
					}
					if err != nil {
						errs <- err
					}
				}(replicas[(i+copy)%len(replicas)], keys[i], servers(i))
			}
			if heartbeat(replicas[(i+r)%len(replicas)], keys[i], fmt.Sprintf("laptop-%02d.local", i)) != 200 {
				t.Fatalf("heartbeat of agent %d refused", i)
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	for _, env := range replicas {
		env.Ingester.FlushLastSeen(tctx)
	}

	totals := fleetTotals{ServersByState: map[string]int{}, AlertsByType: map[string]int{}}
	client := first.User(token)
	stats, err := client.GetDashboardStatsWithResponse(tctx)
	if err != nil || stats.JSON200 == nil {
		t.Fatalf("stats: %v", err)
	}
	totals.Stats = *stats.JSON200
	dist, err := client.GetRiskDistributionWithResponse(tctx)
	if err != nil || dist.JSON200 == nil {
		t.Fatalf("distribution: %v", err)
	}
	totals.Distribution = [4]int64{dist.JSON200.Critical, dist.JSON200.High, dist.JSON200.Medium, dist.JSON200.Low}
	var rows []struct {
		Key string `db:"key"`
		N   int    `db:"n"`
	}
	conn := first.Store.DB()
	if err := conn.Select(&rows, `SELECT status || '/' || risk_level AS key, count(*) AS n FROM mcp_servers GROUP BY 1`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		totals.ServersByState[r.Key] = r.N
	}
	rows = nil
	if err := conn.Select(&rows, `SELECT type AS key, count(*) AS n FROM alerts GROUP BY 1`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		totals.AlertsByType[r.Key] = r.N
	}
	totals.OutboxRows = count(t, first, `SELECT count(*) FROM alert_email_outbox`)
	return totals
}

// TestThreeReplicasEndWithTheSameTotalsAsOne runs the same fleet history against one server and
// against three servers sharing one database: inventory, alerts and counters must agree.
func TestThreeReplicasEndWithTheSameTotalsAsOne(t *testing.T) {
	const agents = 12
	single := apitest.New(t)
	one := runFleet(t, []*apitest.Env{single}, agents)

	shared := apitest.New(t)
	three := runFleet(t, []*apitest.Env{shared, shared.Replica(t), shared.Replica(t)}, agents)

	if fmt.Sprint(one) != fmt.Sprint(three) {
		t.Fatalf("totals differ\none replica:    %+v\nthree replicas: %+v", one, three)
	}
	// The history itself: every agent has an active critical filesystem and shell, a dormant fetch.
	if one.Stats.TotalServers != 2*agents || one.Stats.ActiveAgents != agents || one.ServersByState["dormant/low"]+one.ServersByState["dormant/medium"]+one.ServersByState["dormant/high"] != agents {
		t.Fatalf("unexpected totals for the fleet: %+v", one)
	}
	if one.AlertsByType["risk_increased"] != agents {
		t.Errorf("want one risk_increased alert per agent, got %+v", one.AlertsByType)
	}
	t.Logf("totals: %+v", three)
}
