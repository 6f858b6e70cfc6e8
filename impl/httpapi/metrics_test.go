package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpwarden/mcpwarden/gen"
)

// agentsOnly authenticates every agent key as one agent and refuses access tokens.
type agentsOnly struct{}

func (agentsOnly) User(context.Context, string) (Principal, error) {
	return Principal{}, ErrUnauthenticated
}

func (agentsOnly) Agent(context.Context, string) (Principal, error) {
	return Principal{OrgID: uuid.UUID{1}, AgentID: uuid.UUID{2}}, nil
}

// healthAndReports answers the health check and agent reports; the benchmark needs no other
// operation (calling one panics on the nil interface).
type healthAndReports struct{ gen.StrictServerInterface }

func (healthAndReports) GetHealth(context.Context, gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse{Status: "healthy", Database: "connected", Version: "bench"}, nil
}

func (healthAndReports) ReportServers(_ context.Context, r gen.ReportServersRequestObject) (gen.ReportServersResponseObject, error) {
	return gen.ReportServers200JSONResponse{Status: "success", ServersReceived: int64(len(r.Body.Servers))}, nil
}

func edgeFor(tb testing.TB, m *Metrics) http.Handler {
	tb.Helper()
	h, err := New(Options{
		MaxBodyBytes: 1 << 16, ReportMaxBodyBytes: 1 << 23, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, agentsOnly{}, healthAndReports{})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// BenchmarkEdgeMetrics is the whole edge (request log, validation, the strict handler) without
// and with metrics, on the cheapest request (GET /health), where their cost weighs most, and on
// an agent's 10-server report sent again (its body already validated), the hot path's steady
// state:
//
//	go test -run '^$' -bench BenchmarkEdgeMetrics -benchmem -count 10 ./impl/httpapi
func BenchmarkEdgeMetrics(b *testing.B) {
	body := reportBody(1)
	for _, req := range []struct {
		name string
		new  func() *http.Request
	}{
		{"health", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/health", nil) }},
		{"report", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-API-Key", "mcp_sk_0123456789abcdef0123456789abcdef")
			return r
		}},
	} {
		for _, on := range []bool{false, true} {
			name := req.name + "/metrics=off"
			var m *Metrics
			if on {
				name, m = req.name+"/metrics=on", NewMetrics()
			}
			b.Run(name, func(b *testing.B) {
				h := edgeFor(b, m)
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req.new())
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// BenchmarkMetricsPerRequest is what metrics add to one request, measured alone (the edge's
// timings above swing by more than it on a shared machine): finding the operation's series,
// one counter and one histogram observation.
//
//	go test -run '^$' -bench BenchmarkMetricsPerRequest -benchmem -count 10 ./impl/httpapi
func BenchmarkMetricsPerRequest(b *testing.B) {
	spec, err := LoadSpec()
	if err != nil {
		b.Fatal(err)
	}
	m := NewMetrics()
	m.bind(spec)
	op := spec.Paths.Find("/mcp/report").Post
	info := &requestInfo{id: "x", op: -1}
	ctx := context.WithValue(context.Background(), requestIDKey, info)
	b.ReportAllocs()
	for b.Loop() {
		requestInfoFrom(ctx).op = m.operation(op)
		m.observe(info.op, http.StatusOK, 150*time.Microsecond)
	}
}

// TestMetricsLabelEveryOperationOnce: the request series are made up front, one set per
// operationId of the spec plus unmatched, so their number is bounded by the spec.
func TestMetricsLabelEveryOperationOnce(t *testing.T) {
	m := NewMetrics()
	h := edgeFor(t, m)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/health", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/health/", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/whatever/"+uuid.NewString(), nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range spec.Paths.Map() {
		ops += len(item.Operations())
	}
	counts := map[string]float64{}
	for _, f := range families {
		switch f.GetName() {
		case "mcpwarden_http_requests_total":
			if len(f.Metric) != (ops+1)*5 {
				t.Errorf("%d request series, want %d operations and unmatched by 5 status classes", len(f.Metric), ops)
			}
			for _, s := range f.Metric {
				labels := map[string]string{}
				for _, l := range s.Label {
					labels[l.GetName()] = l.GetValue()
				}
				counts[labels["operation"]+" "+labels["code"]] += s.Counter.GetValue()
			}
		case "mcpwarden_http_request_duration_seconds":
			if len(f.Metric) != ops+1 {
				t.Errorf("%d latency series, want %d", len(f.Metric), ops+1)
			}
		}
	}
	if counts["getHealth 2xx"] != 2 || counts["unmatched 4xx"] != 1 {
		t.Errorf("getHealth 2xx = %v, unmatched 4xx = %v; want 2 and 1", counts["getHealth 2xx"], counts["unmatched 4xx"])
	}
}
