package impl_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestReportRevertedOnAnotherReplicaIsApplied: with two replicas, report A to b, B to a, then A
// again to b: b's last answer must apply A, not acknowledge it as unchanged from what b
// remembers. The announcement poll is turned off (an hour), so nothing but the confirmation
// against what is stored can make it right.
func TestReportRevertedOnAnotherReplicaIsApplied(t *testing.T) {
	a := apitest.New(t, func(c *config.Server) { c.RevocationPollInterval = time.Hour })
	b := a.Replica(t)
	_, token := a.SeedUser(t, "admin")
	agentID, key := enrol(t, a, token, "laptop")
	one := srv("alpha", "mcp-server-time", "uvx mcp-server-time")
	two := srv("beta", "mcp-server-fetch", "uvx mcp-server-fetch")
	active := func() string {
		var names string
		a.Store.DB().Get(&names, `SELECT coalesce(string_agg(server_name, ',' ORDER BY server_name), '') FROM mcp_servers WHERE agent_id = $1 AND status = 'active'`, agentID)
		return names
	}

	report(t, b, key, one) // b remembers the report hash of {alpha}
	if r := report(t, b, key, one); !r.Unchanged {
		t.Fatalf("identical report on b: %+v", r)
	}
	if r := report(t, a, key, two); r.Unchanged || r.ServersCreated != 1 || r.ServersDormant != 1 {
		t.Fatalf("changed report on a: %+v", r)
	}
	if r := report(t, b, key, one); r.Unchanged || r.ServersDormant != 1 {
		t.Errorf("the reverted report on b: %+v, want it applied (beta dormant)", r)
	}
	if got := active(); got != "alpha" {
		t.Errorf("active servers after the reverted report: %q, want alpha", got)
	}
	// The same holds for a body b has never seen that normalizes to what b remembers.
	if r := report(t, a, key, two); r.Unchanged {
		t.Fatalf("changed report on a: %+v", r)
	}
	reordered := one
	reordered.EnvVars = &[]string{}
	if r := report(t, b, key, reordered); r.Unchanged {
		t.Errorf("the reverted report, re-encoded, on b: %+v, want it applied", r)
	}
	if got := active(); got != "alpha" {
		t.Errorf("active servers after the re-encoded reverted report: %q, want alpha", got)
	}
}

// TestHeartbeatRevertedOnAnotherReplicaIsWritten: machine details sent to b, changed through a,
// then sent to b again are stored as b last received them once b flushes (b decides from what
// it holds, and has not heard of a's change: its polls are an hour apart), and a flush of an
// older heartbeat does not overwrite a newer one.
func TestHeartbeatRevertedOnAnotherReplicaIsWritten(t *testing.T) {
	a := apitest.New(t, func(c *config.Server) { c.RevocationPollInterval = time.Hour })
	b := a.Replica(t)
	_, token := a.SeedUser(t, "admin")
	agentID, key := enrol(t, a, token, "laptop")
	beat := func(env *apitest.Env, host string) {
		t.Helper()
		machine := machineOf(key)
		resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: host, MachineId: &machine})
		if err != nil || resp.StatusCode() != http.StatusOK {
			t.Fatalf("heartbeat to %s: %v %d", host, err, resp.StatusCode())
		}
	}
	stored := func() string {
		var host string
		a.Store.DB().Get(&host, `SELECT coalesce(hostname, '') FROM agents WHERE id = $1`, agentID)
		return host
	}
	beat(b, "first.local")
	beat(b, "first.local") // b remembers first.local
	beat(a, "second.local")
	b.Ingester.FlushLastSeen(tctx) // b's second heartbeat is older than a's write
	if got := stored(); got != "second.local" {
		t.Errorf("hostname stored after first, second (other replica) and b's flush: %q, want second.local", got)
	}
	beat(b, "first.local")
	b.Ingester.FlushLastSeen(tctx)
	if got := stored(); got != "first.local" {
		t.Errorf("hostname stored after first, second (other replica), first: %q, want first.local", got)
	}
	beat(a, "second.local") // a holds second.local: buffered, then flushed as the newest
	a.Ingester.FlushLastSeen(tctx)
	if got := stored(); got != "second.local" {
		t.Errorf("hostname stored after a's buffered heartbeat: %q, want second.local", got)
	}
}

