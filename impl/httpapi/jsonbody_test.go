package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
)

// TestJSONBodyAcceptsWhatKinOpenAPIAccepts checks every JSON request body of the spec with
// the middleware's own body check and with kin-openapi's ValidateRequestBody: what the first
// accepts, the second must accept with the same value; what it declines, kin-openapi decides.
func TestJSONBodyAcceptsWhatKinOpenAPIAccepts(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	v := openContract(t)
	long := strings.Repeat("x", 201)
	// The first body of each operation is valid. Login takes a form, which kin-openapi decodes.
	bodies := map[string][]string{
		"ReportServers": {string(reportBody(1)), `{"servers":[]}`,
			`{"servers":[{"server_name":"a","transport":null,"enabled":null,"env_vars":null,"command":null}]}`,
			`{"servers":[{"server_name":"a","transport":"sse"}]}`, `{"servers":[{"server_name":"a","transport":"pigeon"}]}`,
			`{"servers":[{"server_name":""}]}`, `{"servers":[{"server_name":"` + long + `"}]}`,
			`{"servers":[{"server_name":"a","env_vars":["A",1]}]}`, `{"servers":[{"server_name":"a","extra":1}]}`,
			`{"servers":[{"server_name":"a"},{"server_name":"a"}]}`, `{"servers":[{"server_name":"a\u0000"}]}`,
			`{"servers":[{"server_name":"\ud83d\ude00 \ud83d"}]}`, "{\"servers\":[{\"server_name\":\"\xff\"}]}",
			`{"servers":[{"server_name":"a","server_name":"b"}]}`, `{"servers":{}}`, `{"servers":[]} trailing`},
		"AgentHeartbeat": {`{"hostname":"h","os_type":"linux","username":"u","agent_version":"0.2.0"}`,
			`{"hostname":"h","os_type":"plan9"}`, `{"hostname":""}`, `{"hostname":1}`},
		"CreateAgent":        {`{"name":"laptop"}`, `{"name":""}`, `{"name":"` + long + `"}`},
		"RegisterUser":       {`{"email":"jane@example.com","password":"correct horse battery","full_name":"Jane","organization_name":"Acme"}`, `{"email":"not an email","password":"correct horse battery","full_name":"Jane","organization_name":"Acme"}`, `{"email":"jane@example.com","password":"short","full_name":"Jane","organization_name":"Acme"}`},
		"CreateMember":       {`{"email":"joe@example.com","full_name":"Joe","role":"member"}`, `{"email":"joe@example.com","full_name":"Joe","role":"owner"}`},
		"UpdateMember":       {`{"role":"admin"}`, `{"role":null}`},
		"CreateWebhook":      {`{"url":"https://hooks.example.com/x","description":"d"}`, `{"url":"ftp://hooks.example.com/x"}`},
		"UpdateServer":       {`{"is_verified":true}`, `{"is_verified":"true"}`},
		"UpdateOrganization": {`{"name":"Acme","alert_email":null}`, `{}`, `{"alert_email":"x"}`},
		"UpdateCurrentUser":  {`{"full_name":"Jane"}`, `{}`},
		"ChangePassword":     {`{"current_password":"x","new_password":"correct horse battery"}`, `{"current_password":"","new_password":"correct horse battery"}`},
		"RefreshTokens":      {`{"refresh_token":"t"}`, `{"refresh_token":""}`},
		"AcceptInvitation":   {`{"setup_token":"t","password":"correct horse battery"}`, `{"setup_token":"t"}`},
	}
	generic := []string{`{}`, `null`, `[]`, `"x"`, `1`, `true`, `{"unknown":1}`, `{`, `{"a":1,}`, `{"a":1,"a":2}`, ` `, ``, "\ufeff{}"}
	contentTypes := map[string]bool{ // whether the body is JSON to the middleware's check
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		" application/json ;charset=UTF-8": true, "text/plain": false, "": false,
		"application/problem+json": false, "application/x-www-form-urlencoded": false, "application/json-patch+json": false,
	}
	ops := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			ops[op.OperationID] = true
			route := &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
			for i, body := range append(bodies[op.OperationID], generic...) {
				for ct, isJSON := range contentTypes {
					newRequest := func() *http.Request {
						req := httptest.NewRequest(method, path, strings.NewReader(body))
						if ct != "" {
							req.Header.Set("Content-Type", ct)
						}
						return req
					}
					got, ok := v.jsonBody(newRequest(), route, []byte(body))
					req := newRequest()
					input := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{KeepValidatedValue: true}}
					kinErr := openapi3filter.ValidateRequestBody(context.Background(), input, op.RequestBody.Value)
					switch {
					case ok && kinErr != nil:
						t.Errorf("%s %q as %q: accepted, kin-openapi says %v", op.OperationID, body, ct, kinErr)
					case ok && !reflect.DeepEqual(got, req.Body.(interface{ ValidatedValue() any }).ValidatedValue()):
						t.Errorf("%s %q as %q: accepted as %#v, kin-openapi validated %#v", op.OperationID, body, ct, got, req.Body.(interface{ ValidatedValue() any }).ValidatedValue())
					// Declined, and left to the middleware's own checks: repeated names, and data
					// after the value (which kin-openapi's decoder ignores; oneJSONValue refuses it).
					case !ok && kinErr == nil && isJSON && !strings.Contains(body, `"server_name":"a","server_name"`) && body != `{"a":1,"a":2}` && !strings.HasSuffix(body, " trailing"):
						t.Errorf("%s %q as %q: declined what kin-openapi accepts", op.OperationID, body, ct)
					case !ok && i == 0 && ct == "application/json" && bodies[op.OperationID] != nil:
						t.Errorf("%s: its valid body %s was declined: %v", op.OperationID, body, kinErr)
					}
				}
			}
		}
	}
	for id := range bodies {
		if !ops[id] {
			t.Errorf("no operation %s takes a body", id)
		}
	}
}

