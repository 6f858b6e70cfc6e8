package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// The endpoints the agents mode times separately.
const (
	epHeartbeat = iota
	epUnchanged
	epChanged
	epNew
	epPrime
	epWarm
	epReport // the fleet mode's reports of every kind together
	numEndpoints
)

var endpointNames = [numEndpoints]string{"heartbeat", "report_unchanged", "report_changed", "report_new", "report_prime", "heartbeat_warm", "report"}

// agent is one simulated machine. Each agent belongs to exactly one worker, so its state needs
// no lock and the server never sees two of its requests at once.
type agent struct {
	idx       int
	key       string
	heartbeat []byte
	// last is the report body the server holds for this agent (nil: the shared baseline).
	last []byte
	gen  int // generation of server names; a "new" report moves to the next one
	rev  int // configuration revision; a "changed" report moves to the next one
}

// epStats is one worker's record of one endpoint.
type epStats struct {
	hist       histogram
	status     map[int]uint64
	transport  uint64 // requests that got no HTTP answer
	unexpected uint64 // answered 200, but not as the report kind implies (say, unchanged=false)
}

type worker struct {
	id     int
	agents []*agent
	next   int
	rng    *rand.Rand
	stats  [numEndpoints]*epStats
	buf    []byte   // the fleet mode's heartbeat body being sent
	conn   *rawConn // with --http raw, the worker's connection (nil: the SDK's client)
}

func (w *worker) ep(i int) *epStats {
	if w.stats[i] == nil {
		w.stats[i] = &epStats{status: map[int]uint64{}}
	}
	return w.stats[i]
}

type simulation struct {
	o        options
	sdk      *mcpwarden.ClientWithResponses
	basePath string // the --url's path, before the API's paths (--http raw)
	baseline []byte
	nonce    string
	done     atomic.Int64 // timed requests finished
	failed   atomic.Int64 // timed requests that failed
	budget   atomic.Int64 // timed requests started
}

func runAgents(ctx context.Context, o options) (*results, error) {
	hc := httpClient(max(o.concurrency, o.enrolConc), o.timeout)
	var (
		keys     []string
		err      error
		enrolled bool
	)
	if o.keysFile != "" {
		if keys, err = readKeys(o.keysFile); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "reusing %d agent keys from %s\n", len(keys), o.keysFile)
	} else {
		if keys, err = enrol(ctx, o, hc); err != nil {
			return nil, err
		}
		enrolled = true
	}
	if o.enrolOnly {
		return nil, nil
	}
	sdk, err := newSDK(o.url, hc)
	if err != nil {
		return nil, err
	}
	nb := make([]byte, 4)
	crand.Read(nb)
	s := &simulation{o: o, sdk: sdk, nonce: hex.EncodeToString(nb)}
	s.baseline = s.reportBody(0, 0, 0)
	reports := o.mix.weight("report") > 0 || o.prime || o.primeOnly

	conc := o.concurrency
	if reports && len(keys) < conc {
		// Two workers must never report for one agent at once.
		fmt.Fprintf(os.Stderr, "only %d agents: lowering concurrency from %d to %d\n", len(keys), conc, len(keys))
		conc = len(keys)
	}
	workers := make([]*worker, conc)
	for i := range workers {
		workers[i] = &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano())))}
	}
	if o.http == "raw" {
		addr, host, base, err := rawTarget(o.url)
		if err != nil {
			return nil, err
		}
		s.basePath = base
		for _, w := range workers {
			w.conn = newRawConn(addr, host, o.timeout)
		}
		defer func() {
			for _, w := range workers {
				w.conn.close()
			}
		}()
	}
	for i, k := range keys {
		a := &agent{idx: i, key: k}
		a.heartbeat, _ = json.Marshal(mcpwarden.HeartbeatRequest{
			Hostname: fmt.Sprintf("loadgen-%06d.local", i), OsType: ptr(mcpwarden.OsTypeLinux),
			Username: ptr("dev"), AgentVersion: ptr("0.2.0"),
		})
		w := workers[i%conc]
		w.agents = append(w.agents, a)
	}

	res := &results{Mode: "agents", URL: o.url, Concurrency: conc, Rate: o.rate, Agents: len(keys)}
	if o.warmOnly {
		fmt.Fprintln(os.Stderr, "warming: every agent sends one heartbeat")
		start := time.Now()
		everyAgent(ctx, workers, func(w *worker, a *agent) { s.heartbeatAs(ctx, w, a, epWarm) })
		p := collect(workers, epWarm, time.Since(start))
		res.Prime = &p
		return res, nil
	}
	if o.prime || o.primeOnly || (enrolled && reports) {
		fmt.Fprintf(os.Stderr, "priming: every agent sends its baseline report of %d servers\n", o.servers)
		start := time.Now()
		everyAgent(ctx, workers, func(w *worker, a *agent) { s.report(ctx, w, a, epPrime) })
		p := collect(workers, epPrime, time.Since(start))
		res.Prime = &p
		fmt.Fprintf(os.Stderr, "primed %d agents in %.1fs (%d errors)\n", p.Requests, p.ElapsedS, p.Errors)
		for _, w := range workers {
			w.stats[epPrime] = nil
		}
		if o.primeOnly {
			return res, nil
		}
	}

	fmt.Fprintf(os.Stderr, "running %d agents on %d connections for at most %v", len(keys), conc, o.duration)
	if o.requests > 0 {
		fmt.Fprintf(os.Stderr, " or %d requests", o.requests)
	}
	if o.rate > 0 {
		fmt.Fprintf(os.Stderr, " at %.0f requests/s", o.rate)
	}
	fmt.Fprintln(os.Stderr)
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	var last int64
	lastAt := start
	stopProgress := progressTicker(o.progress, func() {
		now, d := time.Now(), s.done.Load()
		fmt.Fprintf(os.Stderr, "  %6.1fs  requests %9d  rate %8.0f/s  errors %d\n",
			now.Sub(start).Seconds(), d, float64(d-last)/now.Sub(lastAt).Seconds(), s.failed.Load())
		last, lastAt = d, now
	})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(runCtx, w, conc, start)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	res.ElapsedS = elapsed.Seconds()
	var total epStatsSum
	for ep := range epPrime {
		r := collect(workers, ep, elapsed)
		if r.Requests == 0 {
			continue
		}
		res.Endpoints = append(res.Endpoints, r)
		total.add(r)
	}
	res.Requests, res.Errors = total.requests, total.errors
	res.RPS = float64(total.requests) / elapsed.Seconds()
	return res, nil
}

