// Package sdktest runs the Go SDK (clients/go, its own module) and its example program against a
// real server: the real router, validator and handlers on a fresh PostgreSQL database, over HTTP.
package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const password = "correct horse battery staple"

// serve starts a real server over HTTP and registers an organization; wrap, when given, sits
// in front of the server's handler.
func serve(t *testing.T, wrap func(http.Handler) http.Handler, options ...func(*config.Server)) (url, email string, env *apitest.Env) {
	t.Helper()
	env = apitest.New(t, options...)
	h := env.Handler
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	email = "jane-" + uuid.NewString()[:8] + "@example.com"
	_, err := mcpwarden.New(ts.URL).RegisterUserWithResponse(t.Context(), mcpwarden.RegisterRequest{
		Email: mcpwarden.Email(email), Password: password, FullName: "Jane Doe", OrganizationName: "Acme",
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, email, env
}

// reportCritical enrols an agent and reports n servers that the risk engine rates critical
// (each runs commands on the machine), which also raises n alerts.
func reportCritical(t *testing.T, c *mcpwarden.API, url, host string, n int) {
	t.Helper()
	created, err := c.CreateAgentWithResponse(t.Context(), mcpwarden.CreateAgentRequest{Name: host})
	if err != nil {
		t.Fatal(err)
	}
	agent := mcpwarden.New(url, mcpwarden.WithAgentKey(created.JSON201.ApiKey))
	if _, err := agent.AgentHeartbeatWithResponse(t.Context(), mcpwarden.HeartbeatRequest{Hostname: host}); err != nil {
		t.Fatal(err)
	}
	servers := make([]mcpwarden.ReportedServer, n)
	for i := range servers {
		servers[i] = mcpwarden.ReportedServer{ServerName: fmt.Sprintf("commander-%03d", i), Command: new("npx -y @wonderwhy-er/desktop-commander")}
	}
	if _, err := agent.ReportServersWithResponse(t.Context(), mcpwarden.ReportRequest{Servers: servers}); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, url, email string, opts ...mcpwarden.Option) *mcpwarden.API {
	t.Helper()
	c := mcpwarden.New(url, opts...)
	if err := c.Login(t.Context(), email, password); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTheTriageExampleRunsAgainstARealServer builds clients/go/examples/triage and runs it: it
// signs in, prints the 130 critical servers (two pages of 100) and dismisses the 130 alerts.
func TestTheTriageExampleRunsAgainstARealServer(t *testing.T) {
	url, email, _ := serve(t, nil)
	c := login(t, url, email)
	reportCritical(t, c, url, "laptop-1", 70)
	reportCritical(t, c, url, "laptop-2", 60)

	bin := filepath.Join(t.TempDir(), "triage")
	build := exec.Command("go", "build", "-o", bin, "./examples/triage")
	build.Dir = filepath.Join("..", "go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/triage: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "MCPWARDEN_URL="+url, "MCPWARDEN_EMAIL="+email, "MCPWARDEN_PASSWORD="+password)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("triage: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l) // score, name, host
		if len(f) != 3 {
			t.Fatalf("triage printed %q, want score name host", l)
		}
		seen[f[2]+"/"+f[1]] = true
	}
	if len(lines) != 130 || len(seen) != 130 {
		t.Errorf("triage printed %d lines, %d distinct servers; want 130", len(lines), len(seen))
	}
	open, err := c.ListAlertsWithResponse(t.Context(), &mcpwarden.ListAlertsParams{Dismissed: new(false)})
	if err != nil {
		t.Fatal(err)
	}
	if open.JSON200.Total != 0 {
		t.Errorf("%d alerts still open after triage", open.JSON200.Total)
	}
}

// TestIteratorsWalkEveryPage: the iterators yield every item once across pages of any size, and
// stop fetching when the loop stops.
func TestIteratorsWalkEveryPage(t *testing.T) {
	url, email, _ := serve(t, nil)
	c := login(t, url, email)
	reportCritical(t, c, url, "laptop-1", 23)
	reportCritical(t, c, url, "laptop-2", 4)

	for _, size := range []int32{1, 5, 27, 100} {
		ids := map[uuid.UUID]bool{}
		for s, err := range c.Servers(t.Context(), &mcpwarden.ListServersParams{PageSize: &size}) {
			if err != nil {
				t.Fatal(err)
			}
			ids[s.Id] = true
		}
		if len(ids) != 27 {
			t.Errorf("page size %d: %d distinct servers, want 27", size, len(ids))
		}
	}
	agents := 0
	for _, err := range c.Agents(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		agents++
	}
	alerts := 0
	for range c.Alerts(t.Context(), &mcpwarden.ListAlertsParams{PageSize: new(int32(10))}) {
		if alerts++; alerts == 12 {
			break
		}
	}
	members := 0
	for m, err := range c.Members(t.Context(), nil) {
		if err != nil || m.Email != mcpwarden.Email(email) {
			t.Fatalf("member %v, %v", m.Email, err)
		}
		members++
	}
	if agents != 2 || alerts != 12 || members != 1 {
		t.Errorf("agents %d, alerts before break %d, members %d; want 2, 12, 1", agents, alerts, members)
	}
	// An error ends the iteration, once.
	bad := mcpwarden.New(url, mcpwarden.WithToken("not-a-token"))
	errs := 0
	for _, err := range bad.Servers(t.Context(), nil) {
		var apiErr *mcpwarden.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Errorf("iterating with a bad token: %v, want a 401 APIError", err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("%d errors yielded, want 1", errs)
	}
}

// TestFourHundredsAreAPIErrors: the server's problem documents come back as *APIError with their
// detail, fields and request id, never as err == nil.
func TestFourHundredsAreAPIErrors(t *testing.T) {
	url, email, _ := serve(t, nil)
	c := login(t, url, email)
	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		field  string
	}{
		{"unknown server", func() error {
			_, err := c.GetServerWithResponse(t.Context(), uuid.New())
			return err
		}, 404, ""},
		{"invalid body", func() error {
			_, err := c.CreateAgentWithResponse(t.Context(), mcpwarden.CreateAgentRequest{Name: ""})
			return err
		}, 400, "name"},
		{"wrong password", func() error {
			return mcpwarden.New(url).Login(t.Context(), email, "not the password at all")
		}, 401, ""},
		{"no credential", func() error {
			_, err := mcpwarden.New(url).ListAgentsWithResponse(t.Context(), nil)
			return err
		}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var apiErr *mcpwarden.APIError
			if err := tc.call(); !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Problem == nil || apiErr.Problem.Detail == "" || apiErr.RequestID == "" {
				t.Errorf("APIError %+v, problem %+v", apiErr, apiErr.Problem)
			}
			if tc.field != "" && (apiErr.Problem.Errors == nil || (*apiErr.Problem.Errors)[0].Field != tc.field) {
				t.Errorf("errors %v, want one about %s", apiErr.Problem.Errors, tc.field)
			}
		})
	}
}

// shortLived tells the SDK that access tokens expire in 30 seconds, inside its one-minute
// margin, so that it refreshes before every request: the real server's tokens live 30 minutes.
func shortLived(refreshes *int, mu *sync.Mutex) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/auth/login" && r.URL.Path != "/auth/refresh" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			var pair map[string]any
			if rec.Code == http.StatusOK && json.Unmarshal(body, &pair) == nil {
				pair["expires_in"] = 30
				body, _ = json.Marshal(pair)
				if r.URL.Path == "/auth/refresh" {
					mu.Lock()
					*refreshes++
					mu.Unlock()
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

// TestConcurrentRequestsShareOneRotatingLogin: with every request refreshing first, 40
// concurrent requests all succeed; the server revokes a login whose used refresh token comes
// back, so any refresh with a stale token would fail them. Logout ends the login.
func TestConcurrentRequestsShareOneRotatingLogin(t *testing.T) {
	var (
		mu        sync.Mutex
		refreshes int
	)
	url, email, _ := serve(t, shortLived(&refreshes, &mu))
	c := login(t, url, email)
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if _, err := c.GetCurrentUserWithResponse(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if refreshes != 40 {
		t.Errorf("%d refreshes for 40 requests, want one each", refreshes)
	}
	if err := c.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	var apiErr *mcpwarden.APIError
	if _, err := c.GetCurrentUserWithResponse(t.Context()); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: %v, want 401", err)
	}
}

// TestA429IsRetriedAfterRetryAfter: an agent allowed one report a second sends three at once;
// the real server answers 429 with Retry-After to those past its burst, and the SDK waits and
// sends them again until each goes through.
func TestA429IsRetriedAfterRetryAfter(t *testing.T) {
	var (
		mu     sync.Mutex
		status []int
	)
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if r.URL.Path == "/mcp/report" {
				mu.Lock()
				status = append(status, rec.Code)
				mu.Unlock()
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
	url, email, _ := serve(t, record, func(c *config.Server) { c.AgentReportRate, c.AgentReportBurst = 0.5, 1 })
	c := login(t, url, email)
	created, err := c.CreateAgentWithResponse(t.Context(), mcpwarden.CreateAgentRequest{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	agent := mcpwarden.New(url, mcpwarden.WithAgentKey(created.JSON201.ApiKey))
	report := mcpwarden.ReportRequest{Servers: []mcpwarden.ReportedServer{{ServerName: "time", Command: new("uvx mcp-server-time")}}}
	for i := range 3 {
		if _, err := agent.ReportServersWithResponse(t.Context(), report); err != nil {
			t.Fatalf("report %d: %v", i+1, err)
		}
	}
	throttled := 0
	for _, s := range status {
		if s == http.StatusTooManyRequests {
			throttled++
		}
	}
	// Three successes; the second and third were each throttled at least once (the bucket holds
	// one report and refills every two seconds).
	if len(status)-throttled != 3 || throttled < 2 || status[len(status)-1] != http.StatusOK {
		t.Errorf("the server answered %v, want three 200s after 429s", status)
	}
}
