package impl_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/impl/apitest"
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
