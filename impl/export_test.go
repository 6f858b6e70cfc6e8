package impl_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

// export GETs target with a bearer token and returns the status and the body.
func export(t *testing.T, env *apitest.Env, token, target string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp := env.Do(req)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// csvColumn parses a CSV export and returns its rows (without the header) and the index of column.
func csvColumn(t *testing.T, body []byte, column string) ([][]string, int) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	i := slices.Index(rows[0], column)
	if i < 0 {
		t.Fatalf("CSV header %v has no %s", rows[0], column)
	}
	return rows[1:], i
}

// ndjsonLines decodes each line of an NDJSON export into a new T.
func ndjsonLines[T any](t *testing.T, body []byte) []T {
	t.Helper()
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("NDJSON line does not parse: %v: %s", err, sc.Bytes())
		}
		out = append(out, v)
	}
	return out
}

func TestServerExportHasTheListsRowsForTheSameFilter(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	agent1, key1 := enrol(t, env, token, "one")
	_, key2 := enrol(t, env, token, "two")
	report(t, env, key1, criticalFS("root-files"), srv("clock", "mcp-server-time", "uvx mcp-server-time"), srv("=HYPERLINK(1)", "mcp-server-fetch", "uvx mcp-server-fetch"))
	report(t, env, key2, srv("b-clock", "mcp-server-time", "uvx mcp-server-time"), criticalFS("a-files"), srv("@sum", "mcp-server-time", "uvx mcp-server-time"))

	for _, query := range []string{"", "&risk_level=critical", "&search=clock", "&agent_id=" + agent1.String(), "&status=active&search=nothing"} {
		list, err := env.User(token).ListServersWithResponse(tctx, nil)
		if query != "" {
			req := httptest.NewRequest(http.MethodGet, "/mcp/servers?page_size=100"+query, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			list, err = mcpwarden.ParseListServersResponse(env.Do(req))
		}
		if err != nil || list.JSON200 == nil {
			t.Fatalf("list %q: %v", query, err)
		}
		var want []string
		for _, s := range list.JSON200.Items {
			want = append(want, s.Id.String())
		}

		code, body := export(t, env, token, "/mcp/servers/export?format=csv"+query)
		if code != http.StatusOK {
			t.Fatalf("CSV export %q: %d %s", query, code, body)
		}
		rows, id := csvColumn(t, body, "id")
		var got []string
		for _, r := range rows {
			got = append(got, r[id])
		}
		if !slices.Equal(got, want) {
			t.Errorf("CSV export %q: ids %v, the list's %v", query, got, want)
		}

		code, body = export(t, env, token, "/mcp/servers/export?format=ndjson"+query)
		if code != http.StatusOK {
			t.Fatalf("NDJSON export %q: %d %s", query, code, body)
		}
		items := ndjsonLines[mcpwarden.McpServer](t, body)
		if len(items) != len(list.JSON200.Items) {
			t.Fatalf("NDJSON export %q: %d lines, the list has %d items", query, len(items), len(list.JSON200.Items))
		}
		for i, it := range items {
			a, _ := json.Marshal(it)
			b, _ := json.Marshal(list.JSON200.Items[i])
			if !bytes.Equal(a, b) {
				t.Errorf("NDJSON export %q line %d:\n%s\nthe list's item:\n%s", query, i, a, b)
			}
		}
	}

	_, body := export(t, env, token, "/mcp/servers/export?format=csv")
	rows, name := csvColumn(t, body, "server_name")
	var names []string
	for _, r := range rows {
		names = append(names, r[name])
	}
	for _, want := range []string{"'=HYPERLINK(1)", "'@sum", "clock"} {
		if !slices.Contains(names, want) {
			t.Errorf("CSV server names %q lack %q (a cell starting with = + - @ is prefixed with ')", names, want)
		}
	}
}

func TestExportRefusesAMisspelledFormat(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	for _, target := range []string{"/mcp/servers/export?format=cvs", "/mcp/servers/export", "/alerts/export?format=json", "/audit-events/export?format=xlsx"} {
		code, body := export(t, env, token, target)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "format") {
			t.Errorf("%s: %d %s, want 400 naming format", target, code, body)
		}
	}
}

