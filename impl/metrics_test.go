package impl_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// scrape reads the replica's /metrics as Prometheus does and returns each sample's value by its
// series, as written in the exposition format (`name{label="value",...}`).
func scrape(t *testing.T, env *apitest.Env) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(env.Metrics, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	samples := map[string]float64{}
	sample := regexp.MustCompile(`^(\S+) (\S+)$`)
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		m := sample.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[m[1]] = v
	}
	return samples
}

// TestMetricsAfterTraffic sends real traffic through the real router (a sign-up, an agent's
// heartbeats and reports, reads, a 404 and an unknown path), then scrapes /metrics and checks
// each family the operators' dashboard reads.
func TestMetricsAfterTraffic(t *testing.T) {
	env := apitest.New(t, func(c *config.Server) { c.MetricsAddr = "127.0.0.1:0" })
	token, _ := env.RegisterAndLogin(t, "ops@example.com", "correct horse battery staple", "Acme")
	user := env.User(token)
	if _, err := user.UpdateOrganizationWithResponse(tctx, mcpwarden.UpdateOrganizationRequest{AlertEmail: nullable.NewNullableWithValue("security@example.com")}); err != nil {
		t.Fatal(err)
	}
	_, key := enrol(t, env, token, "laptop")
	agent := env.Agent(key)
	for range 2 {
		if r, err := agent.AgentHeartbeatWithResponse(tctx, mcpwarden.HeartbeatRequest{Hostname: "laptop.local"}); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("heartbeat: %v %v", err, r.Status())
		}
	}
	report(t, env, key, criticalFS("filesystem"))
	if r := report(t, env, key, criticalFS("filesystem")); !r.Unchanged {
		t.Fatalf("second report: %+v, want unchanged", r)
	}
	if r, err := user.ListServersWithResponse(tctx, nil); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("list servers: %v", err)
	}
	if r, _ := user.GetServerWithResponse(tctx, uuid.New()); r.StatusCode() != http.StatusNotFound {
		t.Fatalf("unknown server: %d", r.StatusCode())
	}
	env.Do(httptest.NewRequest(http.MethodGet, "/no/such/path", nil))
	env.Ingester.FlushLastSeen(tctx)

	got := scrape(t, env)
	for series, want := range map[string]float64{
		`mcpwarden_http_requests_total{code="2xx",operation="listServers"}`:           1,
		`mcpwarden_http_requests_total{code="2xx",operation="agentHeartbeat"}`:        2,
		`mcpwarden_http_requests_total{code="2xx",operation="reportServers"}`:         2,
		`mcpwarden_http_requests_total{code="4xx",operation="getServer"}`:             1,
		`mcpwarden_http_requests_total{code="4xx",operation="unmatched"}`:             1,
		`mcpwarden_http_requests_total{code="5xx",operation="listServers"}`:           0,
		`mcpwarden_http_request_duration_seconds_count{operation="reportServers"}`:    2,
		`mcpwarden_reports_total{result="changed"}`:                                   1,
		`mcpwarden_reports_total{result="unchanged"}`:                                 1,
		`mcpwarden_report_batch_size_count`:                                           1,
		`mcpwarden_alerts_raised_total`:                                               1,
		`mcpwarden_heartbeat_buffer_agents`:                                           0,
		`mcpwarden_notification_queue_depth{queue="email"}`:                           1,
		`mcpwarden_notification_queue_depth{queue="webhook"}`:                         0,
		`mcpwarden_notification_queue_scrape_success`:                                 1,
		`go_sql_max_open_connections{db_name="mcpwarden"}`:                            float64(env.Store.DB().Stats().MaxOpenConnections),
		`mcpwarden_http_request_duration_seconds_bucket{operation="login",le="+Inf"}`: 1,
	} {
		v, ok := got[series]
		if !ok {
			t.Errorf("%s: missing", series)
		} else if v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	// Four requests with the agent's key: the first reads it from the database, the others
	// from the cache unless the revocation poll dropped it meanwhile.
	hits, misses := got[`mcpwarden_agent_key_cache_lookups_total{result="hit"}`], got[`mcpwarden_agent_key_cache_lookups_total{result="miss"}`]
	if hits+misses != 4 || misses < 1 || hits < 1 {
		t.Errorf("key cache: %v hits and %v misses, want 4 lookups, the first a miss", hits, misses)
	}
	// The background flush may have run too; the test's own flush wrote the buffered agent.
	if n := got[`mcpwarden_heartbeat_flush_duration_seconds_count`]; n < 1 {
		t.Errorf("heartbeat flushes timed: %v, want at least 1", n)
	}
	// The email queue's oldest row is as old as the alert: positive, and not left at zero.
	if age := got[`mcpwarden_notification_queue_oldest_seconds{queue="email"}`]; age <= 0 {
		t.Errorf("email queue's oldest = %v, want > 0", age)
	}
	if n := got[`mcpwarden_http_requests_total{code="2xx",operation="deleteAgent"}`]; n != 0 {
		t.Errorf("deleteAgent counted %v requests it never had", n)
	}

	// Every series the Grafana dashboard queries is one the server exposes.
	dashboard, err := os.ReadFile("../deploy/grafana/mcpwarden.json")
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for series := range got {
		exposed[strings.SplitN(series, "{", 2)[0]] = true
	}
	queried := regexp.MustCompile(`\b(?:mcpwarden|go_sql|process)_[a-z_]+`).FindAllString(string(dashboard), -1)
	if len(queried) < 15 {
		t.Fatalf("the dashboard queries %d series; has its format changed?", len(queried))
	}
	for _, name := range queried {
		if !exposed[name] {
			t.Errorf("the dashboard queries %s, which /metrics does not expose", name)
		}
	}
}
