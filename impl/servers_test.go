package impl_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

func names(t *testing.T, env *apitest.Env, token string, p mcpwarden.ListServersParams) []string {
	t.Helper()
	resp, err := env.User(token).ListServersWithResponse(tctx, &p)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list: %v %s", err, resp.Body)
	}
	out := []string{}
	for _, s := range resp.JSON200.Items {
		out = append(out, s.ServerName)
	}
	return out
}

func TestServerSearchTakesWildcardsLiterally(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	var servers []mcpwarden.ReportedServer
	for _, n := range []string{"100%", "1000", "a_b", "axb", `back\slash`, "backslash", "Postgres-Prod"} {
		servers = append(servers, srv(n, "mcp-server-time", "uvx mcp-server-time"))
	}
	servers = append(servers, srv("db", "@acme/Postgres-MCP", "npx -y @acme/postgres-mcp"))
	report(t, env, key, servers...)
	for search, want := range map[string]string{
		"%":          "100%",
		"_":          "a_b",
		"A_B":        "a_b",
		`\`:          `back\slash`,
		"postgres-m": "db", // the type matches too, case-insensitively
		"prod":       "Postgres-Prod",
		"postgres":   "Postgres-Prod,db",
		"nothing":    "",
	} {
		s := search
		got := names(t, env, token, mcpwarden.ListServersParams{Search: &s})
		sort.Strings(got)
		if strings.Join(got, ",") != want {
			t.Errorf("search %q found %q, want %q", search, got, want)
		}
	}
}

func TestServerListFiltersSortsAndPages(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	agent1, key1 := enrol(t, env, token, "one")
	_, key2 := enrol(t, env, token, "two")
	report(t, env, key1, criticalFS("root-files"), srv("clock", "mcp-server-time", "uvx mcp-server-time"), srv("gone", "mcp-server-fetch", "uvx mcp-server-fetch"))
	report(t, env, key1, criticalFS("root-files"), srv("clock", "mcp-server-time", "uvx mcp-server-time"))
	report(t, env, key2, srv("b-clock", "mcp-server-time", "uvx mcp-server-time"), srv("a-clock", "mcp-server-time", "uvx mcp-server-time"))

	all, _ := env.User(token).ListServersWithResponse(tctx, nil)
	if all.JSON200.Total != 5 || all.JSON200.Page != 1 || all.JSON200.PageSize != 25 {
		t.Errorf("envelope: total %d page %d size %d", all.JSON200.Total, all.JSON200.Page, all.JSON200.PageSize)
	}
	items := all.JSON200.Items
	for i := 1; i < len(items); i++ {
		a, b := items[i-1], items[i]
		if a.RiskScore < b.RiskScore || a.RiskScore == b.RiskScore && a.ServerName > b.ServerName {
			t.Errorf("not sorted by risk score, then name: %s(%d) before %s(%d)", a.ServerName, a.RiskScore, b.ServerName, b.RiskScore)
		}
	}
	if items[0].ServerName != "root-files" {
		t.Errorf("riskiest first: got %s", items[0].ServerName)
	}
	ofAgent1 := names(t, env, token, mcpwarden.ListServersParams{AgentId: &agent1})
	if len(ofAgent1) != 3 {
		t.Fatalf("agent one's servers: %q", ofAgent1)
	}
	if !strings.Contains(string(all.Body), `"env_vars":[]`) {
		t.Errorf("empty env_vars must encode as []: %s", all.Body)
	}
	critical, active, dormant := mcpwarden.RiskLevel("critical"), mcpwarden.ServerStatus("active"), mcpwarden.ServerStatus("dormant")
	for name, tc := range map[string]struct {
		params mcpwarden.ListServersParams
		want   string
	}{
		"critical":           {mcpwarden.ListServersParams{RiskLevel: &critical}, "root-files"},
		"dormant":            {mcpwarden.ListServersParams{Status: &dormant}, "gone"},
		"agent one active":   {mcpwarden.ListServersParams{AgentId: &agent1, Status: &active}, "root-files,clock"},
		"agent one critical": {mcpwarden.ListServersParams{AgentId: &agent1, RiskLevel: &critical, Status: &active}, "root-files"},
		"second page of two": {mcpwarden.ListServersParams{Page: ptr[int32](2), PageSize: ptr[int32](2), AgentId: &agent1}, ofAgent1[2]},
		"past the end":       {mcpwarden.ListServersParams{Page: ptr[int32](9)}, ""},
		"agent one by name":  {mcpwarden.ListServersParams{AgentId: &agent1, Sort: ptr(mcpwarden.Name)}, "clock,gone,root-files"},
		"active by name":     {mcpwarden.ListServersParams{Status: &active, Sort: ptr(mcpwarden.Name)}, "a-clock,b-clock,clock,root-files"},
	} {
		if got := strings.Join(names(t, env, token, tc.params), ","); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	empty, _ := env.User(token).ListServersWithResponse(tctx, &mcpwarden.ListServersParams{Page: ptr[int32](9)})
	if !strings.Contains(string(empty.Body), `"items":[]`) || empty.JSON200.Total != 5 {
		t.Errorf("page past the end: %s", empty.Body)
	}
	if resp, _ := env.User(token).ListServersWithResponse(tctx, &mcpwarden.ListServersParams{PageSize: ptr[int32](101)}); resp.StatusCode() != http.StatusBadRequest {
		t.Errorf("page_size 101: %d", resp.StatusCode())
	}
	if resp, _ := env.User(token).ListServersWithResponse(tctx, &mcpwarden.ListServersParams{Sort: ptr(mcpwarden.ServerSort("score"))}); resp.StatusCode() != http.StatusBadRequest {
		t.Errorf("sort=score: %d, want 400", resp.StatusCode())
	}
}

func ptr[T any](v T) *T { return &v }

func TestServerDetailExplainsTheRisk(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	heartbeat(env, key, "jane.local")
	report(t, env, key, criticalFS("files"))
	list, _ := env.User(token).ListServersWithResponse(tctx, nil)
	got, err := env.User(token).GetServerWithResponse(tctx, list.JSON200.Items[0].Id)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	s := got.JSON200
	if s.AgentHostname == nil || *s.AgentHostname != "jane.local" || s.RiskLevel != "critical" || len(s.RiskFactors) == 0 || s.Scope != "/" {
		t.Errorf("detail: %s", got.Body)
	}
	for _, f := range s.RiskFactors {
		if f.Id == "" || f.Title == "" || f.Detail == "" {
			t.Errorf("factor without explanation: %+v", f)
		}
	}
}

// TestServerOfAnotherOrganizationIsNotFound: an id of another organization must answer exactly
// as an id that does not exist, so ids cannot be probed.
func TestServerOfAnotherOrganizationIsNotFound(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	report(t, env, key, srv("mine", "mcp-server-time", "uvx mcp-server-time"))
	list, _ := env.User(token).ListServersWithResponse(tctx, nil)
	theirs := list.JSON200.Items[0].Id
	_, intruder := env.SeedUser(t, "admin")
	answer := func(method string, id uuid.UUID, body string) (int, string) {
		req := httptest.NewRequest(method, "/mcp/servers/"+id.String(), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+intruder)
		req.Header.Set("X-Request-ID", "probe")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp := env.Do(req)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.ReplaceAll(string(b), id.String(), "ID")
	}
	for _, m := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPatch, `{"is_verified":true}`}} {
		code1, body1 := answer(m.method, theirs, m.body)
		code2, body2 := answer(m.method, uuid.New(), m.body)
		if code1 != http.StatusNotFound || code1 != code2 || body1 != body2 {
			t.Errorf("%s: another organization's id answered %d %s; a nonexistent id %d %s", m.method, code1, body1, code2, body2)
		}
	}
	if got, _ := env.User(token).GetServerWithResponse(tctx, theirs); got.JSON200 == nil || got.JSON200.IsVerified {
		t.Errorf("the intruder's PATCH changed the server: %s", got.Body)
	}
}

func TestUnverifyingClearsTheVerification(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "member")
	_, key := enrol(t, env, token, "laptop")
	report(t, env, key, srv("mine", "mcp-server-time", "uvx mcp-server-time"))
	list, _ := env.User(token).ListServersWithResponse(tctx, nil)
	id := list.JSON200.Items[0].Id
	env.User(token).UpdateServerWithResponse(tctx, id, mcpwarden.UpdateServerJSONRequestBody{IsVerified: true})
	resp, _ := env.User(token).UpdateServerWithResponse(tctx, id, mcpwarden.UpdateServerJSONRequestBody{IsVerified: false})
	if resp.JSON200 == nil || resp.JSON200.IsVerified || resp.JSON200.VerifiedAt != nil || resp.JSON200.VerifiedBy != nil {
		t.Errorf("after un-verifying: %s", resp.Body)
	}
}

// TestServerListMatchesADirectQuery checks every filter, their combinations and search (names
// matching by themselves, by type only, few names and more than the list merges one by one) on
// every page against a plain count(*) and ORDER BY over mcp_servers, after inserts, updates of
// status, level, type and score, deletes and counter compaction: the list's totals come from
// maintained counters and its pages from merged index scans, and both must stay exact.
func TestServerListMatchesADirectQuery(t *testing.T) {
	env := apitest.New(t)
	user, token := env.SeedUser(t, "member")
	org := user.OrganizationID
	other, _ := env.SeedUser(t, "member")
	levels := []struct {
		level string
		score int
	}{{"critical", 90}, {"high", 70}, {"medium", 45}, {"low", 10}}
	agents := []uuid.UUID{seedAgentRow(t, env, org, "a", 0), seedAgentRow(t, env, org, "b", 0), seedAgentRow(t, env, org, "c", 0)}
	var ids []uuid.UUID
	for i := range 120 {
		l := levels[i%7%4]
		name := fmt.Sprintf("srv-%d", i%40)
		if i%40 == 39 {
			name = "100%_X"
		}
		status := "active"
		if i%5 == 0 {
			status = "dormant"
		}
		ids = append(ids, seedServerRow(t, env, org, agents[i/40], name, fmt.Sprintf("@acme/Pkg-%c", 'a'+i%3), l.level, l.score-i%4, status))
	}
	otherAgent := seedAgentRow(t, env, other.OrganizationID, "x", 0)
	for i := range 10 {
		seedServerRow(t, env, other.OrganizationID, otherAgent, fmt.Sprintf("srv-%d", i), "@acme/pkg-a", "high", 70, "active")
	}

	conn := env.Store.DB()
	check := func(stage string) {
		t.Helper()
		levels := []string{"", "critical", "low"}
		statuses := []string{"", "active", "dormant"}
		searches := []string{"", "srv", "SRV-1", "2", "pkg-B", "%_", "TIME", "nothing"}
		for _, level := range levels {
			for _, status := range statuses {
				for _, search := range searches {
					for _, sort := range []string{"", "risk", "name"} {
						where, args := "organization_id = $1", []any{org}
						p := mcpwarden.ListServersParams{PageSize: ptr[int32](9)}
						order := "risk_score DESC, server_name, id"
						if sort != "" {
							p.Sort = ptr(mcpwarden.ServerSort(sort))
						}
						if sort == "name" {
							order = "server_name, risk_score DESC, id"
						}
						if level != "" {
							args = append(args, level)
							where += fmt.Sprintf(" AND risk_level = $%d", len(args))
							p.RiskLevel = ptr(mcpwarden.RiskLevel(level))
						}
						if status != "" {
							args = append(args, status)
							where += fmt.Sprintf(" AND status = $%d", len(args))
							p.Status = ptr(mcpwarden.ServerStatus(status))
						}
						if search != "" {
							args = append(args, "%"+strings.NewReplacer(`%`, `\%`, `_`, `\_`).Replace(strings.ToLower(search))+"%")
							where += fmt.Sprintf(` AND (lower(server_name) LIKE $%d OR lower(server_type) LIKE $%d)`, len(args), len(args))
							p.Search = ptr(search)
						}
						var want []string
						if err := conn.Select(&want, `SELECT id::text FROM mcp_servers WHERE `+where+` ORDER BY `+order, args...); err != nil {
							t.Fatal(err)
						}
						var got []string
						for page := int32(1); ; page++ {
							p.Page = ptr(page)
							resp, err := env.User(token).ListServersWithResponse(tctx, &p)
							if err != nil || resp.JSON200 == nil {
								t.Fatalf("list: %v %s", err, resp.Body)
							}
							if resp.JSON200.Total != int64(len(want)) {
								t.Fatalf("%s: level %q status %q search %q: total %d, want %d", stage, level, status, search, resp.JSON200.Total, len(want))
							}
							for _, s := range resp.JSON200.Items {
								got = append(got, s.Id.String())
							}
							if len(resp.JSON200.Items) < 9 {
								break
							}
						}
						if strings.Join(got, ",") != strings.Join(want, ",") {
							t.Fatalf("%s: level %q status %q search %q sort %q: pages differ from the direct query\n got %q\nwant %q", stage, level, status, search, sort, got, want)
						}
					}
				}
			}
		}
	}
	check("seeded")
	changeServersDirectly(t, env, org, func(tx *sqlx.Tx) {
		tx.MustExec(`UPDATE mcp_servers SET status = 'dormant' WHERE organization_id = $1 AND server_name = 'srv-2'`, org)
		tx.MustExec(`UPDATE mcp_servers SET risk_level = 'low', risk_score = 5 WHERE organization_id = $1 AND id = ANY($2)`, org, pq.Array(ids[:10]))
		tx.MustExec(`UPDATE mcp_servers SET server_type = 'mcp-server-time' WHERE organization_id = $1 AND server_name = 'srv-12'`, org)
		tx.MustExec(`UPDATE mcp_servers SET last_seen_at = now()`)
		tx.MustExec(`DELETE FROM mcp_servers WHERE organization_id = $1 AND id = ANY($2)`, org, pq.Array(ids[50:55]))
	})
	if _, err := env.Store.DeleteAgent(context.Background(), org, agents[2]); err != nil { // with its servers
		t.Fatal(err)
	}
	check("changed")
	if _, err := env.Store.CompactRollups(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	var deltas int
	conn.Get(&deltas, `SELECT count(*) FROM server_counts WHERE organization_id = $1 AND NOT compacted`, org)
	if deltas != 0 {
		t.Errorf("%d uncompacted counter rows after compaction", deltas)
	}
	check("compacted")
}
