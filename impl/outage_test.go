package impl_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/impl/config"
)

// TestAnOutageIsA503AndCountsAsNoGuess stops a private PostgreSQL under a running server. Logins,
// registrations and authenticated requests answer 503 with Retry-After meanwhile, not 500; and
// the logins and registrations that met the outage do not count toward any throttle, so the
// account's owner logs in at once when PostgreSQL is back.
func TestAnOutageIsA503AndCountsAsNoGuess(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.LoginFailuresPerAccountAndClient, cfg.LoginFailuresPerAccount, cfg.LoginFailuresPerClient = 3, 3, 3
	cluster, handler := privateServer(t, cfg)
	do := func(method, path, contentType, body, token string) *http.Response {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Result()
	}
	const email, password = "owner@outage.example", "violet-anchor-drifts-42"
	register := func(org string) *http.Response {
		return do(http.MethodPost, "/auth/register", "application/json",
			`{"email":"`+strings.Replace(email, "owner", org, 1)+`","password":"`+password+`","full_name":"Owner","organization_name":"`+org+` Org"}`, "")
	}
	login := func(pw string) *http.Response {
		return do(http.MethodPost, "/auth/login", "application/x-www-form-urlencoded", url.Values{"username": {email}, "password": {pw}}.Encode(), "")
	}
	if resp := register("owner"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	token := func() string {
		resp := login(password)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login: %d %s", resp.StatusCode, body)
		}
		return strings.Split(strings.Split(string(body), `"access_token":"`)[1], `"`)[0]
	}()

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	unavailable := func(what string, resp *http.Response) {
		t.Helper()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s during the outage: %d, Retry-After %q, %s; want a 503 problem with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	for range 6 { // twice the login throttles' limits
		unavailable("a login", login(password))
	}
	for range 21 { // past the registration throttle's limit of 20
		unavailable("a registration", register("another"))
	}
	unavailable("an authenticated request", do(http.MethodGet, "/auth/me", "", "", token))

	if err := cluster.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := login(password); resp.StatusCode != http.StatusOK {
		t.Errorf("login after the outage: %d, want 200 (the logins that met the outage counted as guesses)", resp.StatusCode)
	}
	if resp := register("third"); resp.StatusCode != http.StatusCreated {
		t.Errorf("registration after the outage: %d, want 201", resp.StatusCode)
	}
}
