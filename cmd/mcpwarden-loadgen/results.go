package main

import (
	"github.com/mcpwarden/mcpwarden/cmd/internal/loadresult"

	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"
)

// endpointResult is what one endpoint (or one query) did over a run.
// The --json output's types live in cmd/internal/loadresult, shared with mcpwarden-bench.
type (
	endpointResult = loadresult.Endpoint
	results        = loadresult.Results
)

type epStatsSum struct{ requests, errors uint64 }

func (t *epStatsSum) add(r endpointResult) {
	t.requests += r.Requests
	t.errors += r.Errors
}

// collect merges every worker's record of one endpoint.
func collect(workers []*worker, ep int, elapsed time.Duration) endpointResult {
	var (
		h     histogram
		merge = &epStats{status: map[int]uint64{}}
	)
	for _, w := range workers {
		st := w.stats[ep]
		if st == nil {
			continue
		}
		h.merge(&st.hist)
		for c, n := range st.status {
			merge.status[c] += n
		}
		merge.transport += st.transport
		merge.unexpected += st.unexpected
	}
	return summarize(endpointNames[ep], &h, merge, elapsed)
}

func summarize(name string, h *histogram, st *epStats, elapsed time.Duration) endpointResult {
	r := endpointResult{
		Name: name, Requests: h.n, Unexpected: st.unexpected, Status: map[string]uint64{},
		ElapsedS: elapsed.Seconds(),
		MeanMs:   h.mean() / 1000,
		P50Ms:    float64(h.quantile(0.50)) / 1000,
		P95Ms:    float64(h.quantile(0.95)) / 1000,
		P99Ms:    float64(h.quantile(0.99)) / 1000,
		MaxMs:    float64(h.max) / 1000,
	}
	if elapsed > 0 {
		r.RPS = float64(h.n) / elapsed.Seconds()
	}
	for c, n := range st.status {
		r.Status[strconv.Itoa(c)] = n
		if c < 200 || c > 299 {
			r.Errors += n
		}
	}
	if st.transport > 0 {
		r.Status["transport"] = st.transport
		r.Errors += st.transport
	}
	return r
}

func printResults(w io.Writer, res *results) {
	if res.Requests == 0 && res.Prime != nil {
		fmt.Fprintf(w, "\n%s against %s: %d untimed requests (%s), concurrency %d\n", res.Mode, res.URL, res.Prime.Requests, res.Prime.Name, res.Concurrency)
	} else {
		fmt.Fprintf(w, "\n%s against %s: %d requests in %.1fs (%.0f/s), %d errors, concurrency %d\n",
			res.Mode, res.URL, res.Requests, res.ElapsedS, res.RPS, res.Errors, res.Concurrency)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\treq/s\terrors\tunexpected\tp50 ms\tp95 ms\tp99 ms\tmax ms\tstatuses\t")
	rows := res.Endpoints
	if res.Prime != nil {
		rows = append([]endpointResult{*res.Prime}, rows...)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n",
			r.Name, r.Requests, r.RPS, r.Errors, r.Unexpected, r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs, statuses(r.Status))
	}
	tw.Flush()
	if f := res.Fleet; f != nil {
		fmt.Fprintf(w, "fleet: %d agents, offered %.0f requests/s (heartbeat every %s, report every %s, ±%.0f%%, %.0f%% changed) after a %.0f s warm-up; "+
			"latencies from each request's scheduled time; %d late (started over 10 ms behind), %d dropped (over %.0f ms behind); load generator CPU %.2f cores\n",
			res.Agents, f.OfferedRPS, f.Interval, f.ReportInterval, 100*f.Jitter, 100*f.ChangedShare, f.WarmupS, f.Late, f.Dropped, f.MaxLagMs, f.GeneratorCores)
	}
}

func statuses(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += ","
		}
		s += fmt.Sprintf("%s:%d", k, m[k])
	}
	return s
}

func writeResultsJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
