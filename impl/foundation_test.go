package impl_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/db/localpg"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestHealthIsHealthyWithTheDatabase(t *testing.T) {
	env := apitest.New(t)
	for _, path := range []string{"/health", "/health/"} {
		resp := env.Do(httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"database":"connected"`) {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		for header, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, header, got, want)
			}
		}
	}
}

// TestHealthFollowsTheDatabase stops a private PostgreSQL under a running server: /health must
// turn 503 within two seconds, and healthy again once PostgreSQL is back, without a restart.
func TestHealthFollowsTheDatabase(t *testing.T) {
	ctx := context.Background()
	cluster, handler := privateServer(t, config.Defaults())
	health := func() (int, string, time.Duration) {
		start := time.Now()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		return rec.Code, rec.Body.String(), time.Since(start)
	}

	if code, body, _ := health(); code != http.StatusOK {
		t.Fatalf("before the outage: %d %s", code, body)
	}
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	code, body, took := health()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"unhealthy"`) || !strings.Contains(body, `"database":"disconnected"`) {
		t.Fatalf("during the outage: %d %s", code, body)
	}
	// Not a timing assertion on speed: the contract promises an answer within 2 s.
	if took > 2*time.Second {
		t.Errorf("during the outage /health took %v, want an answer within 2s", took)
	}
	if err := cluster.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := health(); code != http.StatusOK {
		t.Fatalf("after PostgreSQL came back: %d %s", code, body)
	}
}

func TestHeartbeatWithoutKeyIsUnauthorized(t *testing.T) {
	env := apitest.New(t)
	for name, key := range map[string]string{"no key": "", "malformed key": "nonsense", "unknown key": "mcp_sk_" + strings.Repeat("a", 48)} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/agents/heartbeat", strings.NewReader(`{"hostname":"laptop.local","os_type":"linux"}`))
			req.Header.Set("Content-Type", "application/json")
			if key != "" {
				req.Header.Set("X-API-Key", key)
			}
			resp := env.Do(req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
		})
	}
}

func TestListServersRejectsANonNumericPage(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "member")
	resp := env.Do(authed(httptest.NewRequest(http.MethodGet, "/mcp/servers?page=abc", nil), token))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), `"field":"page"`) || !strings.Contains(string(body), `"detail":"Invalid page`) {
		t.Fatalf("the problem does not name page: %s", body)
	}
}

func TestRequestValidationNamesEveryBadField(t *testing.T) {
	env := apitest.New(t)
	req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(`{"email":"x","password":"short","full_name":"","organization_name":"Acme"}`))
	req.Header.Set("Content-Type", "application/json")
	parsed, err := mcpwarden.ParseRegisterUserResponse(env.Do(req))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.StatusCode() != http.StatusBadRequest || parsed.ApplicationproblemJSON400 == nil || parsed.ApplicationproblemJSON400.Errors == nil {
		t.Fatalf("status %d: %s", parsed.StatusCode(), parsed.Body)
	}
	var fields []string
	seen := map[string]bool{}
	for _, e := range *parsed.ApplicationproblemJSON400.Errors {
		if !seen[e.Field] {
			seen[e.Field] = true
			fields = append(fields, e.Field)
		}
	}
	sort.Strings(fields)
	if got, want := strings.Join(fields, ","), "email,full_name,password"; got != want {
		t.Fatalf("fields %s, want %s", got, want)
	}
}

