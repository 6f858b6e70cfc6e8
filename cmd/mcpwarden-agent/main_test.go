package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

const fixtures = "../../impl/discovery/testdata"

func plantedSecrets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "planted-secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestScanJSONIsTheReportBodyPlusFindings(t *testing.T) {
	for _, osName := range []string{"linux", "darwin", "windows"} {
		var out, errOut bytes.Buffer
		code := cli(context.Background(), []string{"scan", "--home", filepath.Join(fixtures, osName), "--os", osName, "--json"}, &out, &errOut)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", osName, code, errOut.String())
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(out.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body) != 2 || body["servers"] == nil || body["findings"] == nil {
			t.Errorf("%s: top-level keys = %v, want servers and findings", osName, keys(body))
		}
		var servers []map[string]any
		if err := json.Unmarshal(body["servers"], &servers); err != nil || len(servers) < 70 {
			t.Errorf("%s: %d servers, err %v", osName, len(servers), err)
		}
		for _, s := range plantedSecrets(t) {
			if strings.Contains(out.String(), s) {
				t.Errorf("%s: planted secret %q printed", osName, s)
			}
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}

func TestScanTable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli(context.Background(), []string{"scan", "--home", filepath.Join(fixtures, "linux"), "--os", "linux"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"CLIENT", "claude-desktop", "@modelcontextprotocol/server-filesystem", "~/.cursor/mcp.json", "postgres://u:[REDACTED]@db/x", "files could not be read"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	for _, s := range plantedSecrets(t) {
		if strings.Contains(out.String(), s) {
			t.Errorf("planted secret %q printed", s)
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"scan", "extra"}, 2},
		{[]string{"run", "--once"}, 2}, // no server or key
		{[]string{"version"}, 0},
	}
	t.Setenv("MCPWARDEN_URL", "")
	t.Setenv("MCPWARDEN_API_KEY", "")
	t.Setenv("MCPWARDEN_ENROLLMENT_SECRET", "")
	t.Setenv("MCPWARDEN_KEY_FILE", filepath.Join(t.TempDir(), "agent.key"))
	t.Setenv("HOME", t.TempDir())
	for _, tt := range tests {
		if code := cli(context.Background(), tt.args, io.Discard, io.Discard); code != tt.code {
			t.Errorf("cli(%q) = %d, want %d", tt.args, code, tt.code)
		}
	}
	// What is missing, or wrong, is said.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--once"}, "run needs the server: --server URL"},
		{[]string{"run", "--once", "--server", "mcpwarden.example.com"}, "use https://mcpwarden.example.com"},
		{[]string{"run", "--once", "--server", "https://mcpwarden.example.com"}, "enrol this machine (mcpwarden-agent enroll --server https://mcpwarden.example.com"},
		{[]string{"enroll"}, "enroll needs the server (--server, MCPWARDEN_URL or url in the config file) and the enrolment secret"},
		{[]string{"enroll", "--server", "ftp://x", "--secret", "s"}, "is not an http:// or https:// URL"},
	} {
		var stderr bytes.Buffer
		if code := cli(context.Background(), tt.args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("cli(%q) = %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// fakeServer records what the SDK sends, as the real server would see it.
type fakeServer struct {
	mu       sync.Mutex
	requests []recorded
	fail     int // answer 503 to this many requests first
}

type recorded struct {
	path, key string
	body      []byte
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{r.URL.Path, r.Header.Get("X-API-Key"), b})
	if f.fail > 0 {
		f.fail--
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"database is starting"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/agents/heartbeat":
		io.WriteString(w, `{"agent_id":"0b6c2f8e-7a51-4c8b-9d43-1f2e3a4b5c6d","status":"ok"}`)
	default:
		io.WriteString(w, `{"status":"ok","servers_received":1,"servers_created":1,"servers_updated":0,"servers_dormant":0,"unchanged":false}`)
	}
}

func (f *fakeServer) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var p []string
	for _, r := range f.requests {
		p = append(p, r.path)
	}
	return p
}

func TestRunOnceSendsHeartbeatAndReportThroughTheSDK(t *testing.T) {
	srv := &fakeServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	t.Setenv("MCPWARDEN_URL", ts.URL)
	t.Setenv("MCPWARDEN_API_KEY", "mcp_sk_testkey0123456789")
	t.Setenv("HOME", t.TempDir())

	var errOut bytes.Buffer
	code := cli(context.Background(), []string{"run", "--once", "--home", filepath.Join(fixtures, "windows"), "--os", "windows"}, io.Discard, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := srv.paths(); strings.Join(got, " ") != "/agents/heartbeat /mcp/report" {
		t.Fatalf("requests = %v", got)
	}
	var hb HeartbeatBody
	if err := json.Unmarshal(srv.requests[0].body, &hb); err != nil || hb.Hostname == "" || hb.AgentVersion != version {
		t.Errorf("heartbeat body %s (%v)", srv.requests[0].body, err)
	}
	for _, r := range srv.requests {
		if r.key != "mcp_sk_testkey0123456789" {
			t.Errorf("%s sent X-API-Key %q", r.path, r.key)
		}
	}
	var report struct {
		Servers []map[string]any `json:"servers"`
	}
	if err := json.Unmarshal(srv.requests[1].body, &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Servers) < 70 {
		t.Errorf("reported %d servers", len(report.Servers))
	}
	for _, s := range plantedSecrets(t) {
		for _, r := range srv.requests {
			if bytes.Contains(r.body, []byte(s)) {
				t.Errorf("planted secret %q sent to %s", s, r.path)
			}
		}
	}
	if strings.Contains(errOut.String(), "mcp_sk_testkey") {
		t.Error("the API key was logged")
	}
}

func TestRunOnceFailsWithTheProblemDetail(t *testing.T) {
	srv := &fakeServer{fail: 2}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var errOut bytes.Buffer
	t.Setenv("HOME", t.TempDir())
	code := cli(context.Background(), []string{"run", "--once", "--server", ts.URL, "--key", "mcp_sk_x", "--home", t.TempDir(), "--os", "linux"}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "database is starting") {
		t.Errorf("exit %d, stderr %s", code, errOut.String())
	}
}

func TestConfigFileIsUsedWhenFlagsAndEnvAreAbsent(t *testing.T) {
	srv := &fakeServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	t.Setenv("MCPWARDEN_URL", "")
	t.Setenv("MCPWARDEN_API_KEY", "")
	cfg := filepath.Join(t.TempDir(), "agent.json")
	os.WriteFile(cfg, []byte(`{"url": "`+ts.URL+`", "api_key": "mcp_sk_fromfile"}`), 0o600)
	code := cli(context.Background(), []string{"run", "--once", "--config", cfg, "--home", t.TempDir(), "--os", "linux"}, io.Discard, io.Discard)
	if code != 0 || len(srv.requests) != 2 || srv.requests[0].key != "mcp_sk_fromfile" {
		t.Errorf("exit %d, requests %+v", code, srv.requests)
	}
}

// fakeReporter fails the first calls of each kind, then records.
type fakeReporter struct {
	mu                  sync.Mutex
	hbFail, repFail     int
	heartbeats, reports int
	reported            chan int
}

func (f *fakeReporter) Heartbeat(context.Context, HeartbeatBody) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hbFail > 0 {
		f.hbFail--
		return errors.New("down")
	}
	f.heartbeats++
	return nil
}

func (f *fakeReporter) Report(_ context.Context, s []discovery.Server) error {
	f.mu.Lock()
	if f.repFail > 0 {
		f.repFail--
		f.mu.Unlock()
		return errors.New("down")
	}
	f.reports++
	f.mu.Unlock()
	f.reported <- len(s)
	return nil
}

func TestLoopBacksOffThenReportsAgainWhenAWatchedFileChanges(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, ".cursor", "mcp.json")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	os.WriteFile(cfg, []byte(`{"mcpServers": {"a": {"command": "uvx", "args": ["mcp-server-time"]}}}`), 0o644)

	rep := &fakeReporter{hbFail: 2, repFail: 2, reported: make(chan int, 10)}
	r := &runner{
		rep:            rep,
		scan:           func() (discovery.Result, error) { return discovery.Scan(discovery.Options{Home: home, OS: "linux"}) },
		heartbeatEvery: time.Hour,
		reportEvery:    time.Hour,
		pollEvery:      10 * time.Millisecond,
		backoffBase:    5 * time.Millisecond,
		log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.loop(ctx) }()

	// Two failures, then the report gets through after backing off.
	select {
	case n := <-rep.reported:
		if n != 1 {
			t.Errorf("first report has %d servers", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no report after the failures")
	}
	// A changed configuration is reported long before the hourly report. Its modification time
	// is set a minute ahead, so the change shows whatever the file system's clock granularity.
	os.WriteFile(cfg, []byte(`{"mcpServers": {"a": {"command": "uvx"}, "b": {"url": "https://b.example.com/mcp"}}}`), 0o644)
	later := time.Now().Add(time.Minute)
	os.Chtimes(cfg, later, later)
	select {
	case n := <-rep.reported:
		if n != 2 {
			t.Errorf("second report has %d servers", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the change was not reported")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.heartbeats != 1 {
		t.Errorf("%d heartbeats got through, want 1 after two failures", rep.heartbeats)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	r := &runner{reportEvery: time.Minute}
	prev := time.Duration(0)
	for i := 1; i <= 4; i++ {
		d := r.backoff(i)
		if d <= prev/2 || d > time.Minute*12/10 {
			t.Errorf("backoff(%d) = %v after %v", i, d, prev)
		}
		prev = d
	}
	if d := r.backoff(50); d > time.Minute*12/10 || d < time.Minute*8/10 {
		t.Errorf("backoff(50) = %v, want about the report interval", d)
	}
}
