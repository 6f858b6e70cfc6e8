package impl_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// stringFields lists every string in a request schema as the path the problem document names
// (members and array indexes joined with dots) and a JSON value holding "bad" there alone.
func stringFields(s *openapi3.Schema, path []string, wrap func(any) any, bad string, out map[string]any) {
	if s == nil {
		return
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		out[strings.Join(path, ".")] = wrap(bad)
	case s.Type.Is(openapi3.TypeArray) && s.Items != nil:
		stringFields(s.Items.Value, append(path, "0"), func(v any) any { return wrap([]any{v}) }, bad, out)
	default:
		for name, prop := range s.Properties {
			stringFields(prop.Value, append(append([]string(nil), path...), name), func(v any) any { return wrap(map[string]any{name: v}) }, bad, out)
		}
	}
}

const placeholder = "BAD-TEXT-HERE"

type textCase struct {
	method, path, contentType, body, field string
}

// badTextCases are, for every operation of the spec, a request per string field of its body
// and per query parameter, with bad in that one place.
func badTextCases(t *testing.T, bad string) []textCase {
	spec := apitest.Spec(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	var cases []textCase
	for _, path := range spec.Paths.InMatchingOrder() {
		target := param.ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
		for method, op := range spec.Paths.Value(path).Operations() {
			for _, p := range op.Parameters {
				if p.Value.In == "query" {
					cases = append(cases, textCase{method, target + "?" + url.Values{p.Value.Name: {bad}}.Encode(), "", "", p.Value.Name})
				}
			}
			if op.RequestBody == nil {
				continue
			}
			for contentType, media := range op.RequestBody.Value.Content {
				fields := map[string]any{}
				stringFields(media.Schema.Value, nil, func(v any) any { return v }, placeholder, fields)
				for field, value := range fields {
					var body string
					if contentType == "application/x-www-form-urlencoded" {
						body = url.Values{field: {bad}}.Encode()
					} else {
						b, err := json.Marshal(value)
						if err != nil {
							t.Fatal(err)
						}
						// encoding/json would write invalid UTF-8 as U+FFFD: bad goes in as is,
						// with NUL escaped as JSON requires.
						body = strings.Replace(string(b), placeholder, strings.ReplaceAll(bad, "\x00", `\u0000`), 1)
					}
					cases = append(cases, textCase{method, target, contentType, body, field})
				}
			}
		}
	}
	sort.Slice(cases, func(i, j int) bool {
		return cases[i].method+cases[i].path+cases[i].field < cases[j].method+cases[j].path+cases[j].field
	})
	return cases
}

// TestEveryStringTheAPIAcceptsRefusesBadText sends a NUL character, then invalid UTF-8, in every
// string field of every request body of openapi.yaml and in every query parameter, each alone:
// every one is a 400 naming the field, never a 500.
func TestEveryStringTheAPIAcceptsRefusesBadText(t *testing.T) {
	env := apitest.New(t)
	_, adminToken := env.SeedUser(t, "admin")
	_, agentKey := enrol(t, env, adminToken, "laptop")
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		cases := badTextCases(t, bad)
		if len(cases) < 40 {
			t.Fatalf("found %d string fields; the spec has more", len(cases))
		}
		for _, c := range cases {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("X-API-Key", agentKey)
			resp := env.Do(req)
			body, _ := io.ReadAll(resp.Body)
			var problem struct {
				Errors []struct{ Field, Message string } `json:"errors"`
			}
			json.Unmarshal(body, &problem)
			if resp.StatusCode != http.StatusBadRequest || len(problem.Errors) == 0 || problem.Errors[0].Field != c.field {
				t.Errorf("%s %s %q (%q in %s): %d %s; want 400 naming %s", c.method, c.path, c.body, bad, c.field, resp.StatusCode, body, c.field)
			}
		}
	}
}

// TestABodyIsOneJSONValue: data after the body's JSON value is refused, whichever decoder reads
// the body (the fast one declines what kin-openapi's would accept).
func TestABodyIsOneJSONValue(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	for _, c := range []struct{ path, header, value, body string }{
		{"/agents/", "Authorization", "Bearer " + token, `{"name":"a"} xx`},
		{"/agents/", "Authorization", "Bearer " + token, `{"name":"a"}{"name":"b"}`},
		{"/mcp/report", "X-API-Key", key, `{"servers":[]} []`},
		{"/agents/heartbeat", "X-API-Key", key, `{"hostname":"h"} {"hostname":"i"}`},
	} {
		req := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(c.header, c.value)
		if resp := env.Do(req); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %q: %d, want 400", c.path, c.body, resp.StatusCode)
		}
	}
}

// TestUnknownQueryParametersAreRefused: a misspelled filter is a 400 naming it, not a silently
// unfiltered answer.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	for _, target := range []string{"/mcp/servers?risk=critical", "/alerts/?severity=high&dismised=false", "/agents/?pagesize=5"} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp := env.Do(req)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "is not a parameter of this operation") {
			t.Errorf("GET %s: %d %s, want 400 naming the parameter", target, resp.StatusCode, body)
		}
	}
}

// TestStrictTransportSecurityOnlyOverHTTPS: HSTS is sent when the connection is TLS, or when a
// trusted proxy says the client's was; never over plain HTTP, nor on an untrusted header.
func TestStrictTransportSecurityOnlyOverHTTPS(t *testing.T) {
	direct := apitest.New(t)
	proxied := apitest.New(t, func(c *config.Server) { c.TrustedProxyHops = 1 })
	for _, c := range []struct {
		name  string
		env   *apitest.Env
		url   string
		proto string
		want  bool
	}{
		{"plain HTTP", direct, "http://mcpwarden.test/health", "", false},
		{"TLS", direct, "https://mcpwarden.test/health", "", true},
		{"an untrusted X-Forwarded-Proto", direct, "http://mcpwarden.test/health", "https", false},
		{"a trusted proxy that says https", proxied, "http://mcpwarden.test/health", "https", true},
		{"a trusted proxy that says http", proxied, "http://mcpwarden.test/health", "http", false},
	} {
		req := httptest.NewRequest(http.MethodGet, c.url, nil)
		if c.proto != "" {
			req.Header.Set("X-Forwarded-Proto", c.proto)
		}
		got := c.env.Do(req).Header.Get("Strict-Transport-Security")
		if (got != "") != c.want {
			t.Errorf("%s: Strict-Transport-Security %q, want it sent: %v", c.name, got, c.want)
		}
	}
}

// TestAnAgentThatReportsInALoopIsThrottled: past its burst an agent's reports get 429 with
// Retry-After, unchanged ones included, and another agent of the organization is not affected.
func TestAnAgentThatReportsInALoopIsThrottled(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.AgentReportRate, c.AgentReportBurst = 0.01, 5 })
	_, token := env.SeedUser(t, "admin")
	_, looping := enrol(t, env, token, "looping")
	_, normal := enrol(t, env, token, "normal")
	send := func(key string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "/mcp/report", strings.NewReader(`{"servers":[{"server_name":"time","command":"uvx mcp-server-time"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		return env.Do(req)
	}
	for i := range 5 {
		if resp := send(looping); resp.StatusCode != http.StatusOK {
			t.Fatalf("report %d within the burst: %d", i+1, resp.StatusCode)
		}
	}
	resp := send(looping)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the report past the burst: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := send(normal); resp.StatusCode != http.StatusOK {
		t.Errorf("another agent's report: %d, want 200", resp.StatusCode)
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
