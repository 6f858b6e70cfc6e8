package impl_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// heartbeat sends a heartbeat from the machine of key (see machineOf), under hostname.
func heartbeat(env *apitest.Env, key, hostname string) int {
	os := mcpwarden.OsType("linux")
	version := "0.1.2"
	machine := machineOf(key)
	resp, err := env.Agent(key).AgentHeartbeatWithResponse(tctx, mcpwarden.AgentHeartbeatJSONRequestBody{Hostname: hostname, OsType: &os, AgentVersion: &version, MachineId: &machine})
	if err != nil {
		return 0
	}
	return resp.StatusCode()
}

// machineOf is the machine identity of the one machine using key in a test: hostnames may then
// change without the server taking the change for a second machine.
func machineOf(key string) string {
	sum := sha256.Sum256([]byte("machine of " + key))
	return hex.EncodeToString(sum[:])
}

func TestAgentCreateListHeartbeatAndDelete(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "member")
	_, otherToken := env.SeedUser(t, "admin")
	agentID, key := enrol(t, env, token, "Jane's laptop")
	if !apikey.Valid(key) || !strings.HasPrefix(key, "mcp_sk_") {
		t.Fatalf("api key %q is not a valid mcp_sk_ key", key)
	}
	list, _ := env.User(token).ListAgentsWithResponse(tctx, nil)
	if len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Status != "offline" || list.JSON200.Items[0].ServerCount != 0 || list.JSON200.Items[0].Hostname != nil {
		t.Fatalf("new agent: %s", list.Body)
	}
	if !strings.HasPrefix(key, list.JSON200.Items[0].KeyPrefix) || strings.Contains(string(list.Body), key) {
		t.Errorf("list shows key prefix %q for key %q (and must not show the key)", list.JSON200.Items[0].KeyPrefix, key)
	}
	if code := heartbeat(env, key, "laptop.local"); code != http.StatusOK {
		t.Fatalf("heartbeat: %d", code)
	}
	report(t, env, key, srv("alpha", "mcp-server-time", "uvx mcp-server-time"), srv("beta", "mcp-server-fetch", "uvx mcp-server-fetch"))
	report(t, env, key, srv("alpha", "mcp-server-time", "uvx mcp-server-time"))
	list, _ = env.User(token).ListAgentsWithResponse(tctx, nil)
	a := list.JSON200.Items[0]
	if a.Status != "online" || a.Hostname == nil || *a.Hostname != "laptop.local" || a.OsType == nil || *a.OsType != "linux" ||
		a.ServerCount != 2 || a.ActiveServerCount == nil || *a.ActiveServerCount != 1 || a.LastSeenAt == nil {
		t.Errorf("after heartbeat and reports: %s", list.Body)
	}
	// Another organization sees nothing and cannot delete it.
	other, _ := env.User(otherToken).ListAgentsWithResponse(tctx, nil)
	if other.JSON200.Total != 0 || !strings.Contains(string(other.Body), `"items":[]`) {
		t.Errorf("other organization's list: %s", other.Body)
	}
	if resp, _ := env.User(otherToken).DeleteAgentWithResponse(tctx, agentID); resp.StatusCode() != http.StatusNotFound {
		t.Errorf("delete from another organization: %d", resp.StatusCode())
	}

	if resp, _ := env.User(token).DeleteAgentWithResponse(tctx, agentID); resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode(), resp.Body)
	}
	if code := heartbeat(env, key, "laptop.local"); code != http.StatusUnauthorized {
		t.Errorf("heartbeat with the deleted agent's key: %d, want 401", code)
	}
	resp, _ := env.Agent(key).ReportServersWithResponse(tctx, mcpwarden.ReportServersJSONRequestBody{Servers: []mcpwarden.ReportedServer{}})
	if resp.StatusCode() != http.StatusUnauthorized {
		t.Errorf("report with the deleted agent's key: %d, want 401", resp.StatusCode())
	}
	if n := count(t, env, `SELECT count(*) FROM mcp_servers WHERE agent_id = $1`, agentID) + count(t, env, `SELECT count(*) FROM agent_keys WHERE agent_id = $1`, agentID); n != 0 {
		t.Errorf("%d servers and keys left behind", n)
	}
	if resp, _ := env.User(token).DeleteAgentWithResponse(tctx, agentID); resp.StatusCode() != http.StatusNotFound {
		t.Errorf("second delete: %d", resp.StatusCode())
	}
}

