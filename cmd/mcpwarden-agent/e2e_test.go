package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// exchange is one request to the server and its answer, as sent on the wire.
type exchange struct {
	method, path string
	status       int
	request      []byte
	response     []byte
}

// capture records every request and response body that passes through.
type capture struct {
	next http.Handler
	mu   sync.Mutex
	log  []exchange
}

type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	tw := &teeWriter{ResponseWriter: w}
	c.next.ServeHTTP(tw, r)
	c.mu.Lock()
	c.log = append(c.log, exchange{r.Method, r.URL.Path, tw.status, body, tw.body.Bytes()})
	c.mu.Unlock()
}

func (c *capture) exchanges() []exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]exchange(nil), c.log...)
}

// inventoryEntry is what the inventory says of one server; it is built
// both from the golden scan and from GET /mcp/servers.
type inventoryEntry struct {
	ServerName string   `json:"server_name"`
	ServerType string   `json:"server_type"`
	Command    string   `json:"command"`
	Scope      string   `json:"scope"`
	EnvVars    []string `json:"env_vars"`
	Client     string   `json:"client"`
	ConfigPath string   `json:"config_path"`
	Transport  string   `json:"transport"`
	URL        string   `json:"url"`
	Enabled    bool     `json:"enabled"`
}

// expectedInventory reads the golden scan of a fixture home, with its
// "~/" config paths placed under home as the agent reports them.
func expectedInventory(t *testing.T, osName, home string) []inventoryEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, osName+".golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Servers []inventoryEntry `json:"servers"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	for i, s := range golden.Servers {
		if rest, ok := strings.CutPrefix(s.ConfigPath, "~/"); ok {
			golden.Servers[i].ConfigPath = filepath.Join(home, filepath.FromSlash(rest))
		}
	}
	return golden.Servers
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestEndToEndReportOfEachFixtureHome scans each OS's fixture home and
// reports it with `mcpwarden-agent run --once` to a real server on a fresh
// database; the inventory the API then lists is exactly the golden scan,
// a second identical report changes nothing, and no planted secret is in
// any request, response, log line or database row.
func TestEndToEndReportOfEachFixtureHome(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	secrets := plantedSecrets(t)
	for _, osName := range []string{"linux", "darwin", "windows"} {
		t.Run(osName, func(t *testing.T) {
			ctx := context.Background()
			home, err := filepath.Abs(filepath.Join(fixtures, osName))
			if err != nil {
				t.Fatal(err)
			}
			want := expectedInventory(t, osName, home)

			env := apitest.New(t)
			_, token := env.SeedUser(t, "admin")
			admin := env.User(token)
			created, err := admin.CreateAgentWithResponse(ctx, mcpwarden.CreateAgentJSONRequestBody{Name: "fixture-" + osName})
			if err != nil || created.JSON201 == nil {
				t.Fatalf("create agent: %v %d %s", err, created.StatusCode(), created.Body)
			}
			agentID, key := created.JSON201.Id, created.JSON201.ApiKey

			wire := &capture{next: env.Handler}
			ts := httptest.NewServer(wire)
			defer ts.Close()
			// No agent config file of this machine's user may take part.
			t.Setenv("HOME", t.TempDir())
			t.Setenv("MCPWARDEN_URL", "")
			t.Setenv("MCPWARDEN_API_KEY", "")

			var logs bytes.Buffer
			runOnce := func() {
				t.Helper()
				var stdout, stderr bytes.Buffer
				code := cli(ctx, []string{"run", "--once", "--server", ts.URL, "--key", key, "--home", home, "--os", osName}, &stdout, &stderr)
				logs.Write(stdout.Bytes())
				logs.Write(stderr.Bytes())
				if code != 0 {
					t.Fatalf("run --once: exit %d\n%s", code, stderr.String())
				}
			}
			runOnce()
			runOnce()

			// What the agent sent and was answered.
			var reports []mcpwarden.ReportResult
			var paths []string
			for _, x := range wire.exchanges() {
				paths = append(paths, x.method+" "+x.path)
				if x.status != http.StatusOK {
					t.Errorf("%s %s: %d %s", x.method, x.path, x.status, x.response)
				}
				if x.path == "/mcp/report" {
					var body struct {
						Servers []inventoryEntry `json:"servers"`
					}
					if err := json.Unmarshal(x.request, &body); err != nil {
						t.Fatal(err)
					}
					if len(body.Servers) != len(want) {
						t.Errorf("report carries %d servers, want %d", len(body.Servers), len(want))
					}
					var res mcpwarden.ReportResult
					if err := json.Unmarshal(x.response, &res); err != nil {
						t.Fatalf("report answer %s: %v", x.response, err)
					}
					reports = append(reports, res)
				}
			}
			if got := strings.Join(paths, ", "); got != "POST /agents/heartbeat, POST /mcp/report, POST /agents/heartbeat, POST /mcp/report" {
				t.Fatalf("requests: %s", got)
			}
			n := int64(len(want))
			if r := reports[0]; r.Unchanged || r.ServersReceived != n || r.ServersCreated != n || r.ServersUpdated != 0 || r.ServersDormant != 0 {
				t.Errorf("first report: %+v, want %d servers created", r, n)
			}
			if r := reports[1]; !r.Unchanged || r.ServersReceived != n || r.ServersCreated != 0 || r.ServersUpdated != 0 || r.ServersDormant != 0 {
				t.Errorf("second, identical report: %+v, want unchanged", r)
			}

			// The inventory, every page of it.
			var responses [][]byte
			var listed []mcpwarden.McpServer
			size := mcpwarden.PageSize(10)
			for page := mcpwarden.Page(1); ; page++ {
				resp, err := admin.ListServersWithResponse(ctx, &mcpwarden.ListServersParams{Page: &page, PageSize: &size})
				if err != nil || resp.JSON200 == nil {
					t.Fatalf("list servers page %d: %v %d %s", page, err, resp.StatusCode(), resp.Body)
				}
				responses = append(responses, resp.Body)
				listed = append(listed, resp.JSON200.Items...)
				if resp.JSON200.Total != n {
					t.Errorf("page %d: total %d, want %d", page, resp.JSON200.Total, n)
				}
				if len(resp.JSON200.Items) < int(size) || int64(page)*int64(size) >= resp.JSON200.Total {
					break
				}
			}
			var got []inventoryEntry
			ids := map[mcpwarden.ServerId]bool{}
			for _, s := range listed {
				if ids[s.Id] {
					t.Errorf("server %s (%s) listed twice", s.Id, s.ServerName)
				}
				ids[s.Id] = true
				if s.Status != mcpwarden.Active {
					t.Errorf("%s is %s, want active", s.ServerName, s.Status)
				}
				if s.AgentId != agentID {
					t.Errorf("%s reported by agent %s, want %s", s.ServerName, s.AgentId, agentID)
				}
				got = append(got, inventoryEntry{
					ServerName: s.ServerName, ServerType: s.ServerType, Command: s.Command, Scope: s.Scope,
					EnvVars: s.EnvVars, Client: deref(s.Client), ConfigPath: deref(s.ConfigPath),
					Transport: string(deref(s.Transport)), URL: deref(s.Url), Enabled: deref(s.Enabled),
				})
				detail, err := admin.GetServerWithResponse(ctx, s.Id)
				if err != nil || detail.JSON200 == nil {
					t.Fatalf("get server %s: %v %d %s", s.Id, err, detail.StatusCode(), detail.Body)
				}
				responses = append(responses, detail.Body)
			}
			compareInventory(t, got, want)

			alerts, err := admin.ListAlertsWithResponse(ctx, &mcpwarden.ListAlertsParams{PageSize: &size})
			if err != nil || alerts.JSON200 == nil {
				t.Fatalf("list alerts: %v %d %s", err, alerts.StatusCode(), alerts.Body)
			}
			responses = append(responses, alerts.Body)

			// No planted secret anywhere it could have gone.
			for _, x := range wire.exchanges() {
				assertNoPlanted(t, fmt.Sprintf("request body of %s %s", x.method, x.path), x.request, secrets)
				assertNoPlanted(t, fmt.Sprintf("response to %s %s", x.method, x.path), x.response, secrets)
			}
			for i, b := range responses {
				assertNoPlanted(t, fmt.Sprintf("API response %d", i), b, secrets)
			}
			assertNoPlanted(t, "agent output", logs.Bytes(), secrets)
			rows := dumpDatabase(t, env)
			for table, text := range rows {
				assertNoPlanted(t, "table "+table, text, secrets)
			}
			if !bytes.Contains(rows["mcp_servers"], []byte("[REDACTED]")) {
				t.Error("mcp_servers holds no redacted value; was the dump empty?")
			}
			t.Logf("%s: %d servers reported, listed and active; %d tables, %d requests checked", osName, len(got), len(rows), len(wire.exchanges()))
		})
	}
}