// work is one connection's loop: pick an operation, send it, record it, until the run ends.
func (s *simulation) work(ctx context.Context, w *worker, conc int, start time.Time) {
	if len(w.agents) == 0 {
		return
	}
	var interval time.Duration
	next := start
	if s.o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(conc) / s.o.rate)
		next = start.Add(interval * time.Duration(w.id) / time.Duration(conc))
	}
	for ctx.Err() == nil {
		if s.o.requests > 0 && s.budget.Add(1) > s.o.requests {
			return
		}
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
			next = next.Add(interval)
		}
		a := w.agents[w.next]
		w.next = (w.next + 1) % len(w.agents)
		var ok bool
		if s.o.mix.pick(w.rng.Float64()) == 0 {
			ok = s.heartbeat(ctx, w, a)
		} else {
			ok = s.report(ctx, w, a, epUnchanged+s.o.reportMix.pick(w.rng.Float64()))
		}
		if ctx.Err() != nil && !ok {
			return // cut off by the end of the run: not the server's failure
		}
		s.done.Add(1)
		if !ok {
			s.failed.Add(1)
		}
	}
}

func (s *simulation) heartbeat(ctx context.Context, w *worker, a *agent) bool {
	return s.heartbeatAs(ctx, w, a, epHeartbeat)
}

func (s *simulation) heartbeatAs(ctx context.Context, w *worker, a *agent, ep int) bool {
	t0 := time.Now()
	code, _, err := s.post(ctx, w, s.sdk.ClientInterface.AgentHeartbeatWithBody, "/agents/heartbeat", a.key, a.heartbeat)
	if ctx.Err() != nil && err != nil {
		return false
	}
	st := w.ep(ep)
	st.hist.record(time.Since(t0))
	if err != nil {
		st.transport++
		return false
	}
	st.status[code]++
	return code == http.StatusOK
}

// report sends one report of the given kind and checks that the server saw it as that kind.
func (s *simulation) report(ctx context.Context, w *worker, a *agent, ep int) bool {
	body := a.last
	gen, rev := a.gen, a.rev
	switch ep {
	case epPrime:
		body = s.baseline
		gen, rev = 0, 0
	case epUnchanged:
		if body == nil {
			body = s.baseline
		}
	case epChanged:
		rev++
		body = s.reportBody(a.idx, gen, rev)
	case epNew:
		gen++
		body = s.reportBody(a.idx, gen, rev)
	}
	t0 := time.Now()
	code, answer, err := s.post(ctx, w, s.sdk.ClientInterface.ReportServersWithBody, "/mcp/report", a.key, body)
	if ctx.Err() != nil && err != nil {
		return false
	}
	st := w.ep(ep)
	st.hist.record(time.Since(t0))
	if err != nil {
		st.transport++
		return false
	}
	st.status[code]++
	var res mcpwarden.ReportResult
	if code != http.StatusOK || json.Unmarshal(answer, &res) != nil {
		return false
	}
	if ep == epPrime || ep == epChanged || ep == epNew {
		a.gen, a.rev = gen, rev
		a.last = body
		if ep == epPrime {
			a.last = nil
		}
	}
	switch {
	case ep == epUnchanged && !res.Unchanged,
		ep == epChanged && (res.Unchanged || res.ServersUpdated == 0),
		ep == epNew && res.ServersCreated != int64(s.o.servers):
		st.unexpected++
	}
	return true
}

// sdkPost is a generated client's method that sends a request body.
type sdkPost func(ctx context.Context, contentType string, body io.Reader, reqEditors ...mcpwarden.RequestEditorFn) (*http.Response, error)