// TestUnchangedReportFastPathKeepsNormalizedSemantics: a body that differs byte for byte but
// normalizes to the same report (servers reordered, a duplicate env var name) is unchanged, and a
// body identical to an earlier one is recognised before normalization.
func TestUnchangedReportFastPathKeepsNormalizedSemantics(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	x := srv("alpha", "mcp-server-time", "uvx mcp-server-time")
	env1 := []string{"HOME", "HOME=/root"}
	x.EnvVars = &env1
	y := srv("beta", "mcp-server-fetch", "uvx mcp-server-fetch --token ghp_R7x2Lq9ZtW4mN8vB3cK6yH1jP5sD0fG2aE7u")
	if r := report(t, env, key, x, y); r.Unchanged || r.ServersCreated != 2 {
		t.Fatalf("first report: %+v", r)
	}
	for i := 0; i < 3; i++ {
		if r := report(t, env, key, x, y); !r.Unchanged || r.ServersReceived != 2 {
			t.Fatalf("identical report %d: %+v", i, r)
		}
	}
	x2 := x
	env2 := []string{"HOME"}
	x2.EnvVars = &env2
	if r := report(t, env, key, y, x2); !r.Unchanged || r.ServersReceived != 2 {
		t.Errorf("equivalent report: %+v", r)
	}
	if r := report(t, env, key, x, y); !r.Unchanged {
		t.Errorf("the first body again: %+v", r)
	}
	if r := report(t, env, key, x); r.Unchanged || r.ServersDormant != 1 {
		t.Errorf("a server removed: %+v", r)
	}
	if r := report(t, env, key, x, y); r.Unchanged || r.ServersUpdated != 1 {
		t.Errorf("the first body after a change: %+v", r)
	}
}

// BenchmarkHeartbeat measures one heartbeat through the whole handler (middleware, request
// validation, authentication from the key cache, handler) with a valid agent key.
func BenchmarkHeartbeat(b *testing.B) {
	env := apitest.New(b)
	_, token := env.SeedUser(b, "admin")
	resp, err := env.User(token).CreateAgentWithResponse(tctx, mcpwarden.CreateAgentJSONRequestBody{Name: "bench"})
	if err != nil || resp.JSON201 == nil {
		b.Fatalf("create agent: %v", err)
	}
	key := resp.JSON201.ApiKey
	body := `{"hostname":"bench.local","os_type":"linux","username":"dev","agent_version":"0.1.2"}`
	beat := func() int {
		req := httptest.NewRequest(http.MethodPost, "/agents/heartbeat", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		env.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := beat(); code != http.StatusOK {
		b.Fatalf("heartbeat: %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := beat(); code != http.StatusOK {
				b.Errorf("heartbeat: %d", code)
				return
			}
		}
	})
}

// TestChangedReportsKeepTheirReplicasKeyCache: a replica that applies an agent's changed reports
// keeps the agent's key cached (a report announces nothing: its hash is confirmed against the
// stored one instead), but a change another replica announced in between (a new hostname) still
// makes it forget its stale copy of the agent.
func TestChangedReportsKeepTheirReplicasKeyCache(t *testing.T) {
	a := apitest.New(t)
	b := a.Replica(t)
	_, token := a.SeedUser(t, "admin")
	agentID, key := enrol(t, a, token, "laptop")
	poll := func() {
		if err := a.Ingester.PollRevocations(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if code := heartbeat(a, key, "h1"); code != http.StatusOK {
		t.Fatalf("heartbeat: %d", code)
	}
	for i := range 3 {
		report(t, a, key, srv("s", "mcp-server-fetch", fmt.Sprintf("uvx mcp-server-fetch --rev %d", i)))
		poll()
	}
	lookups := a.Ingester.KeyLookups()
	for i := range 3 {
		if r := report(t, a, key, srv("s", "mcp-server-fetch", fmt.Sprintf("uvx mcp-server-fetch --rev 1%d", i))); r.ServersUpdated != 1 {
			t.Fatalf("changed report: %+v", r)
		}
		poll()
		heartbeat(a, key, "h1")
	}
	if n := a.Ingester.KeyLookups() - lookups; n != 0 {
		t.Fatalf("%d key lookups after the replica's own changed reports, want 0", n)
	}

	// Another replica stores a new hostname; after this replica's next report and poll, its copy
	// of the agent (hostname h1) must be gone: the agent going back to h1 is then written, not
	// taken for unchanged.
	heartbeat(b, key, "h2")
	report(t, a, key, srv("s", "mcp-server-fetch", "uvx mcp-server-fetch --rev 20"))
	poll()
	heartbeat(a, key, "h1")
	var hostname string
	if err := a.Store.DB().Get(&hostname, `SELECT hostname FROM agents WHERE id = $1`, agentID); err != nil {
		t.Fatal(err)
	}
	if hostname != "h1" {
		t.Fatalf("stored hostname %q after the agent went back to h1, want h1", hostname)
	}
}

// TestSteadyHeartbeatsReadNothingAndAreFlushed: once a replica holds an agent, heartbeats that
// repeat its details from its bound machine read nothing from the database (no key lookup, no
// stored-state read) and are written by the flush; a change of details, or another machine, is
// checked against what is stored at once.
func TestSteadyHeartbeatsReadNothingAndAreFlushed(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	agentID, key := enrol(t, env, token, "laptop")
	if code := heartbeat(env, key, "h1"); code != http.StatusOK { // new details: checked and written
		t.Fatalf("first heartbeat: %d", code)
	}
	env.Ingester.FlushLastSeen(tctx)
	lastSeen := func() (host string, at time.Time) {
		t.Helper()
		row := env.Store.DB().QueryRow(`SELECT hostname, last_seen_at FROM agents WHERE id = $1`, agentID)
		if err := row.Scan(&host, &at); err != nil {
			t.Fatal(err)
		}
		return host, at
	}
	_, before := lastSeen()

	lookups, reads := env.Ingester.KeyLookups(), env.Ingester.StoredReads()
	for i := range 20 {
		if code := heartbeat(env, key, "h1"); code != http.StatusOK {
			t.Fatalf("heartbeat %d: %d", i, code)
		}
	}
	if l, r := env.Ingester.KeyLookups()-lookups, env.Ingester.StoredReads()-reads; l != 0 || r != 0 {
		t.Errorf("20 steady heartbeats made %d key lookups and %d stored-state reads, want none", l, r)
	}
	if _, at := lastSeen(); !at.Equal(before) {
		t.Errorf("last seen moved before the flush: %v -> %v", before, at)
	}
	env.Ingester.FlushLastSeen(tctx)
	if host, at := lastSeen(); !at.After(before) || host != "h1" {
		t.Errorf("after the flush: hostname %q, last seen %v (before %v), want h1 and later", host, at, before)
	}

	reads = env.Ingester.StoredReads()
	if code := heartbeat(env, key, "h2"); code != http.StatusOK {
		t.Fatalf("heartbeat with a new hostname: %d", code)
	}
	if host, _ := lastSeen(); host != "h2" || env.Ingester.StoredReads() != reads+1 {
		t.Errorf("a new hostname: stored %q after %d reads, want h2 written at once after one read", host, env.Ingester.StoredReads()-reads)
	}

	// Another machine with the key, while the bound one is active: checked, refused.
	other := machineOf("another machine")
	resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: "h2", MachineId: &other})
	if err != nil || resp.StatusCode() != http.StatusConflict {
		t.Fatalf("heartbeat from another machine: %v %v, want 409", err, resp.StatusCode())
	}
	if code := heartbeat(env, key, "h2"); code != http.StatusOK {
		t.Fatalf("the bound machine again: %d", code)
	}
}

