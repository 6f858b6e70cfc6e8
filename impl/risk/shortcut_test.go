package risk

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestShortcutsMatchWhatTheyReplace pins the helpers written for speed to the
// plain forms they replace, on inputs at their edges (see fold_test.go for the
// case-folding ones).
func TestShortcutsMatchWhatTheyReplace(t *testing.T) {
	for _, s := range append(slices.Clone(foldInputs), "supergateway", "SuperGateway", "supergateway2", "supergatewa",
		"@smithery/cli", "@SMITHERY/CLI", "@sm\u0130thery/cli", "\u0130", "K", "s\u212aupergateway", "@smithery/cli\u212a") {
		for _, lower := range []string{"supergateway", "@smithery/cli", ""} {
			if got, want := equalLower(s, lower), strings.ToLower(s) == lower; got != want {
				t.Errorf("equalLower(%q, %q) = %v, want %v", s, lower, got, want)
			}
		}
	}
	for _, s := range []string{"", "=", "a", "a==1", "=a", "a~=1<2", "pkg>=1", "pkg<2", "ü=", "a[x]>=1"} {
		if got, want := indexVersionOperator(s), strings.IndexAny(s, "=<>~"); got != want {
			t.Errorf("indexVersionOperator(%q) = %d, want %d", s, got, want)
		}
	}
	secretFlagOld := func(name string) bool {
		n := strings.ToLower(name)
		for _, f := range secretFlags {
			if strings.HasSuffix(n, f) && (len(n) == len(f) || n[len(n)-len(f)-1] == '-' || n[len(n)-len(f)-1] == '_') {
				return true
			}
		}
		return false
	}
	for _, s := range []string{"", "y", "profile", "token", "TOKEN", "x-token", "x_token", "xtoken", "api-key", "monkey", "my-key",
		"pat", "path", "auth", "oauth", "o-auth", "bearer", "passwd", "access-token", "secret", "ke\u212a", "\u212aey"} {
		if got, want := secretFlag(s), secretFlagOld(s); got != want {
			t.Errorf("secretFlag(%q) = %v, want %v", s, got, want)
		}
	}
	// urlSecrets' answer without parsing, for a URL with neither user information nor a query.
	for _, raw := range []string{"https://mcp.example.com/sse", "postgres://db/app", "https://x#frag", "%zz", "::", "http://%40x/%3Fy", "redis://cache:6379"} {
		if got := urlSecrets(raw); got != nil {
			t.Errorf("urlSecrets(%q) = %v, want nil", raw, got)
		}
		if u, err := url.Parse(raw); err == nil && (u.User != nil || u.RawQuery != "") {
			t.Errorf("url.Parse(%q) finds user information or a query", raw)
		}
	}
}

func TestAppendBySeverityMatchesSortFactors(t *testing.T) {
	sev := []string{Critical, High, Medium, Low, "unknown"}
	x := uint32(11)
	for n := 0; n <= 20; n++ {
		for round := 0; round < 20; round++ {
			fs := make([]Factor, n)
			for i := range fs {
				x = x*1664525 + 1013904223
				fs[i] = Factor{ID: strings.Repeat("x", i), Severity: sev[int(x>>8)%len(sev)]}
			}
			want := slices.Clone(fs)
			sortFactors(want)
			prefix := []Factor{{ID: "before"}}
			if got := appendBySeverity(prefix, fs); !slices.Equal(got[1:], want) || got[0] != prefix[0] {
				t.Fatalf("appendBySeverity = %v, want %v", got[1:], want)
			}
		}
	}
}

// TestAssessAllConcurrentReportsKeepApart runs reports of different sizes at
// once: each must come out as it does alone, whatever working memory AssessAll reuses.
func TestAssessAllConcurrentReportsKeepApart(t *testing.T) {
	reports := [][]Input{loadgenReport, loadgenReport[:3], loadgenReport[5:], {loadgenReport[7]}, nil}
	want := make([]string, len(reports))
	for i, r := range reports {
		want[i] = string(mustJSON(AssessAll(r)))
	}
	done := make(chan string, 8*len(reports))
	for g := range 8 {
		go func() {
			for k := range 50 {
				i := (g + k) % len(reports)
				if got := string(mustJSON(AssessAll(reports[i]))); got != want[i] {
					done <- fmt.Sprintf("report %d differs when assessed concurrently", i)
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
}