func TestExportIsOpenToReadersAndAuditExportToAdminsOnly(t *testing.T) {
	env := apitest.New(t)
	admin, adminToken := env.SeedUser(t, "admin")
	_, memberToken := env.SeedMember(t, admin.OrganizationID, "member")
	_, viewerToken := env.SeedMember(t, admin.OrganizationID, "viewer")
	tok, err := env.User(adminToken).CreateApiTokenWithResponse(actx, mcpwarden.CreateApiTokenJSONRequestBody{Name: "siem", Scopes: []mcpwarden.ApiTokenScope{mcpwarden.ScopeRead}})
	if err != nil || tok.JSON201 == nil {
		t.Fatalf("create token: %v", err)
	}
	_, key := enrol(t, env, adminToken, "laptop")
	report(t, env, key, criticalFS("root-files"))
	for _, c := range []struct {
		who, token, target string
		want               int
	}{
		{"viewer", viewerToken, "/mcp/servers/export?format=csv", http.StatusOK},
		{"read token", tok.JSON201.Token, "/mcp/servers/export?format=ndjson", http.StatusOK},
		{"viewer", viewerToken, "/alerts/export?format=csv", http.StatusOK},
		{"member", memberToken, "/audit-events/export?format=csv", http.StatusForbidden},
		{"read token", tok.JSON201.Token, "/audit-events/export?format=csv", http.StatusForbidden},
		{"admin", adminToken, "/audit-events/export?format=csv", http.StatusOK},
	} {
		code, body := export(t, env, c.token, c.target)
		if code != c.want {
			t.Errorf("%s GET %s: %d %s, want %d", c.who, c.target, code, body, c.want)
		}
		if c.want == http.StatusOK && !strings.Contains(string(body), "root-files") && !strings.Contains(c.target, "audit") {
			t.Errorf("%s GET %s: %s, want the critical server in it", c.who, c.target, body)
		}
	}
}

func TestAlertAndAuditExportsHaveTheListsRows(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	report(t, env, key, criticalFS("root-files"), criticalFS("-home-files"), srv("clock", "mcp-server-time", "uvx mcp-server-time"))
	enrol(t, env, token, "desktop")

	alerts, err := env.User(token).ListAlertsWithResponse(actx, &mcpwarden.ListAlertsParams{PageSize: ptr(int32(100))})
	if err != nil || alerts.JSON200 == nil || len(alerts.JSON200.Items) < 2 {
		t.Fatalf("list alerts: %v, want at least the two critical servers' alerts", err)
	}
	var want []string
	for _, a := range alerts.JSON200.Items {
		want = append(want, a.Id.String())
	}
	code, body := export(t, env, token, "/alerts/export?format=csv")
	if code != http.StatusOK {
		t.Fatalf("alerts CSV: %d %s", code, body)
	}
	rows, id := csvColumn(t, body, "id")
	var got []string
	for _, r := range rows {
		got = append(got, r[id])
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts CSV ids %v, the list's %v", got, want)
	}
	_, body = export(t, env, token, "/alerts/export?format=ndjson&severity=critical")
	lines := ndjsonLines[mcpwarden.Alert](t, body)
	if len(lines) < 2 {
		t.Errorf("critical alerts NDJSON: %d lines, want the two critical servers' alerts", len(lines))
	}
	for _, a := range lines {
		if a.Severity != mcpwarden.Critical {
			t.Errorf("critical alerts NDJSON has a %s alert", a.Severity)
		}
	}

	events, err := env.User(token).ListAuditEventsWithResponse(actx, &mcpwarden.ListAuditEventsParams{Limit: ptr(int32(100))})
	if err != nil || events.JSON200 == nil || len(events.JSON200.Items) < 2 {
		t.Fatalf("list audit events: %v, want the two agents' creation at least", err)
	}
	_, body = export(t, env, token, "/audit-events/export?format=ndjson")
	got = nil
	for _, e := range ndjsonLines[mcpwarden.AuditEvent](t, body) {
		got = append(got, e.Id.String())
	}
	want = nil
	for _, e := range events.JSON200.Items {
		want = append(want, e.Id.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit NDJSON ids %v, the list's %v", got, want)
	}
	code, body = export(t, env, token, "/audit-events/export?format=csv&action=agent.created")
	rows, action := csvColumn(t, body, "action")
	if code != http.StatusOK || len(rows) != 2 {
		t.Errorf("agent.created CSV: %d, %d rows, want the two agents' creation:\n%s", code, len(rows), body)
	}
	for _, r := range rows {
		if r[action] != "agent.created" {
			t.Errorf("agent.created CSV has a %s event", r[action])
		}
	}
}
