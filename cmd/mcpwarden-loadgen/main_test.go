package main

import (
	"encoding/json"
	"strings"
	"testing"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

func TestOnlyLoopbackTargetsAreAllowed(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8000":   true,
		"http://127.9.9.9":        true,
		"http://localhost:8000/":  true,
		"http://[::1]:8000":       true,
		"http://10.0.0.1:8000":    false,
		"http://example.com":      false,
		"https://api.example.com": false,
		"ftp://127.0.0.1":         false,
		"127.0.0.1:8000":          false,
	} {
		if err := checkLoopback(url); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want allowed=%v", url, err, ok)
		}
	}
}

func TestWeightsPickByShare(t *testing.T) {
	w, err := parseWeights("unchanged=80,changed=15,new=5", "unchanged", "changed", "new")
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[float64]int{0: 0, 0.79: 0, 0.80: 1, 0.94: 1, 0.95: 2, 0.999: 2} {
		if got := w.pick(u); got != want {
			t.Errorf("pick(%v) = %d, want %d", u, got, want)
		}
	}
	for _, bad := range []string{"unchanged=-1", "bogus=1", "unchanged", "unchanged=0"} {
		if _, err := parseWeights(bad, "unchanged", "changed", "new"); err == nil {
			t.Errorf("parseWeights(%q) accepted", bad)
		}
	}
}

func TestReportKindsDifferAsTheirNamesSay(t *testing.T) {
	s := &simulation{o: options{servers: 10}, nonce: "n0"}
	decode := func(b []byte) mcpwarden.ReportRequest {
		var r mcpwarden.ReportRequest
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	base, changed, renamed := decode(s.reportBody(0, 0, 0)), decode(s.reportBody(7, 0, 1)), decode(s.reportBody(7, 1, 1))
	if len(base.Servers) != 10 || len(changed.Servers) != 10 || len(renamed.Servers) != 10 {
		t.Fatalf("servers: %d, %d, %d; want 10 each", len(base.Servers), len(changed.Servers), len(renamed.Servers))
	}
	for i := range base.Servers {
		if base.Servers[i].ServerName != changed.Servers[i].ServerName {
			t.Errorf("a changed report renamed %q", base.Servers[i].ServerName)
		}
		if *base.Servers[i].Command == *changed.Servers[i].Command {
			t.Errorf("a changed report kept %q's command", base.Servers[i].ServerName)
		}
		if base.Servers[i].ServerName == renamed.Servers[i].ServerName {
			t.Errorf("a new report kept the name %q", base.Servers[i].ServerName)
		}
	}
	if string(s.reportBody(0, 0, 0)) != string(s.reportBody(3, 0, 0)) {
		t.Error("the baseline differs between agents")
	}
	if *changed.Servers[0].Scope != "/" {
		t.Errorf("odd revisions widen the filesystem server to /, got %q", *changed.Servers[0].Scope)
	}
}

func TestReportTemplatesAreTheChangedReportsAndTheBaseline(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(reportTemplates(10)), "\n"), "\n")
	if len(lines) != 4 || lines[0] != profilePlaceholder {
		t.Fatalf("want the placeholder and three bodies, got %d lines starting %q", len(lines), lines[0])
	}
	even, odd := lines[1], lines[2]
	if n := strings.Count(even, profilePlaceholder); n != 10 {
		t.Errorf("the even body holds the placeholder %d times, want once per server", n)
	}
	s := &simulation{o: options{servers: 10}, nonce: "0a1b2c3d"}
	for _, c := range []struct{ idx, rev int }{{0, 1}, {0, 2}, {7, 1}, {7, 4}, {9999, 13}, {123, 100}} {
		tmpl := even
		if c.rev%2 == 1 {
			tmpl = odd
		}
		got := strings.ReplaceAll(tmpl, profilePlaceholder, profileSuffix(s.nonce, c.idx, c.rev))
		if want := string(s.reportBody(c.idx, 0, c.rev)); got != want {
			t.Errorf("idx %d rev %d: template gives\n%s\nreportBody gives\n%s", c.idx, c.rev, got, want)
		}
	}
	if baseline := string(s.reportBody(42, 0, 0)); lines[3] != baseline {
		t.Errorf("the last line is\n%s\nnot the baseline every agent is primed with\n%s", lines[3], baseline)
	}
}