func TestRotatedAwayKeyIsRefused(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	agentID, oldKey := enrol(t, env, token, "laptop")
	if code := beatAs(t, env, oldKey, machine("laptop"), "h"); code != http.StatusOK { // caches the old key
		t.Fatalf("heartbeat: %d", code)
	}
	resp, err := env.User(token).RotateAgentKeyWithResponse(tctx, agentID)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("rotate: %v %s", err, resp.Body)
	}
	newKey := resp.JSON200.ApiKey
	if newKey == oldKey || !apikey.Valid(newKey) || resp.JSON200.KeyPrefix != apikey.DisplayPrefix(newKey) {
		t.Fatalf("rotated key %q (old %q)", newKey, oldKey)
	}
	if code := beatAs(t, env, oldKey, machine("laptop"), "h"); code != http.StatusUnauthorized {
		t.Errorf("old key after rotation: %d, want 401", code)
	}
	if code := beatAs(t, env, newKey, machine("laptop"), "h"); code != http.StatusOK {
		t.Errorf("new key: %d, want 200", code)
	}
	_, otherToken := env.SeedUser(t, "admin")
	if resp, _ := env.User(otherToken).RotateAgentKeyWithResponse(tctx, agentID); resp.StatusCode() != http.StatusNotFound {
		t.Errorf("rotate from another organization: %d", resp.StatusCode())
	}
}

func TestMalformedAndUnknownKeysAreRefused(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	for name, k := range map[string]string{
		"bad checksum": key[:len(key)-1] + string("ab"[0]+key[len(key)-1]%2),
		"not a key":    "hello",
		"unknown key":  apikey.New(),
	} {
		if code := heartbeat(env, k, "h"); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}

// TestDeletedKeyStopsWorkingOnAnotherReplica runs a second server on the same database: it
// has the key cached, and refuses it once it has read the announcements written since (which it
// does every few seconds; here at once, so the test waits for nothing).
func TestDeletedKeyStopsWorkingOnAnotherReplica(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.RevocationPollInterval = time.Hour })
	_, token := env.SeedUser(t, "admin")
	agentID, key := enrol(t, env, token, "laptop")
	replica := env.Replica(t)
	beat := func() int {
		req := httptest.NewRequest(http.MethodPost, "/agents/heartbeat", strings.NewReader(`{"hostname":"h"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		replica.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := beat(); code != http.StatusOK {
		t.Fatalf("replica heartbeat: %d", code)
	}
	if resp, _ := env.User(token).DeleteAgentWithResponse(tctx, agentID); resp.StatusCode() != http.StatusNoContent {
		t.Fatal("delete failed")
	}
	if err := replica.Ingester.PollRevocations(tctx); err != nil {
		t.Fatal(err)
	}
	if code := beat(); code != http.StatusUnauthorized {
		t.Fatalf("the other replica, after reading the announcements, answers the deleted key %d, want 401", code)
	}
}

func TestHeartbeatLastSeenIsBufferedAndFlushed(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	agentID, key := enrol(t, env, token, "laptop")
	// A replica of our own, not running its upkeep: its buffer is flushed only when the test
	// says so.
	replica := impl.NewReplica(env.Config, "test", env.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h, err := replica.Server.Handler()
	if err != nil {
		t.Fatal(err)
	}
	beat := func(hostname string) {
		req := httptest.NewRequest(http.MethodPost, "/agents/heartbeat", strings.NewReader(`{"hostname":"`+hostname+`","os_type":"darwin","agent_version":"0.1.2","machine_id":"`+machineOf(key)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("heartbeat: %d %s", rec.Code, rec.Body)
		}
	}
	stored := func() (string, time.Time) {
		var row struct {
			Hostname   string    `db:"hostname"`
			LastSeenAt time.Time `db:"last_seen_at"`
		}
		if err := env.Store.DB().Get(&row, `SELECT hostname, last_seen_at FROM agents WHERE id = $1`, agentID); err != nil {
			t.Fatal(err)
		}
		return row.Hostname, row.LastSeenAt
	}
	beat("first.local")
	if host, _ := stored(); host != "first.local" {
		t.Fatalf("a new hostname must be written at once; stored %q", host)
	}
	// Whole microseconds: PostgreSQL rounds, Go would truncate.
	old := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	env.Store.DB().MustExec(`UPDATE agents SET last_seen_at = $2 WHERE id = $1`, agentID, old)
	for i := 0; i < 20; i++ {
		beat("first.local")
	}
	if _, seen := stored(); !seen.Equal(old.Truncate(time.Microsecond)) {
		t.Fatalf("unchanged heartbeats wrote last_seen_at before a flush: %v", seen)
	}
	replica.Ingester.FlushLastSeen(context.Background())
	if _, seen := stored(); time.Since(seen) > time.Minute {
		t.Errorf("after the flush last_seen_at is %v", seen)
	}
	// A changed hostname is written at once, never left to a flush.
	replica2 := impl.NewReplica(env.Config, "test", env.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if h, err = replica2.Server.Handler(); err != nil {
		t.Fatal(err)
	}
	beat("second.local")
	if host, _ := stored(); host != "second.local" {
		t.Errorf("changed hostname not written: %q", host)
	}
}

// TestAnOrganizationEnrolsAtMostItsLimitOfAgents: past MCPWARDEN_MAX_AGENTS_PER_ORG enrolment is a
// 409, also for concurrent enrolments; deleting an agent makes room again.
func TestAnOrganizationEnrolsAtMostItsLimitOfAgents(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.MaxAgentsPerOrg = 3 })
	_, token := env.SeedUser(t, "admin")
	create := func() int {
		resp, err := env.User(token).CreateAgentWithResponse(context.Background(), mcpwarden.CreateAgentJSONRequestBody{Name: "laptop"})
		if err != nil {
			t.Error(err)
			return 0
		}
		return resp.StatusCode()
	}
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- create()
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 3 || count[http.StatusConflict] != 5 {
		t.Fatalf("8 concurrent enrolments with room for 3: %v, want 3 created and 5 conflicts", count)
	}
	list, err := env.User(token).ListAgentsWithResponse(context.Background(), nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 3 {
		t.Fatalf("list: %v", err)
	}
	if resp, err := env.User(token).DeleteAgentWithResponse(context.Background(), list.JSON200.Items[0].Id); err != nil || resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v", err)
	}
	if c := create(); c != http.StatusCreated {
		t.Errorf("enrolment after a deletion: %d, want 201", c)
	}
}