// TestAKeyMovedToAnotherMachineOnOneReplicaIsRefusedOnTheOther: replica b answers the bound
// machine's heartbeats from memory; once that machine has been silent and the key has moved to
// another machine through a report on replica a, b hears of it from a's announcement at its next
// poll and refuses the first machine (409) instead of answering from what it remembered.
func TestAKeyMovedToAnotherMachineOnOneReplicaIsRefusedOnTheOther(t *testing.T) {
	a := apitest.New(t, func(c *config.Server) { c.RevocationPollInterval = time.Hour })
	b := a.Replica(t)
	_, token := a.SeedUser(t, "admin")
	agentID, key := enrol(t, a, token, "laptop")
	first, second := machineOf("first"), machineOf("second")
	beat := func(env *apitest.Env, machine string) int {
		t.Helper()
		resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: "laptop.local", MachineId: &machine})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}

	if code := beat(b, first); code != http.StatusOK {
		t.Fatalf("the first machine's heartbeat on b: %d", code)
	}
	reads := b.Ingester.StoredReads()
	if code := beat(b, first); code != http.StatusOK || b.Ingester.StoredReads() != reads {
		t.Fatalf("the first machine's steady heartbeat on b: %d after %d stored-state reads, want 200 from memory", code, b.Ingester.StoredReads()-reads)
	}
	host := "laptop.local"
	send := func(env *apitest.Env, machine string) mcpwarden.ReportResult {
		t.Helper()
		resp, err := env.Agent(key).ReportServersWithResponse(tctx, mcpwarden.ReportServersJSONRequestBody{
			Servers: []mcpwarden.ReportedServer{srv("alpha", "mcp-server-time", "uvx mcp-server-time")}, MachineId: &machine, Hostname: &host,
		})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("report: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		return *resp.JSON200
	}
	send(b, first)
	b.Ingester.FlushLastSeen(tctx)
	a.Store.DB().MustExec(`UPDATE agents SET last_seen_at = now() - interval '4 minutes' WHERE id = $1`, agentID)

	// The same inventory from the second machine: nothing changes but the binding, so the
	// binding's own announcement is all b can hear of.
	if r := send(a, second); !r.Unchanged {
		t.Fatalf("the second machine's report on a: %+v, want unchanged", r)
	}
	if code := beat(a, second); code != http.StatusOK {
		t.Fatalf("the second machine's heartbeat on a: %d", code)
	}
	a.Ingester.FlushLastSeen(tctx)

	if err := b.Ingester.PollRevocations(tctx); err != nil {
		t.Fatal(err)
	}
	if code := beat(b, first); code != http.StatusConflict {
		t.Errorf("the first machine on b after the key moved on a: %d, want 409", code)
	}
	if code := beat(b, second); code != http.StatusOK {
		t.Errorf("the second machine on b: %d, want 200", code)
	}
}
