// Command mcpwarden-loadgen drives a local mcpwarden server the way a fleet of agents does, through
// the generated Go SDK (or, with --http raw, a minimal HTTP/1.1 client that costs it less CPU). It enrols N agents (or reuses saved keys), then sends heartbeats and
// reports (a chosen share unchanged, changed or new) at a chosen rate and concurrency for a bounded
// time or request count, printing progress, then throughput and latency percentiles per endpoint.
// With --mode fleet it plays the saved keys' agents at real rates, open-loop (see fleet.go).
// With --mode queries it measures the dashboard and server-list queries an administrator runs.
// With --report-templates it only writes the bodies of its changed reports, for other drivers
// (the bench's wrk script) to send the same ones.
//
// It only targets loopback addresses: it is a benchmark tool, not a way to load someone's server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

const (
	maxDuration = time.Hour
	maxRequests = 100_000_000
	maxAgents   = 1_000_000
)

type options struct {
	url         string
	mode        string
	agents      int
	keysFile    string
	saveKeys    string
	email       string
	password    string
	enrolConc   int
	enrolOnly   bool
	concurrency int
	rate        float64
	duration    time.Duration
	requests    int64
	mix         weights
	reportMix   weights
	servers     int
	prime       bool
	primeOnly   bool
	warmOnly    bool
	progress    time.Duration
	jsonFile    string
	timeout     time.Duration
	templates   string
	baseline    string
	agentsSet   bool
	http        string
	// fleet mode
	interval       time.Duration
	reportInterval time.Duration
	jitter         float64
	changed        float64
	warmup         time.Duration
	maxLag         time.Duration
	// queries mode
	queryRequests int
	queryBudget   time.Duration
	search        string
	queries       string
}

