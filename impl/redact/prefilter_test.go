package redact

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// checkFastPaths checks on s each shortcut redaction takes against the plain way it replaces.
func checkFastPaths(t *testing.T, s string) {
	t.Helper()
	lower := func() string { return strings.ToLower(s) }
	found := scrubScanner.scan(s)
	for i, rule := range scrubRules {
		re := rulePatterns[i]
		if re.MatchString(s) && !rule.filter.mayMatch(s, lower) {
			t.Errorf("prefilter of %s rules out %q, which it matches", re, s)
		}
		if rule.filter.mayMatch(s, lower) && found&(1<<i) == 0 {
			t.Errorf("scan of %q misses the literals of %s", s, re)
		}
	}
	for _, re := range []*regexp.Regexp{urlPassword, queryParam, authScheme} {
		show := func(sub []string) string {
			if sub == nil {
				return "<nil>"
			}
			return fmt.Sprintf("%q", sub)
		}
		want := re.ReplaceAllStringFunc(s, func(m string) string { return show(re.FindStringSubmatch(m)) })
		if got := replaceSubmatches(re, s, show); got != want {
			t.Errorf("replaceSubmatches(%s, %q) = %q, want %q", re, s, got, want)
		}
	}
	if got, want := LooksSecretName(s), looksSecret(splitWords(s)); got != want {
		t.Errorf("LooksSecretName(%q) = %v, its words say %v", s, got, want)
	}
}

// rulePatterns are the patterns of scrubRules, in their order.
var rulePatterns = append([]*regexp.Regexp{urlPassword, queryParam, authScheme}, append(keyPatterns, openAIKey)...)

func TestRulePatternsAreScrubRules(t *testing.T) {
	if len(rulePatterns) != len(scrubRules) {
		t.Fatalf("%d patterns, %d rules", len(rulePatterns), len(scrubRules))
	}
	for i, re := range rulePatterns {
		if want := prefilterOf(re); fmt.Sprint(scrubRules[i].filter) != fmt.Sprint(want) {
			t.Errorf("rule %d has prefilter %v, the pattern %s gives %v", i, scrubRules[i].filter, re, want)
		}
	}
}

// TestFastPathsAgree runs checkFastPaths on the curated commands and secrets of the golden test,
// their arguments, and a sample of its generated commands and names.
func TestFastPathsAgree(t *testing.T) {
	var inputs []string
	for _, c := range append(curatedCommands(), secretContexts()...) {
		inputs = append(inputs, c)
		if args := strings.Fields(c); len(args) > 1 {
			inputs = append(inputs, args...)
		}
	}
	for i, c := range generatedCommands() {
		if i%20 == 0 && len(c) < 1000 { // the golden test has the long ones
			inputs = append(inputs, c)
		}
	}
	for i, n := range generatedNames() {
		if i%10 == 0 {
			inputs = append(inputs, n)
		}
	}
	for _, in := range inputs {
		checkFastPaths(t, in)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d inputs", len(inputs))
}

func FuzzFastPaths(f *testing.F) {
	for _, c := range curatedCommands() {
		f.Add(c)
	}
	f.Fuzz(checkFastPaths)
}

// TestPrefilterLiterals pins the literals the scan looks for in a few patterns: joining the
// parts of a pattern makes them longer than any one part.
func TestPrefilterLiterals(t *testing.T) {
	for _, tt := range []struct {
		re   *regexp.Regexp
		want string
	}{
		{keyPatterns[1], `[gho_ ghp_ ghr_ ghs_ ghu_] false`},
		{keyPatterns[7], `[pk_live_ pk_test_ rk_live_ rk_test_ sk_live_ sk_test_] false`},
		{authScheme, `[bearer basic token] true`},
		{urlPassword, `[://] false`},
	} {
		f := prefilterOf(tt.re)
		if got := fmt.Sprint(f.lits, f.fold); got != tt.want {
			t.Errorf("prefilter of %s looks for %s, want %s", tt.re, got, tt.want)
		}
	}
}