// A valid report reaches the handler with the value it was validated as, so that the generated
// strict handler binds it instead of decoding the body again.
func TestContractLeavesTheValidatedReportForTheHandler(t *testing.T) {
	v := openContract(t)
	e := echo.New()
	e.Pre(v.middleware(true))
	var got any
	e.POST("/mcp/report", func(c echo.Context) error {
		vb, ok := c.Request().Body.(interface{ ValidatedValue() any })
		if !ok {
			return c.NoContent(http.StatusTeapot)
		}
		got = vb.ValidatedValue()
		return c.NoContent(http.StatusNoContent)
	})
	body := reportBody(3)
	req := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d, want the validated value on the body", rec.Code)
	}
	var want any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("validated value %#v, want %#v", got, want)
	}
}

// Bodies that are not JSON are refused by kin-openapi, with the problem they always had.
func TestMalformedJSONIsRefusedAsBefore(t *testing.T) {
	v := openContract(t)
	handler := v.middleware(true)(func(echo.Context) error {
		t.Error("the handler was reached")
		return nil
	})
	for body, want := range map[string]string{
		`{"servers":`:                                 "Invalid body: failed to decode request body: unexpected EOF",
		`{"servers":[}`:                               "Invalid body: failed to decode request body: invalid character '}' looking for beginning of value",
		`{"servers":[{"server_name":"a",}]}`:          "Invalid body: failed to decode request body: invalid character '}' looking for beginning of object key string",
		"{\"servers\":[{\"server_name\":\"a\x01\"}]}": "Invalid body: failed to decode request body: invalid character '\\x01' in string literal",
		`{"servers":[{"server_name":"\x"}]}`:          "Invalid body: failed to decode request body: invalid character 'x' in string escape code",
		"\ufeff{\"servers\":[]}":                      "Invalid body: failed to decode request body: invalid character 'ï' looking for beginning of value",
	} {
		req := httptest.NewRequest(http.MethodPost, "/mcp/report", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := handler(echo.New().NewContext(req, httptest.NewRecorder()))
		var p *Problem
		if !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Detail != want {
			t.Errorf("%q: %v, want a 400 problem %q", body, err, want)
		}
	}
}
