package main

import (
	"strings"
	"testing"
)

func TestWrkSummaryCountsScriptErrorsAndUnexpectedAnswers(t *testing.T) {
	for _, c := range []struct {
		name, out              string
		errors, unexpected, rq uint64
	}{
		{"heartbeat", `WRKJSON {"requests":1000,"duration_us":2000000,"non2xx":3,"socket_errors":2,"p50_us":500,"p95_us":900,"p99_us":1200,"max_us":5000,"mean_us":600.5}`, 5, 0, 1000},
		// The changed-report script counts every non-200 itself; wrk's non2xx is a part of it.
		{"report_changed", "Running 2s test\nWRKJSON {\"requests\":800,\"duration_us\":2000000,\"non2xx\":4,\"non200\":6,\"unexpected\":7,\"socket_errors\":1,\"p50_us\":500,\"p95_us\":900,\"p99_us\":1200,\"max_us\":5000,\"mean_us\":600.5}\n", 7, 7, 800},
	} {
		r, err := parseWrk([]byte(c.out), c.name, 16)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := r.Endpoint(c.name)
		if e.Requests != c.rq || e.Errors != c.errors || e.Unexpected != c.unexpected || e.RPS != float64(c.rq)/2 || e.P99Ms != 1.2 {
			t.Errorf("%s: got %+v", c.name, e)
		}
	}
	if _, err := parseWrk([]byte("wrk: connection refused\n"), "heartbeat", 16); err == nil {
		t.Error("output without a summary was accepted")
	}
}

func TestTheFasterChangedReportGeneratorCountsWhenEveryAnswerWasAChange(t *testing.T) {
	loadgen := lgEndpoint{Name: "report_changed", Requests: 9000, RPS: 900}
	for _, c := range []struct {
		name string
		wrk  *lgEndpoint
		want string
	}{
		{"without wrk", nil, "mcpwarden-loadgen"},
		{"wrk slower", &lgEndpoint{Requests: 8000, RPS: 800}, "mcpwarden-loadgen"},
		{"wrk faster", &lgEndpoint{Requests: 10000, RPS: 1000}, "wrk"},
		{"wrk faster with unchanged answers", &lgEndpoint{Requests: 10000, RPS: 1000, Unexpected: 1}, "mcpwarden-loadgen"},
	} {
		r := &report{Pgbench: []pgbenchRun{{Script: "report", TPS: 1000}}, Changed: loadgen, ChangedWrk: c.wrk}
		if c.wrk != nil {
			r.ChangedWrkCmd = "wrk -t2 -c64 -d20s -s report_changed.lua"
		}
		got, gen := r.changed()
		if gen != c.want {
			t.Errorf("%s: %s counts, want %s", c.name, gen, c.want)
		}
		if r.changedRatio() != got.RPS/1000 {
			t.Errorf("%s: ratio %.2f is not of the counting figure %.0f/s", c.name, r.changedRatio(), got.RPS)
		}
		md := r.markdown()
		if !strings.Contains(md, "For changed reports "+c.want+"'s figure counts") {
			t.Errorf("%s: BENCHMARKS.md does not say %s counts", c.name, c.want)
		}
		if hasRow := strings.Contains(md, "| report, 10 servers changed (wrk) |"); hasRow != (c.wrk != nil) {
			t.Errorf("%s: wrk row shown: %v", c.name, hasRow)
		}
	}
}
