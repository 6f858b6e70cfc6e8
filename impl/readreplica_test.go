package impl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestReadsGoToAStreamingStandbyAndSurviveItsLoss runs a server on a primary and a real
// streaming standby of it (pg_basebackup -R); a standby given as the primary is refused. With the
// standby's replay paused, a report the primary has committed is missing from lists, dashboard
// counts and exports: they are read from the standby (its detail, linked from alerts, is still
// found). The user who makes a change sees it at once, through this server or another replica
// (their reads go to the primary until the standby has replayed it), while another user of the
// organization still reads the standby. Stopping the standby keeps every endpoint answering,
// and /health says reads are on the primary; restarting it brings reads back to it. A server
// whose maximum lag the paused standby exceeds reads from the primary and says so. Sign-ins and
// reports work throughout.
func TestReadsGoToAStreamingStandbyAndSurviveItsLoss(t *testing.T) {
	ctx := context.Background()
	pair := dbtest.NewReplicated(t)

	if _, err := db.Open(ctx, pair.StandbyURL, 2); !errors.Is(err, db.ErrStandby) {
		t.Fatalf("opening the standby as the primary: %v, want ErrStandby", err)
	}
	store, err := db.Open(ctx, pair.PrimaryURL, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// A maximum lag far above the test's length: paused replay must not take the standby out of
	// use, so that what a read misses can only be explained by where it was read.
	if err := store.UseReadReplica(db.ReadReplicaOptions{URL: pair.StandbyURL, MaxConns: 4, MaxLag: time.Hour, CheckInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	env := apitest.NewOn(t, store, true)
	// Another server replica, with a storage and checks of its own, as a second process would be.
	otherStore, err := db.Open(ctx, pair.PrimaryURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otherStore.Close() })
	if err := otherStore.UseReadReplica(db.ReadReplicaOptions{URL: pair.StandbyURL, MaxConns: 2, MaxLag: time.Hour, CheckInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	other := apitest.NewOn(t, otherStore, true, func(c *config.Server) { c.JWTSecret = env.Config.JWTSecret })
	standby, err := sqlx.Open("postgres", pair.StandbyURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close() })

	email := uniqueEmail("owner")
	access, _ := env.RegisterAndLogin(t, email, goodPassword, "Replicated Org")
	owner := env.User(access)
	meResp, err := owner.GetCurrentUserWithResponse(ctx)
	if err != nil || meResp.JSON200 == nil {
		t.Fatalf("me: %v", err)
	}
	ownerID, orgID := meResp.JSON200.Id, meResp.JSON200.OrganizationId
	_, viewerToken := env.SeedMember(t, orgID, "viewer")
	viewer := env.User(viewerToken)
	agentID, key := enrol(t, env, access, "laptop")
	report(t, env, key, srv("filesystem", "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /tmp"))

	health := func() mcpwarden.Health {
		t.Helper()
		resp, err := env.Anonymous().GetHealthWithResponse(ctx)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("health: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		if resp.JSON200.ReadReplica == nil {
			t.Fatalf("health without read_replica: %s", resp.Body)
		}
		return *resp.JSON200
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("still waiting, after 60 s, for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// caughtUp waits until the server's check has seen the standby replay every change the
	// owner made, so that the owner's reads may go to it.
	caughtUp := func() {
		t.Helper()
		var changed db.LSN
		if err := store.DB().Get(&changed, `SELECT changed_lsn FROM users WHERE organization_id = $1 AND id = $2`, orgID, ownerID); err != nil {
			t.Fatal(err)
		}
		if changed == 0 {
			t.Fatal("the owner's changes were not marked")
		}
		waitFor("the standby to replay the owner's changes", func() bool {
			st, _ := store.ReadReplicaStatus()
			return st.InUse && st.ReplayLSN >= changed
		})
	}
	pause := func() { standby.MustExec(`SELECT pg_wal_replay_pause()`) }
	resume := func() { standby.MustExec(`SELECT pg_wal_replay_resume()`) }
	total := func(c *mcpwarden.ClientWithResponses, search string) int64 {
		t.Helper()
		resp, err := c.ListServersWithResponse(ctx, &mcpwarden.ListServersParams{Search: &search})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("list servers: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		return resp.JSON200.Total
	}
	onPrimary := func(name string) int {
		return count(t, env, `SELECT count(*) FROM mcp_servers WHERE organization_id = $1 AND server_name = $2`, orgID, name)
	}
	idOnPrimary := func(name string) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		if err := store.DB().Get(&id, `SELECT id FROM mcp_servers WHERE organization_id = $1 AND server_name = $2`, orgID, name); err != nil {
			t.Fatal(err)
		}
		return id
	}

	// readsFromStandby shows that the owner's reads are served by the standby: with its replay
	// paused, a server the primary has committed is in no list, count or export.
	probes := 0
	readsFromStandby := func() string {
		t.Helper()
		caughtUp()
		pause()
		probes++
		name := fmt.Sprintf("probe-%d", probes)
		before := stats(t, env, access).TotalServers
		report(t, env, key, srv("filesystem", "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /tmp"),
			srv(name, "mcp-server-fetch", "uvx mcp-server-fetch"))
		if onPrimary(name) != 1 {
			t.Fatalf("%s is not on the primary", name)
		}
		if n := total(owner, name); n != 0 {
			t.Errorf("the list shows %s (%d), which the paused standby has not replayed: it was not read from the standby", name, n)
		}
		if got := stats(t, env, access).TotalServers; got != before {
			t.Errorf("dashboard counts %d servers, the standby had %d: not read from the standby", got, before)
		}
		if body := get(t, env, access, "/mcp/servers/export?format=ndjson"); strings.Contains(body, name) {
			t.Errorf("the export holds %s: not read from the standby", name)
		}
		// A link to it still works: a detail the standby lacks is looked for on the primary.
		if d, err := owner.GetServerWithResponse(ctx, idOnPrimary(name)); err != nil || d.JSON200 == nil || d.JSON200.ServerName != name {
			t.Errorf("the detail of %s, which only the primary has yet: %v", name, err)
		}
		return name
	}

	waitFor("/health to say the standby serves reads", func() bool {
		h := health()
		return h.ReadReplica.InUse && h.ReadReplica.State == mcpwarden.Streaming
	})
	everyEndpointAnswers(t, env, access, key, email, agentID, idOnPrimary("filesystem"))

	// Reads come from the standby.
	probe := readsFromStandby()

	// Read your writes: the owner's change is visible to the owner at once, through the primary
	// (which also shows the probe), while the viewer, who changed nothing, still reads the
	// paused standby.
	waitFor("the other server replica to read from the standby", func() bool {
		st, _ := otherStore.ReadReplicaStatus()
		return st.InUse
	})
	created, err := owner.CreateAgentWithResponse(ctx, mcpwarden.CreateAgentJSONRequestBody{Name: "fresh-laptop"})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create agent: %v", err)
	}
	if !listsAgent(t, owner, created.JSON201.Id) {
		t.Error("the owner does not see the agent they just created")
	}
	if !listsAgent(t, other.User(access), created.JSON201.Id) {
		t.Error("the owner does not see the agent they just created when their next read reaches another server replica")
	}
	if listsAgent(t, other.User(viewerToken), created.JSON201.Id) {
		t.Error("the viewer sees, through another server replica, a change the paused standby has not replayed: not read from the standby")
	}
	if total(owner, probe) != 1 {
		t.Error("after their change, the owner's list does not come from the primary")
	}
	if listsAgent(t, viewer, created.JSON201.Id) {
		t.Error("the viewer, who changed nothing, sees a change the paused standby has not replayed: not read from the standby")
	}
	verify, err := owner.UpdateServerWithResponse(ctx, idOnPrimary("filesystem"), mcpwarden.UpdateServerJSONRequestBody{IsVerified: true})
	if err != nil || verify.JSON200 == nil {
		t.Fatalf("verify: %v", err)
	}
	detail, err := owner.GetServerWithResponse(ctx, verify.JSON200.Id)
	if err != nil || detail.JSON200 == nil || !detail.JSON200.IsVerified {
		t.Errorf("the owner's next read of the server they verified does not show it verified: %v", err)
	}
	resume()

	// Loss: every endpoint keeps answering, from the primary.
	if err := pair.Standby.Stop(); err != nil {
		t.Fatal(err)
	}
	everyEndpointAnswers(t, env, access, key, email, agentID, verify.JSON200.Id)
	waitFor("/health to say reads are on the primary", func() bool {
		h := health()
		return !h.ReadReplica.InUse && h.ReadReplica.State == mcpwarden.Unreachable && h.Status == mcpwarden.Healthy
	})
	if n := total(viewer, probe); n != 1 {
		t.Errorf("with the standby down, the viewer's list shows %s %d times, want once (from the primary)", probe, n)
	}
	everyEndpointAnswers(t, env, access, key, email, agentID, verify.JSON200.Id)

	// Back: the standby catches up and serves reads again.
	if err := pair.Standby.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor("/health to say the restarted standby serves reads", func() bool {
		h := health()
		return h.ReadReplica.InUse && h.ReadReplica.LagSeconds != nil
	})
	probe = readsFromStandby()

	// Lag: a server whose maximum lag the paused standby exceeds reads from the primary, and
	// says so, until the standby catches up.
	lagStore, err := db.Open(ctx, pair.PrimaryURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lagStore.Close() })
	if err := lagStore.UseReadReplica(db.ReadReplicaOptions{URL: pair.StandbyURL, MaxConns: 2, MaxLag: 300 * time.Millisecond, CheckInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	strict := apitest.NewOn(t, lagStore, true, func(c *config.Server) { c.JWTSecret = env.Config.JWTSecret })
	lagState := func() (bool, mcpwarden.ReadReplicaHealthState) {
		resp, err := strict.Anonymous().GetHealthWithResponse(ctx)
		if err != nil || resp.JSON200 == nil || resp.JSON200.ReadReplica == nil {
			t.Fatalf("health: %v", err)
		}
		return resp.JSON200.ReadReplica.InUse, resp.JSON200.ReadReplica.State
	}
	waitFor("/health to say the paused standby lags", func() bool {
		inUse, state := lagState()
		return !inUse && state == mcpwarden.Lagging
	})
	if n := total(strict.User(viewerToken), probe); n != 1 {
		t.Errorf("past the maximum lag, the viewer's list shows %s %d times, want once (from the primary)", probe, n)
	}
	if n := total(viewer, probe); n != 0 {
		t.Errorf("within its maximum lag, the other server's list shows %s: not read from the standby", probe)
	}
	resume()
	waitFor("/health to say the standby caught up", func() bool {
		inUse, state := lagState()
		return inUse && state == mcpwarden.Streaming
	})
}

// everyEndpointAnswers calls each read the standby may serve, and a sign-in and a report, and
// fails the test on any answer but 200.
func everyEndpointAnswers(t *testing.T, env *apitest.Env, access, key, email string, agentID, serverID uuid.UUID) {
	t.Helper()
	for _, path := range []string{
		"/mcp/servers", "/mcp/servers/" + serverID.String(), "/mcp/servers/export?format=csv", "/mcp/servers/export?format=ndjson",
		"/dashboard/stats", "/dashboard/risk-distribution", "/dashboard/top-risks", "/dashboard/trend",
		"/alerts/", "/alerts/export?format=csv", "/agents/", "/audit-events", "/audit-events/export?format=ndjson",
		"/auth/organization/members", "/enrollment-secrets", "/api-tokens", "/webhooks", "/auth/me", "/mcp/servers?agent_id=" + agentID.String(),
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		if resp := env.Do(req); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	env.Login(t, email, goodPassword)
	report(t, env, key, srv("filesystem", "@modelcontextprotocol/server-filesystem", "npx -y @modelcontextprotocol/server-filesystem /tmp"))
}

func listsAgent(t *testing.T, c *mcpwarden.ClientWithResponses, id uuid.UUID) bool {
	t.Helper()
	resp, err := c.ListAgentsWithResponse(tctx, nil)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list agents: %v", err)
	}
	for _, a := range resp.JSON200.Items {
		if a.Id == id {
			return true
		}
	}
	return false
}

func get(t *testing.T, env *apitest.Env, access, path string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp := env.Do(req)
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return string(body)
}
