package impl_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/citus"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/jobs"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

// planNode is a node of a plan as EXPLAIN (FORMAT JSON) writes it.
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

// executed is one statement as auto_explain reported it, with the request it ran for.
type executed struct {
	label string
	query string
	plan  planNode
}

// planRecorder collects the plans auto_explain sends as notices while a label is set.
type planRecorder struct {
	mu    sync.Mutex
	label string
	plans []executed
	bad   []string
}

func (r *planRecorder) notice(n *pq.Error) {
	i := strings.Index(n.Message, "{")
	if !strings.HasPrefix(n.Message, "duration:") || i < 0 {
		return
	}
	var e struct {
		Query string   `json:"Query Text"`
		Plan  planNode `json:"Plan"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal([]byte(n.Message[i:]), &e); err != nil {
		r.bad = append(r.bad, err.Error())
		return
	}
	if r.label != "" {
		r.plans = append(r.plans, executed{r.label, e.Query, e.Plan})
	}
}

// during records the statements fn makes the database run under label.
func (r *planRecorder) during(label string, fn func()) {
	r.mu.Lock()
	r.label = label
	r.mu.Unlock()
	fn()
	r.mu.Lock()
	r.label = ""
	r.mu.Unlock()
}

var partitionName = regexp.MustCompile(`^(\w+)_p(\d+)$`)

// touched walks a plan: the partitions it reads or writes, by table, whether it writes or locks
// rows, and the tables it writes.
func touched(n planNode, parts map[string]map[string]bool, writes map[string]bool, locks *bool) {
	if m := partitionName.FindStringSubmatch(n.Relation); m != nil && citus.Tenant(m[1]) {
		if parts[m[1]] == nil {
			parts[m[1]] = map[string]bool{}
		}
		parts[m[1]][n.Relation] = true
	}
	switch n.NodeType {
	case "ModifyTable":
		writes[n.Relation] = true
		*locks = true
	case "LockRows":
		*locks = true
	}
	for _, c := range n.Plans {
		touched(c, parts, writes, locks)
	}
}

// referenceWriters are the requests that may write a reference table (on Citus, a write on every
// node): registering an organization and changing its settings.
var referenceWriters = map[string]bool{"register": true, "update organization": true}

// TestRequestStatementsTouchOneOrganization runs the requests of a day in an organization's life
// against a database whose tenant tables are hash-partitioned by organization_id (four
// partitions standing for Citus shards), with auto_explain sending the plan of every statement
// the server executes, as executed (generic plans included, after their run-time pruning), and
// fails on any statement of a request that reads or writes more than one partition of a table;
// on a report or heartbeat that writes a global table; on a request other than registration and
// organization settings that writes a reference table; and on background work that locks or
// writes rows of more than one partition (its reads may span organizations: that is how it
// lists them). Two maintenance deletes by age span organizations by design and are not run here:
// the prune of key announcements and the sweep of sign-in throttles (Citus runs each as one
// delete per shard, with no row lock a request waits for).
func TestRequestStatementsTouchOneOrganization(t *testing.T) {
	ctx := context.Background()
	dbURL := dbtest.URL(t)
	setup, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := dbtest.Partition(ctx, setup, dbtest.Partitions); err != nil {
		t.Fatal(err)
	}
	var name string
	var super bool
	if err := setup.QueryRow(`SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&name, &super); err != nil {
		t.Fatal(err)
	}
	if !super {
		// Only with TEST_DATABASE_URL: the throwaway clusters' role is a superuser.
		t.Skip("loading auto_explain for a database takes a superuser")
	}
	for _, s := range []string{
		`session_preload_libraries = 'auto_explain'`, `auto_explain.log_min_duration = 0`,
		`auto_explain.log_level = notice`, `auto_explain.log_format = json`, `auto_explain.log_nested_statements = on`,
	} {
		if _, err := setup.Exec(`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` SET ` + s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	setup.Close()

	rec := &planRecorder{}
	conn, err := dbtest.PoolWithNotices(dbURL, rec.notice)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetMaxOpenConns(10)
	t.Cleanup(func() { conn.Close() })
	store := db.New(conn)
	// No jobs, and the hot path's own background work (flushes, polls) out of the way: each
	// request's window holds its statements only. The background work runs below, labelled.
	env := apitest.NewOn(t, store, false, func(c *config.Server) {
		c.HeartbeatFlushInterval = time.Hour
		c.RevocationPollInterval = time.Hour
		c.WebhookAllowPrivate = true
	})

	// Three organizations with data, so that the tables' partitions are not all empty.
	admin, token := env.SeedUser(t, "admin")
	org := admin.OrganizationID
	for i := 0; i < 2; i++ {
		_, other := env.SeedUser(t, "admin")
		_, k := enrol(t, env, other, "other")
		report(t, env, k, criticalFS("fs"), srv("git", "mcp-server-git", "uvx mcp-server-git"))
	}

	call := func(label, method, path, auth, body string) (int, map[string]any) {
		t.Helper()
		var status int
		var out map[string]any
		rec.during(label, func() {
			form, isForm := strings.CutPrefix(body, "form:")
			if isForm {
				body = form
			}
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			switch {
			case isForm:
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case body != "":
				req.Header.Set("Content-Type", "application/json")
			}
			if strings.HasPrefix(auth, "mcp_sk_") {
				req.Header.Set("X-API-Key", auth)
			} else if auth != "" {
				req.Header.Set("Authorization", "Bearer "+auth)
			}
			resp := env.Do(req)
			defer resp.Body.Close()
			status = resp.StatusCode
			b, _ := io.ReadAll(resp.Body)
			json.Unmarshal(b, &out)
			if status >= 400 && label != "failed login" {
				t.Errorf("%s: %s %s answered %d: %s", label, method, path, status, b)
			}
		})
		return status, out
	}
	str := func(m map[string]any, key string) string { s, _ := m[key].(string); return s }

	email := "owner." + uuid.NewString()[:8] + "@example.com"
	call("register", "POST", "/auth/register", "", `{"email":"`+email+`","password":"a long enough passphrase 7","full_name":"Owner","organization_name":"Planned"}`)
	credentials := func(password string) string {
		return "form:" + url.Values{"username": {email}, "password": {password}}.Encode()
	}
	_, login := call("login", "POST", "/auth/login", "", credentials("a long enough passphrase 7"))
	call("failed login", "POST", "/auth/login", "", credentials("wrong wrong wrong wrong"))
	call("refresh", "POST", "/auth/refresh", "", `{"refresh_token":"`+str(login, "refresh_token")+`"}`)
	call("me", "GET", "/auth/me", token, "")
	call("update profile", "PATCH", "/auth/me", token, `{"full_name":"Admin Person"}`)
	call("organization", "GET", "/auth/organization", token, "")
	call("update organization", "PATCH", "/auth/organization", token, `{"alert_email":"alerts@example.com"}`)
	_, invited := call("invite member", "POST", "/auth/organization/members", token, `{"email":"m.`+uuid.NewString()[:8]+`@example.com","full_name":"Member"}`)
	member, _ := invited["user"].(map[string]any)
	call("list members", "GET", "/auth/organization/members", token, "")
	call("accept invitation", "POST", "/auth/invitations/accept", "", `{"setup_token":"`+str(invited, "setup_token")+`","password":"another long passphrase 8"}`)
	call("change password", "PUT", "/auth/me/password", str(login, "access_token"), `{"current_password":"a long enough passphrase 7","new_password":"a longer passphrase still 9"}`)
	call("update member", "PATCH", "/auth/organization/members/"+str(member, "id"), token, `{"role":"viewer"}`)

	_, agent := call("create agent", "POST", "/agents/", token, `{"name":"laptop"}`)
	agentID, key := str(agent, "id"), str(agent, "api_key")
	_, secret := call("create enrolment secret", "POST", "/enrollment-secrets", token, `{"name":"fleet"}`)
	call("list enrolment secrets", "GET", "/enrollment-secrets", token, "")
	call("enrol", "POST", "/agents/enroll", "", `{"enrollment_secret":"`+str(secret, "secret")+`","machine_id":"`+machineOf("m1")+`","hostname":"m1"}`)
	// The same machine again: its agent gets a new key, the first one stops working.
	_, enrolled := call("enrol again", "POST", "/agents/enroll", "", `{"enrollment_secret":"`+str(secret, "secret")+`","machine_id":"`+machineOf("m1")+`","hostname":"m1"}`)
	call("rotate enrolment secret", "POST", "/enrollment-secrets/"+str(secret, "id")+"/rotate", token, "")
	call("revoke enrolment secret", "DELETE", "/enrollment-secrets/"+str(secret, "id"), token, "")

	call("webhook", "POST", "/webhooks", token, `{"url":"http://127.0.0.1:1/hook"}`)
	_, hooks := call("list webhooks", "GET", "/webhooks", token, "")
	var hookID string
	if items, ok := hooks["items"].([]any); ok && len(items) > 0 {
		hookID = str(items[0].(map[string]any), "id")
	}

	heartbeatBody := func(host string) string {
		return `{"hostname":"` + host + `","os_type":"linux","agent_version":"0.1.2","machine_id":"` + machineOf(key) + `"}`
	}
	call("heartbeat", "POST", "/agents/heartbeat", key, heartbeatBody("laptop"))
	call("heartbeat", "POST", "/agents/heartbeat", key, heartbeatBody("laptop"))
	call("heartbeat", "POST", "/agents/heartbeat", key, heartbeatBody("laptop-renamed"))
	reportBody := func(servers ...string) string {
		return `{"servers":[` + strings.Join(servers, ",") + `]}`
	}
	fs := `{"server_name":"fs","server_type":"@modelcontextprotocol/server-filesystem","command":"npx -y @modelcontextprotocol/server-filesystem /","scope":"/"}`
	git := `{"server_name":"git","server_type":"mcp-server-git","command":"uvx mcp-server-git"}`
	git2 := `{"server_name":"git","server_type":"mcp-server-git","command":"uvx mcp-server-git --repo /"}`
	web := `{"server_name":"web","server_type":"mcp-server-fetch","command":"uvx mcp-server-fetch"}`
	call("report", "POST", "/mcp/report", key, reportBody(fs, git, web))
	call("report", "POST", "/mcp/report", key, reportBody(fs, git, web))
	call("report", "POST", "/mcp/report", key, reportBody(fs, git2))
	call("report", "POST", "/mcp/report", str(enrolled, "api_key"), reportBody(git))

	_, list := call("list servers", "GET", "/mcp/servers", token, "")
	for _, q := range []string{"?risk_level=critical", "?status=dormant", "?status=active&risk_level=low", "?search=git", "?search=e",
		"?search=git&status=active", "?agent_id=" + agentID, "?agent_id=" + agentID + "&status=active", "?page=2&page_size=1"} {
		call("list servers "+q, "GET", "/mcp/servers"+q, token, "")
	}
	var serverID string
	if items, ok := list["items"].([]any); ok && len(items) > 0 {
		serverID = str(items[0].(map[string]any), "id")
	}
	call("server", "GET", "/mcp/servers/"+serverID, token, "")
	call("verify server", "PATCH", "/mcp/servers/"+serverID, token, `{"is_verified":true}`)
	call("export servers", "GET", "/mcp/servers/export?format=csv", token, "")
	call("dashboard stats", "GET", "/dashboard/stats", token, "")
	call("risk distribution", "GET", "/dashboard/risk-distribution", token, "")
	call("top risks", "GET", "/dashboard/top-risks", token, "")
	call("trend", "GET", "/dashboard/trend", token, "")
	_, alerts := call("list alerts", "GET", "/alerts/", token, "")
	call("list alerts by severity", "GET", "/alerts/?severity=critical", token, "")
	if items, _ := alerts["items"].([]any); len(items) >= 2 {
		call("dismiss alert", "POST", "/alerts/"+str(items[0].(map[string]any), "id")+"/dismiss", token, "")
		call("update alert", "PATCH", "/alerts/"+str(items[1].(map[string]any), "id"), token, `{"dismissed":true,"reason":"known"}`)
	} else {
		t.Errorf("%d alerts; the scenario's reports raise more", len(items))
	}
	call("dismiss all alerts", "POST", "/alerts/dismiss-all", token, "")
	call("export alerts", "GET", "/alerts/export?format=ndjson", token, "")
	call("test webhook", "POST", "/webhooks/"+hookID+"/test", token, "")
	call("webhook deliveries", "GET", "/webhooks/"+hookID+"/deliveries", token, "")
	_, apiToken := call("create API token", "POST", "/api-tokens", token, `{"name":"ci","scopes":["read"]}`)
	call("list servers with an API token", "GET", "/mcp/servers", str(apiToken, "token"), "")
	call("list API tokens", "GET", "/api-tokens", token, "")
	call("revoke API token", "DELETE", "/api-tokens/"+str(apiToken, "id"), token, "")
	call("audit events", "GET", "/audit-events", token, "")
	call("audit events by action", "GET", "/audit-events?action=agent.created&limit=5", token, "")
	call("audit events by target", "GET", "/audit-events?target_id="+agentID, token, "")
	call("export servers by filter", "GET", "/mcp/servers/export?format=ndjson&risk_level=critical&search=fs", token, "")
	call("export audit events", "GET", "/audit-events/export?format=csv", token, "")
	call("list agents", "GET", "/agents/", token, "")
	call("list agents online", "GET", "/agents/?status=online", token, "")
	_, rotated := call("rotate agent key", "POST", "/agents/"+agentID+"/rotate-key", token, "")
	call("report", "POST", "/mcp/report", str(rotated, "api_key"), reportBody(fs))
	call("delete agent", "DELETE", "/agents/"+agentID, token, "")
	call("delete webhook", "DELETE", "/webhooks/"+hookID, token, "")
	call("delete member", "DELETE", "/auth/organization/members/"+str(member, "id"), token, "")
	call("logout", "POST", "/auth/logout", "", `{"refresh_token":"`+str(login, "refresh_token")+`"}`)

	// Background work, organization by organization (reads that list organizations aside).
	background := func(label string, fn func() error) {
		t.Helper()
		var err error
		rec.during("background: "+label, func() { err = fn() })
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
	}
	background("heartbeat flush", func() error {
		return store.TouchAgents(ctx, []db.AgentSeen{{OrganizationID: org, AgentID: uuid.New(), SeenAt: time.Now()}})
	})
	background("webhook claim", func() error {
		_, err := store.ClaimDueDeliveries(ctx, 50, time.Minute)
		return err
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	background("dormant sweep", func() error {
		// Every agent counts as silent: the sweep goes through each organization's.
		later := func() time.Time { return time.Now().Add(48 * time.Hour) }
		_, err := (&jobs.DormantSweep{Store: store, Ingester: env.Ingester, After: time.Hour, Log: quiet, Now: later}).RunOnce(ctx)
		return err
	})
	background("offline alerts", func() error {
		later := func() time.Time { return time.Now().Add(48 * time.Hour) }
		_, _, err := (&jobs.OfflineSweep{Store: store, After: time.Hour, Log: quiet, Now: later}).RunOnce(ctx)
		return err
	})
	background("risk snapshots", func() error {
		_, err := (&jobs.RiskSnapshots{Store: store, Every: time.Hour, Log: quiet}).RunOnce(ctx)
		return err
	})
	background("audit retention", func() error {
		_, err := store.DeleteAuditEventsBefore(ctx, org, time.Now().Add(-time.Hour))
		return err
	})
	background("compaction", func() error {
		_, err := store.CompactRollups(ctx, 0)
		return err
	})
	background("email digest", func() error {
		_, _, err := (&notify.DigestWorker{Store: store, Mailer: discardMailer{}}).RunOnce(ctx)
		return err
	})

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.bad) > 0 {
		t.Fatalf("unreadable plans: %v", rec.bad)
	}
	labels := map[string]int{}
	scans := 0
	for _, e := range rec.plans {
		labels[e.label]++
		parts, writes, locks := map[string]map[string]bool{}, map[string]bool{}, false
		touched(e.plan, parts, writes, &locks)
		bg := strings.HasPrefix(e.label, "background: ")
		for table, ps := range parts {
			scans++
			if len(ps) > 1 && (!bg || locks) {
				t.Errorf("%s: a statement touches %d partitions of %s (%v):\n%s", e.label, len(ps), table, keys(ps), e.query)
			}
		}
		for table := range writes {
			place, global := citus.GlobalTables[table]
			switch {
			case global && (e.label == "report" || e.label == "heartbeat"):
				t.Errorf("%s writes global table %s:\n%s", e.label, table, e.query)
			case global && place.Reference && !referenceWriters[e.label]:
				t.Errorf("%s writes reference table %s:\n%s", e.label, table, e.query)
			}
		}
	}
	for _, want := range []string{"report", "heartbeat", "list servers", "delete agent", "background: dormant sweep", "background: webhook claim"} {
		if labels[want] == 0 {
			t.Errorf("no statement recorded for %q (recorded: %v): is auto_explain loaded?", want, labels)
		}
	}
	if scans == 0 {
		t.Fatal("no plan scanned a partition: the tables are not partitioned, or the plans were not read")
	}
	t.Logf("%d statements of %d requests and jobs, %d partitioned-table accesses, checked; the 5 reports (3 keys) ran %d, the 3 heartbeats %d",
		len(rec.plans), len(labels), scans, labels["report"], labels["heartbeat"])
}

type discardMailer struct{}

func (discardMailer) Send(context.Context, db.EmailDigest) error { return nil }

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