func compareInventory(t *testing.T, got, want []inventoryEntry) {
	t.Helper()
	byName := func(l []inventoryEntry) {
		sort.Slice(l, func(i, j int) bool { return l[i].ServerName < l[j].ServerName })
	}
	byName(got)
	byName(want)
	wantBy := map[string]inventoryEntry{}
	for _, w := range want {
		wantBy[w.ServerName] = w
	}
	gotBy := map[string]inventoryEntry{}
	for _, g := range got {
		gotBy[g.ServerName] = g
		w, ok := wantBy[g.ServerName]
		switch {
		case !ok:
			t.Errorf("unexpected server in the inventory: %+v", g)
		case !reflect.DeepEqual(g, w):
			t.Errorf("server %q\n got  %+v\n want %+v", g.ServerName, g, w)
		}
	}
	for _, w := range want {
		if _, ok := gotBy[w.ServerName]; !ok {
			t.Errorf("missing from the inventory: %+v", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("inventory has %d servers, want %d", len(got), len(want))
	}
}

// dumpDatabase returns every row of every table in the public schema as
// text, by table.
func dumpDatabase(t *testing.T, env *apitest.Env) map[string][]byte {
	t.Helper()
	conn := env.Store.DB()
	var tables []string
	if err := conn.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`); err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("no tables")
	}
	out := map[string][]byte{}
	for _, table := range tables {
		var rows []string
		if err := conn.Select(&rows, `SELECT t::text FROM public.`+pq.QuoteIdentifier(table)+` t`); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		out[table] = []byte(strings.Join(rows, "\n"))
	}
	return out
}

func assertNoPlanted(t *testing.T, where string, b []byte, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds planted secret %q", where, s)
		}
	}
}

// TestEnrollStoresAKeyThatRunUses: `enroll` with an organization secret stores the machine's
// own key in a file only its user can read; `run` reports with it; enrolling again returns to
// the same agent; and `run` with only a secret in its config file enrols by itself.
func TestEnrollStoresAKeyThatRunUses(t *testing.T) {
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	ts := httptest.NewServer(env.Handler)
	defer ts.Close()
	created, err := env.User(token).CreateEnrollmentSecretWithResponse(context.Background(), mcpwarden.CreateEnrollmentSecretJSONRequestBody{Name: "laptops"})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create secret: %v", err)
	}
	secret := created.JSON201.Secret
	keyFile := filepath.Join(t.TempDir(), "state", "agent.key")
	for _, v := range []string{"MCPWARDEN_URL", "MCPWARDEN_API_KEY", "MCPWARDEN_ENROLLMENT_SECRET"} {
		t.Setenv(v, "")
	}
	t.Setenv("MCPWARDEN_KEY_FILE", keyFile)
	t.Setenv("MCPWARDEN_MACHINE_ID", "test-machine-0001")
	t.Setenv("HOME", t.TempDir())

	var out, errOut bytes.Buffer
	if code := cli(context.Background(), []string{"enroll", "--server", ts.URL, "--secret", secret}, &out, &errOut); code != 0 {
		t.Fatalf("enroll: exit %d: %s", code, errOut.String())
	}
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v, want 0600", err, st)
	}
	key, _ := os.ReadFile(keyFile)
	if !strings.HasPrefix(string(key), "mcp_sk_") || strings.Contains(out.String(), strings.TrimSpace(string(key))) {
		t.Fatalf("key file holds %q; enroll printed %q (the key must not be printed)", key, out.String())
	}
	home := filepath.Join(fixtures, "linux")
	if code := cli(context.Background(), []string{"run", "--once", "--server", ts.URL, "--home", home, "--os", "linux"}, io.Discard, &errOut); code != 0 {
		t.Fatalf("run with the stored key: exit %d: %s", code, errOut.String())
	}
	agents, err := env.User(token).ListAgentsWithResponse(context.Background(), nil)
	if err != nil || agents.JSON200 == nil || agents.JSON200.Total != 1 || agents.JSON200.Items[0].ServerCount == 0 {
		t.Fatalf("agents after enroll and run: %v %s, want one with servers", err, agents.Body)
	}
	agentID := agents.JSON200.Items[0].Id
	var stored string
	env.Store.DB().Get(&stored, `SELECT machine_id FROM agents WHERE id = $1`, agentID)
	if want, _ := machineID(); stored != want || len(stored) != 64 {
		t.Errorf("stored machine id %q, want the hashed %q", stored, want)
	}

	// run with only the secret in its config file, the key file gone: it enrols again, as the
	// same agent.
	os.Remove(keyFile)
	cfg := filepath.Join(t.TempDir(), "agent.json")
	os.WriteFile(cfg, []byte(`{"url": "`+ts.URL+`", "enrollment_secret": "`+secret+`"}`), 0o600)
	if code := cli(context.Background(), []string{"run", "--once", "--config", cfg, "--home", home, "--os", "linux"}, io.Discard, &errOut); code != 0 {
		t.Fatalf("run enrolling from its config: exit %d: %s", code, errOut.String())
	}
	again, _ := env.User(token).ListAgentsWithResponse(context.Background(), nil)
	if again.JSON200.Total != 1 || again.JSON200.Items[0].Id != agentID {
		t.Errorf("after re-enrolling the same machine: %d agents, want the same one", again.JSON200.Total)
	}
	if newKey, _ := os.ReadFile(keyFile); len(newKey) == 0 || string(newKey) == string(key) {
		t.Errorf("re-enrolment stored %q, want a new key", newKey)
	}
}