// TestAgentsAreListedByState: status=online keeps the agents seen within the online window and
// offline the others (never seen included), with totals that add up to the unfiltered list's and
// match the dashboard's online count.
func TestAgentsAreListedByState(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	seedAgentRow(t, env, org, "a-online", 0)
	seedAgentRow(t, env, org, "b-recent", 150e9) // 2.5 minutes ago: still online
	seedAgentRow(t, env, org, "c-stale", 10*60e9)
	seedAgentRow(t, env, org, "d-never", -1)
	other, _ := env.SeedUser(t, "admin")
	seedAgentRow(t, env, other.OrganizationID, "e-elsewhere", 0)

	list := func(status *mcpwarden.AgentStatus) (names []string, total int64) {
		t.Helper()
		resp, err := env.User(token).ListAgentsWithResponse(context.Background(), &mcpwarden.ListAgentsParams{Status: status})
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("list agents: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		for _, a := range resp.JSON200.Items {
			if status != nil && a.Status != *status {
				t.Errorf("status=%s listed %s, which is %s", *status, a.Name, a.Status)
			}
			names = append(names, a.Name)
		}
		return names, resp.JSON200.Total
	}
	online, offline := mcpwarden.AgentStatus("online"), mcpwarden.AgentStatus("offline")
	for _, c := range []struct {
		status *mcpwarden.AgentStatus
		want   []string
	}{
		{nil, []string{"a-online", "b-recent", "c-stale", "d-never"}},
		{&online, []string{"a-online", "b-recent"}},
		{&offline, []string{"c-stale", "d-never"}},
	} {
		names, total := list(c.status)
		if !slices.Equal(names, c.want) || total != int64(len(c.want)) {
			t.Errorf("status %v: %v (total %d), want %v", c.status, names, total, c.want)
		}
	}
	if s := stats(t, env, token); s.ActiveAgents != 2 {
		t.Errorf("dashboard counts %d agents online, the list 2", s.ActiveAgents)
	}
	r := env.Do(authedAlerts(httptest.NewRequest(http.MethodGet, "/agents/?status=asleep", nil), token))
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("status=asleep: %d", r.StatusCode)
	}
}