// post sends body to path as the agent with key and returns the status and the answer: through
// the worker's rawConn with --http raw, else through the SDK's method.
func (s *simulation) post(ctx context.Context, w *worker, method sdkPost, path, key string, body []byte) (int, []byte, error) {
	if w.conn != nil {
		code, answer, err := w.conn.post(s.basePath+path, key, body)
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		return code, answer, err
	}
	resp, err := method(ctx, "application/json", bytes.NewReader(body), apiKey(key))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

func apiKey(key string) mcpwarden.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("X-API-Key", key)
		return nil
	}
}

// serverTemplate is a typical MCP server as agents find them in Claude Desktop, Cursor or VS Code.
type serverTemplate struct {
	name, typ, command, scope string
	env                       []string
	transport                 mcpwarden.NullableTransport
	url                       string
}

var templates = []serverTemplate{
	{name: "filesystem", typ: "@modelcontextprotocol/server-filesystem", command: "npx -y @modelcontextprotocol/server-filesystem /home/dev/projects", scope: "/home/dev/projects", transport: "stdio"},
	{name: "github", typ: "@modelcontextprotocol/server-github", command: "npx -y @modelcontextprotocol/server-github", env: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}, transport: "stdio"},
	{name: "postgres", typ: "@modelcontextprotocol/server-postgres", command: "npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app", transport: "stdio"},
	{name: "git", typ: "mcp-server-git", command: "uvx mcp-server-git --repository /home/dev/projects/app", scope: "/home/dev/projects/app", transport: "stdio"},
	{name: "fetch", typ: "mcp-server-fetch", command: "uvx mcp-server-fetch", transport: "stdio"},
	{name: "memory", typ: "@modelcontextprotocol/server-memory", command: "npx -y @modelcontextprotocol/server-memory", transport: "stdio"},
	{name: "puppeteer", typ: "@modelcontextprotocol/server-puppeteer", command: "npx -y @modelcontextprotocol/server-puppeteer", transport: "stdio"},
	{name: "slack", typ: "@modelcontextprotocol/server-slack", command: "npx -y @modelcontextprotocol/server-slack", env: []string{"SLACK_BOT_TOKEN", "SLACK_TEAM_ID"}, transport: "stdio"},
	{name: "sqlite", typ: "mcp-server-sqlite", command: "uvx mcp-server-sqlite --db-path /home/dev/data.db", scope: "/home/dev/data.db", transport: "stdio"},
	{name: "docs-remote", typ: "mcp.example.com", command: "https://mcp.example.com/mcp", transport: "http", url: "https://mcp.example.com/mcp"},
}

// reportBody is the report of an agent at a generation (server names) and revision
// (configuration). Revision 0 of generation 0 is the baseline every agent shares. Odd revisions
// widen the filesystem server to the whole disk, so every other change raises its risk and an
// alert.
func (s *simulation) reportBody(idx, gen, rev int) []byte {
	return s.reportBodyProfile(gen, rev, profileSuffix(s.nonce, idx, rev))
}

// profileSuffix is what follows --profile in every command of a changed configuration: unique
// to the run (nonce), the agent and the revision, so each revision differs from the last.
func profileSuffix(nonce string, idx, rev int) string {
	return fmt.Sprintf("%s-%d-%d", nonce, idx, rev)
}

// reportBodyProfile is reportBody with the --profile suffix given (used when rev > 0), so that
// --report-templates can write the body with a placeholder in its place.
func (s *simulation) reportBodyProfile(gen, rev int, profile string) []byte {
	servers := make([]mcpwarden.ReportedServer, s.o.servers)
	for i := range servers {
		t := templates[i%len(templates)]
		name := t.name
		if i >= len(templates) {
			name += "-" + strconv.Itoa(i/len(templates))
		}
		if gen > 0 {
			name += fmt.Sprintf("-g%d-%s", gen, s.nonce)
		}
		command, scope := t.command, t.scope
		if rev > 0 {
			if t.name == "filesystem" && rev%2 == 1 {
				command, scope = "npx -y @modelcontextprotocol/server-filesystem /", "/"
			}
			command += " --profile " + profile
		}
		rs := mcpwarden.ReportedServer{
			ServerName: name, ServerType: ptr(t.typ), Command: ptr(command),
			Client: ptr("claude-desktop"), ConfigPath: ptr("/home/dev/.config/Claude/claude_desktop_config.json"),
			Transport: ptr(t.transport), Enabled: ptr(true),
		}
		if scope != "" {
			rs.Scope = ptr(scope)
		}
		if t.env != nil {
			rs.EnvVars = &t.env
		}
		if t.url != "" {
			rs.Url = ptr(t.url)
		}
		servers[i] = rs
	}
	b, err := json.Marshal(mcpwarden.ReportRequest{Servers: servers})
	if err != nil {
		panic(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// everyAgent runs fn once for every agent, each worker going through its own agents in its
// goroutine, and returns when all are done or ctx ends.
func everyAgent(ctx context.Context, workers []*worker, fn func(*worker, *agent)) {
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range w.agents {
				if ctx.Err() != nil {
					return
				}
				fn(w, a)
			}
		}()
	}
	wg.Wait()
}
