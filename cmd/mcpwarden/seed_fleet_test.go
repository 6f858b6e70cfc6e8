package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// fleetReport is a report as mcpwarden-loadgen sends it (--baseline-report writes its own).
const fleetReport = `{"servers":[
	{"server_name":"filesystem","server_type":"@modelcontextprotocol/server-filesystem","command":"npx -y @modelcontextprotocol/server-filesystem /home/dev/projects","scope":"/home/dev/projects","client":"claude-desktop","config_path":"/home/dev/.config/Claude/claude_desktop_config.json","transport":"stdio","enabled":true},
	{"server_name":"github","server_type":"@modelcontextprotocol/server-github","command":"npx -y @modelcontextprotocol/server-github","env_vars":["GITHUB_PERSONAL_ACCESS_TOKEN"],"client":"claude-desktop","transport":"stdio","enabled":true},
	{"server_name":"docs-remote","server_type":"mcp.example.com","command":"https://mcp.example.com/mcp","url":"https://mcp.example.com/mcp","transport":"http"}]}`

// TestSeedForTheLoadGenerator seeds agents with --keys-file and --report, as the bench's fleet
// phase does, twice (the second appending), and plays the load generator's agents through the
// real API: every key authenticates, a heartbeat with the load generator's details writes
// nothing at once (no metadata update, so no key announcement), and the report the agents were
// seeded with is unchanged.
func TestSeedForTheLoadGenerator(t *testing.T) {
	ctx := context.Background()
	store := seedTestStore(t, true)
	orgID, err := seedOrganization(ctx, store, "Fleet Test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	reportPath, keysPath := filepath.Join(dir, "baseline.json"), filepath.Join(dir, "keys")
	if err := os.WriteFile(reportPath, []byte(fleetReport), 0o644); err != nil {
		t.Fatal(err)
	}
	report, err := readSeedReport(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	for run, n := range []int{7, 5} {
		opts := seedOptions{agents: n, perAgent: len(report.servers), workers: 2, batch: 3, bypassTriggers: true,
			keys: make([]string, n), report: report}
		if run > 0 {
			if opts.firstIndex, err = countLines(keysPath); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := seedInventory(ctx, store, orgID, opts); err != nil {
			t.Fatal(err)
		}
		if err := writeSeedKeys(keysPath, opts.keys, run > 0); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	keys := strings.Fields(string(b))
	if len(keys) != 12 {
		t.Fatalf("the keys file holds %d keys, want 12", len(keys))
	}
	var agents, servers int
	if err := store.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM agents WHERE organization_id = $1),
		(SELECT count(*) FROM mcp_servers WHERE organization_id = $1 AND status = 'active')`, orgID).Scan(&agents, &servers); err != nil {
		t.Fatal(err)
	}
	if agents != 12 || servers != 36 {
		t.Fatalf("%d agents and %d active servers, want 12 and 36", agents, servers)
	}

	cfg := config.Defaults()
	cfg.JWTSecret = strings.Repeat("k", 32)
	h, err := impl.NewReplica(cfg, version, store, slog.New(slog.NewTextHandler(io.Discard, nil))).Server.Handler()
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, key, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for i, key := range keys {
		// The body mcpwarden-loadgen's appendHeartbeat sends for its agent i.
		hb := fmt.Sprintf(`{"agent_version":%q,"hostname":%q,"os_type":%q,"username":%q}`, loadgenAgentVersion, loadgenHostname(i), loadgenOS, loadgenUser)
		if code, body := post("/agents/heartbeat", key, hb); code != http.StatusOK {
			t.Fatalf("agent %d: heartbeat answered %d %s", i, code, body)
		}
		code, body := post("/mcp/report", key, fleetReport)
		var res struct {
			Unchanged bool `json:"unchanged"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || !res.Unchanged {
			t.Fatalf("agent %d: the seeded report answered %d %s, want 200 and unchanged", i, code, body)
		}
	}
	var announced int
	if err := store.DB().GetContext(ctx, &announced, `SELECT count(*) FROM agent_key_revocations`); err != nil {
		t.Fatal(err)
	}
	if announced != 0 {
		t.Fatalf("%d key announcements: heartbeats with the load generator's details updated seeded agents", announced)
	}
}
