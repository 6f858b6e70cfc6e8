package mcpwarden_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

func TestConstructorsSendTheirCredential(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"Could not validate credentials."}`)
	}))
	defer srv.Close()

	user, _ := mcpwarden.NewWithToken(srv.URL+"/", "tok")
	resp, err := user.GetCurrentUserWithResponse(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer tok" {
		t.Errorf("Authorization = %q", got.Get("Authorization"))
	}
	err = mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
	var apiErr *mcpwarden.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Problem == nil || apiErr.Problem.Detail != "Could not validate credentials." {
		t.Fatalf("CheckResponse = %#v", err)
	}
	if !strings.Contains(err.Error(), "Could not validate credentials.") {
		t.Errorf("error text %q lacks the problem detail", err)
	}

	agent, _ := mcpwarden.NewWithAgentKey(srv.URL, "mcp_sk_abc")
	if _, err := agent.AgentHeartbeatWithResponse(t.Context(), mcpwarden.HeartbeatRequest{Hostname: "h"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-API-Key") != "mcp_sk_abc" || got.Get("Authorization") != "" {
		t.Errorf("agent headers: %v", got)
	}
}

func TestCheckResponseAcceptsSuccess(t *testing.T) {
	if err := mcpwarden.CheckResponse(&http.Response{StatusCode: 204}, nil); err != nil {
		t.Fatal(err)
	}
}
