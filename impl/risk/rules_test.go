package risk

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/risk-rules.md from the rule table")

const docsPath = "../../docs/risk-rules.md"

// TestRulesDocIsCurrent fails when docs/risk-rules.md differs from what the
// rule table generates; `go generate ./impl/risk` rewrites it.
func TestRulesDocIsCurrent(t *testing.T) {
	want := RulesMarkdown()
	if *updateDocs {
		if err := os.WriteFile(filepath.FromSlash(docsPath), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.FromSlash(docsPath))
	if err != nil {
		t.Fatalf("%v (run `go generate ./impl/risk`)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/risk-rules.md is stale: run `go generate ./impl/risk` and commit the result")
	}
}

func TestRuleTable(t *testing.T) {
	idPattern := regexp.MustCompile(`^MCPW-[A-Z]+-[A-Z0-9-]+$`)
	seen := map[string]bool{}
	for _, r := range rules {
		if !idPattern.MatchString(r.ID) {
			t.Errorf("rule id %q does not follow MCPW-FAMILY-NAME", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("duplicate rule id %s", r.ID)
		}
		seen[r.ID] = true
		if _, ok := severityWeight[r.Severity]; !ok {
			t.Errorf("%s: unknown severity %q", r.ID, r.Severity)
		}
		if r.Title == "" || r.Trigger == "" || r.Why == "" || r.Fix == "" {
			t.Errorf("%s: title, trigger, why and fix are all required", r.ID)
		}
		family := false
		for _, f := range ruleFamilies {
			family = family || strings.HasPrefix(r.ID, f.prefix)
		}
		if !family {
			t.Errorf("%s: no documentation family", r.ID)
		}
	}
}

// TestEveryRuleIsExercised keeps the case table honest: a rule no case
// triggers is either dead code or untested.
func TestEveryRuleIsExercised(t *testing.T) {
	fired := map[string]bool{}
	for _, tt := range assessCases {
		for _, id := range tt.ids {
			fired[id] = true
		}
	}
	for _, tt := range labelledCases {
		for _, id := range tt.ids {
			fired[id] = true
		}
	}
	for _, tt := range combinationCases {
		for _, ids := range tt.ids {
			for _, id := range ids {
				fired[id] = true
			}
		}
	}
	for _, r := range rules {
		if !fired[r.ID] {
			t.Errorf("no test case triggers %s", r.ID)
		}
	}
}

func TestLevelFor(t *testing.T) {
	tests := []struct {
		score int
		want  string
	}{{0, Low}, {29, Low}, {30, Medium}, {59, Medium}, {60, High}, {79, High}, {80, Critical}, {100, Critical}}
	for _, tt := range tests {
		if got := LevelFor(tt.score); got != tt.want {
			t.Errorf("LevelFor(%d) = %s, want %s", tt.score, got, tt.want)
		}
	}
}

func TestScoreAddsUp(t *testing.T) {
	// Four independent high factors on one server reach critical without a critical factor.
	a := Assess(Input{ServerName: "x", Command: "npx -y @modelcontextprotocol/server-githb ~ /etc", EnvVars: []string{"GITHUB_TOKEN"}})
	if a.Level != Critical {
		t.Errorf("level = %s (score %d, factors %v), want critical from accumulation", a.Level, a.Score, factorIDs(a))
	}
	if empty := Assess(Input{}); empty.Factors == nil || empty.Level == "" {
		t.Errorf("empty input: %+v", empty)
	}
}