func TestBadTokensAreUnauthorized(t *testing.T) {
	env := apitest.New(t)
	for name, header := range map[string]string{
		"missing":      "",
		"not a jwt":    "Bearer abc",
		"wrong scheme": "Basic dXNlcjpwYXNz",
		"alg none":     "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
		"empty bearer": "Bearer ",
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			if resp := env.Do(req); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestPathsAnswerWithAndWithoutTrailingSlash(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	for _, path := range []string{"/agents/", "/agents", "/alerts/", "/alerts", "/mcp/servers", "/mcp/servers/", "/dashboard/stats/"} {
		resp := env.Do(authed(httptest.NewRequest(http.MethodGet, path, nil), token))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}
}

func TestUnknownEndpointsAreProblems(t *testing.T) {
	env := apitest.New(t)
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodDelete, "/health", http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		if resp := env.Do(httptest.NewRequest(c.method, c.path, nil)); resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

func TestOversizedBodiesAreRefused(t *testing.T) {
	env := apitest.New(t)
	body := `{"email":"a@b.co","password":"` + strings.Repeat("x", 200<<10) + `","full_name":"a","organization_name":"b"}`
	req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp := env.Do(req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

// TestRoutesMatchTheSpec: every route the server registers is in the spec, and every operation in
// the spec is registered.
func TestRoutesMatchTheSpec(t *testing.T) {
	env := apitest.New(t)
	e, ok := env.Handler.(*echo.Echo)
	if !ok {
		t.Fatalf("handler is %T, want *echo.Echo", env.Handler)
	}
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		registered[r.Method+" "+r.Path] = true
	}
	inSpec := map[string]bool{}
	spec := apitest.Spec(t)
	for path, item := range spec.Paths.Map() {
		echoPath := path
		for _, p := range item.Parameters {
			echoPath = strings.ReplaceAll(echoPath, "{"+p.Value.Name+"}", ":"+p.Value.Name)
		}
		for method, op := range item.Operations() {
			p := echoPath
			for _, param := range op.Parameters {
				p = strings.ReplaceAll(p, "{"+param.Value.Name+"}", ":"+param.Value.Name)
			}
			inSpec[method+" "+p] = true
		}
	}
	for r := range registered {
		if !inSpec[r] {
			t.Errorf("registered route %s is not in openapi.yaml", r)
		}
	}
	for r := range inSpec {
		if !registered[r] {
			t.Errorf("operation %s in openapi.yaml is not registered", r)
		}
	}
	if len(inSpec) < 30 {
		t.Fatalf("only %d operations in the spec", len(inSpec))
	}
}

func authed(req *http.Request, token string) *http.Request {
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func TestMalformedIdsAndEmailsAreBadRequests(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	resp := env.Do(authed(httptest.NewRequest(http.MethodGet, "/mcp/servers/not-a-uuid", nil), token))
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"server_id"`) {
		t.Errorf("GET /mcp/servers/not-a-uuid = %d %s", resp.StatusCode, body)
	}
	req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(`{"email":"not an email","password":"a long enough passphrase","full_name":"a","organization_name":"b"}`))
	req.Header.Set("Content-Type", "application/json")
	resp = env.Do(req)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"email"`) {
		t.Errorf("register with a bad email = %d %s", resp.StatusCode, body)
	}
}

// TestRepeatedBodiesAreStillAuthenticatedAndChecked: a large body identical to one that already
// passed validation skips the schema check, never authentication, and an invalid body is
// refused however often it is sent.
func TestRepeatedBodiesAreStillAuthenticatedAndChecked(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	_, key := enrol(t, env, token, "laptop")
	var servers []string
	for i := 0; i < 20; i++ {
		servers = append(servers, fmt.Sprintf(`{"server_name":"fs-%02d","server_type":"@modelcontextprotocol/server-filesystem","command":"npx -y @modelcontextprotocol/server-filesystem /home/jane/project-%02d","scope":"/home/jane/project-%02d","env_vars":["PATH","HOME"]}`, i, i, i))
	}
	valid := `{"servers":[` + strings.Join(servers, ",") + `]}`
	invalid := `{"servers":[` + strings.Join(servers, ",") + `,{"server_name":""}]}`
	if len(valid) < 64 {
		t.Fatalf("the body (%d bytes) is too small to be remembered", len(valid))
	}
	send := func(body, apiKey string) int {
		req := httptest.NewRequest(http.MethodPost, "/mcp/report", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", apiKey)
		return env.Do(req).StatusCode
	}
	for i := 0; i < 3; i++ {
		if code := send(valid, key); code != http.StatusOK {
			t.Fatalf("valid report #%d: %d", i, code)
		}
		if code := send(invalid, key); code != http.StatusBadRequest {
			t.Fatalf("invalid report #%d: %d, want 400", i, code)
		}
		if code := send(valid, "mcp_sk_"+strings.Repeat("a", 49)); code != http.StatusUnauthorized {
			t.Fatalf("remembered body with a bad key #%d: %d, want 401", i, code)
		}
	}
}

// privateServer runs a server on a PostgreSQL cluster of the test's own, migrated, for tests that
// stop and start the database under it. cfg gets a JWT secret.
func privateServer(t *testing.T, cfg config.Server) (*localpg.Cluster, http.Handler) {
	t.Helper()
	dir, err := os.MkdirTemp("", "mcpwarden-private-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	cluster, err := localpg.Start(ctx, localpg.Options{Dir: dir, NoFsync: true, BinDir: os.Getenv("MCPWARDEN_PG_BIN")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Stop() })
	if err := cluster.CreateDatabase(ctx, "mcpwarden"); err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(ctx, cluster.URL("mcpwarden"), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := db.Migrate(ctx, store.DB().DB); err != nil {
		t.Fatal(err)
	}
	cfg.JWTSecret = strings.Repeat("k", 32)
	handler, err := impl.NewReplica(cfg, "test", store, slog.New(slog.NewTextHandler(io.Discard, nil))).Server.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return cluster, handler
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