func main() {
	var o options
	mix, reportMix := "heartbeat=15,report=1", "unchanged=80,changed=15,new=5"
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8000", "server base URL (loopback only)")
	flag.StringVar(&o.mode, "mode", "agents", "agents (heartbeats and reports as fast as allowed), fleet (--keys' agents at real rates, open-loop) or queries (dashboard and server list)")
	flag.IntVar(&o.agents, "agents", 100, "agents to enrol (ignored with --keys)")
	flag.StringVar(&o.keysFile, "keys", "", "reuse the agent keys in this file (one per line) instead of enrolling")
	flag.StringVar(&o.saveKeys, "save-keys", "", "write the keys of newly enrolled agents to this file")
	flag.StringVar(&o.email, "email", "", "the organization user to log in as (registered when new); default: a fresh org")
	flag.StringVar(&o.password, "password", "loadgen correct horse battery staple", "that user's password")
	flag.IntVar(&o.enrolConc, "enrol-concurrency", 16, "parallel POST /agents/ while enrolling")
	flag.BoolVar(&o.enrolOnly, "enrol-only", false, "enrol (and save keys), then exit")
	flag.IntVar(&o.concurrency, "concurrency", 64, "simultaneous requests (connections)")
	flag.Float64Var(&o.rate, "rate", 0, "total requests per second; 0 sends as fast as the concurrency allows")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to run (at most 1h)")
	flag.Int64Var(&o.requests, "requests", 0, "stop after this many requests (0: only --duration bounds the run)")
	flag.StringVar(&mix, "mix", mix, "relative weights of heartbeat and report requests")
	flag.StringVar(&reportMix, "report-mix", reportMix, "relative weights of unchanged, changed and new reports")
	flag.IntVar(&o.servers, "servers", 10, "servers in each report")
	flag.BoolVar(&o.prime, "prime", false, "send every agent its baseline report before the timed run (automatic for newly enrolled agents when reports are in the mix)")
	flag.BoolVar(&o.warmOnly, "warm-only", false, "send every agent one heartbeat (as a fleet already running would have), then exit")
	flag.BoolVar(&o.primeOnly, "prime-only", false, "send every agent its baseline report, then exit")
	flag.DurationVar(&o.progress, "progress", 5*time.Second, "progress line interval (0: none)")
	flag.StringVar(&o.jsonFile, "json", "", "also write the results as JSON to this file")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	flag.StringVar(&o.templates, "report-templates", "", "write the bodies of changed reports (of --servers servers) with a placeholder for the --profile suffix to this file, then exit: for other drivers, such as the bench's wrk script")
	flag.StringVar(&o.baseline, "baseline-report", "", "write the baseline report every agent starts from (of --servers servers) to this file, then exit: for mcpwarden seed --report")
	flag.StringVar(&o.http, "http", "sdk", "agents mode: send heartbeats and reports through the Go SDK (sdk) or fasthttp, one keep-alive connection per worker, which costs the generator less CPU (raw; the fleet mode always uses it)")
	var cpuProfile string
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file")
	flag.DurationVar(&o.interval, "interval", time.Minute, "fleet mode: each agent's heartbeat interval")
	flag.DurationVar(&o.reportInterval, "report-interval", 15*time.Minute, "fleet mode: each agent's report interval (0: no reports)")
	flag.Float64Var(&o.jitter, "jitter", 0.1, "fleet mode: intervals vary uniformly by this fraction either way")
	flag.Float64Var(&o.changed, "changed", 0.1, "fleet mode: share of reports that change the agent's configuration (every other one raising an alert); the rest are unchanged")
	flag.DurationVar(&o.warmup, "warmup", time.Minute, "fleet mode: unmeasured time before --duration, for the server to see every agent once")
	flag.DurationVar(&o.maxLag, "max-lag", 5*time.Second, "fleet mode: a request that cannot start this long after its scheduled time is dropped (counted)")
	flag.IntVar(&o.queryRequests, "query-requests", 100, "queries mode: timed requests per query")
	flag.DurationVar(&o.queryBudget, "query-budget", 15*time.Second, "queries mode: most time spent on one query")
	flag.StringVar(&o.search, "search", "git", "queries mode: the search term")
	flag.StringVar(&o.queries, "queries", "", "queries mode: comma-separated query names to run (default: all)")
	flag.Parse()

	var err error
	if o.mix, err = parseWeights(mix, "heartbeat", "report"); err != nil {
		fatalf("--mix: %v", err)
	}
	if o.reportMix, err = parseWeights(reportMix, "unchanged", "changed", "new"); err != nil {
		fatalf("--report-mix: %v", err)
	}
	o.agentsSet = isSet("agents")
	if o.mode == "fleet" && !isSet("concurrency") {
		o.concurrency = 512
	}
	if err := o.check(); err != nil {
		fatalf("%v", err)
	}
	if o.baseline != "" {
		s := &simulation{o: o}
		if err := os.WriteFile(o.baseline, s.reportBody(0, 0, 0), 0o644); err != nil {
			fatalf("--baseline-report: %v", err)
		}
		return
	}
	if o.templates != "" {
		if err := writeReportTemplates(o.templates, o.servers); err != nil {
			fatalf("--report-templates: %v", err)
		}
		return
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fatalf("--cpuprofile: %v", err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	var res *results
	switch o.mode {
	case "agents":
		res, err = runAgents(ctx, o)
	case "fleet":
		res, err = runFleet(ctx, o)
	case "queries":
		res, err = runQueries(ctx, o)
	}
	if err != nil {
		fatalf("%v", err)
	}
	if res == nil {
		return
	}
	printResults(os.Stdout, res)
	if o.jsonFile != "" {
		if err := writeResultsJSON(o.jsonFile, res); err != nil {
			fatalf("write %s: %v", o.jsonFile, err)
		}
	}
}

func (o *options) check() error {
	if o.mode != "agents" && o.mode != "fleet" && o.mode != "queries" {
		return fmt.Errorf("--mode must be agents, fleet or queries, not %q", o.mode)
	}
	if o.http != "sdk" && o.http != "raw" {
		return fmt.Errorf("--http must be sdk or raw, not %q", o.http)
	}
	if o.mode == "fleet" {
		switch {
		case o.keysFile == "":
			return errors.New("--mode fleet plays saved agents: set --keys (mcpwarden seed --keys-file writes them)")
		case o.interval < 10*time.Millisecond || o.interval > 24*time.Hour:
			return errors.New("--interval is between 10ms and 24h")
		case o.reportInterval < 0 || (o.reportInterval > 0 && o.reportInterval < 10*time.Millisecond) || o.reportInterval > 24*time.Hour:
			return errors.New("--report-interval is 0 or between 10ms and 24h")
		case o.jitter < 0 || o.jitter >= 1:
			return errors.New("--jitter is in [0, 1)")
		case o.changed < 0 || o.changed > 1:
			return errors.New("--changed is in [0, 1]")
		case o.warmup < 0 || o.warmup > maxDuration:
			return fmt.Errorf("--warmup is between 0 and %v", maxDuration)
		case o.maxLag <= 0:
			return errors.New("--max-lag must be positive")
		case o.duration <= 0:
			return errors.New("--mode fleet needs --duration")
		}
	}
	if err := checkLoopback(o.url); err != nil {
		return err
	}
	switch {
	case o.duration <= 0 && o.requests <= 0 && !o.enrolOnly && !o.primeOnly && !o.warmOnly && o.mode == "agents":
		return errors.New("set --duration or --requests")
	case o.duration > maxDuration:
		return fmt.Errorf("--duration is at most %v", maxDuration)
	case o.requests < 0 || o.requests > maxRequests:
		return fmt.Errorf("--requests is between 0 and %d", maxRequests)
	case o.agents < 1 || o.agents > maxAgents:
		return fmt.Errorf("--agents is between 1 and %d", maxAgents)
	case o.concurrency < 1 || o.concurrency > 4096:
		return errors.New("--concurrency is between 1 and 4096")
	case o.enrolConc < 1 || o.enrolConc > 256:
		return errors.New("--enrol-concurrency is between 1 and 256")
	case o.rate < 0:
		return errors.New("--rate cannot be negative")
	case o.servers < 1 || o.servers > 500:
		return errors.New("--servers is between 1 and 500 (the contract's limit)")
	case o.queryRequests < 1 || o.queryRequests > 100000:
		return errors.New("--query-requests is between 1 and 100000")
	}
	if o.duration <= 0 {
		o.duration = maxDuration
	}
	return nil
}

// checkLoopback refuses any target but this machine.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--url %q: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed", raw)
}

// httpClient is tuned for many concurrent keep-alive connections to one host.
func httpClient(concurrency int, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = concurrency * 2
	t.MaxIdleConnsPerHost = concurrency
	t.MaxConnsPerHost = 0
	t.IdleConnTimeout = 90 * time.Second
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	t.Proxy = nil
	return &http.Client{Transport: t, Timeout: timeout}
}

func newSDK(base string, hc *http.Client, editors ...mcpwarden.RequestEditorFn) (*mcpwarden.ClientWithResponses, error) {
	opts := []mcpwarden.ClientOption{mcpwarden.WithHTTPClient(hc)}
	for _, e := range editors {
		opts = append(opts, mcpwarden.WithRequestEditorFn(e))
	}
	return mcpwarden.NewClientWithResponses(base, opts...)
}

// weights are named relative weights, such as heartbeat=15,report=1.
type weights struct {
	names  []string
	values []float64
	total  float64
}

func parseWeights(s string, names ...string) (weights, error) {
	w := weights{names: names, values: make([]float64, len(names))}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return w, fmt.Errorf("%q is not name=weight", part)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || v < 0 {
			return w, fmt.Errorf("%q: weight must be a non-negative number", part)
		}
		i := indexOf(names, name)
		if i < 0 {
			return w, fmt.Errorf("%q: name must be one of %s", part, strings.Join(names, ", "))
		}
		w.values[i] = v
	}
	for _, v := range w.values {
		w.total += v
	}
	if w.total == 0 {
		return w, errors.New("at least one weight must be positive")
	}
	return w, nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// pick maps a uniform number in [0,1) to a name's index by weight.
func (w weights) pick(u float64) int {
	x := u * w.total
	for i, v := range w.values {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w.values) - 1
}

func (w weights) weight(name string) float64 { return w.values[indexOf(w.names, name)] }

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mcpwarden-loadgen: "+format+"\n", args...)
	os.Exit(1)
}
