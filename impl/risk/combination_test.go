package risk

import (
	"slices"
	"strings"
	"testing"
)

var (
	fetchServer    = Input{ServerName: "fetch", Command: "uvx mcp-server-fetch"}
	desktopCmd     = Input{ServerName: "desktop-commander", Command: "npx -y @wonderwhy-er/desktop-commander@latest"}
	filesystem     = Input{ServerName: "filesystem", Command: "npx -y @modelcontextprotocol/server-filesystem /Users/alice/src/app"}
	githubWithPAT  = Input{ServerName: "github", Command: "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server", EnvVars: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}}
	playwright     = Input{ServerName: "playwright", Command: "npx @playwright/mcp@latest"}
	slackWithToken = Input{ServerName: "slack", Command: "npx -y @modelcontextprotocol/server-slack", EnvVars: []string{"SLACK_BOT_TOKEN", "SLACK_TEAM_ID"}}
	timeServer     = Input{ServerName: "time", Command: "uvx mcp-server-time"}
	gmail          = Input{ServerName: "gmail", Command: "npx -y @gongrzhe/server-gmail-autoauth-mcp"}
)

// combinationCases pin the toxic-combination factor on whole agents.
var combinationCases = []struct {
	name   string
	agent  []Input
	levels []string
	ids    [][]string // combination-relevant ids expected on each server, in order
	names  []string   // server each one's combination factor must name ("" for none)
}{
	{"fetch with a shell runner raises fetch and names desktop-commander",
		[]Input{fetchServer, desktopCmd},
		[]string{High, Critical},
		[][]string{{RuleToxicCombination, RuleUntrustedInput}, {RuleToxicCombination, RuleExec}},
		[]string{"desktop-commander", "fetch"}},
	{"browser with a messaging server raises both",
		[]Input{playwright, slackWithToken},
		[]string{High, High},
		[][]string{{RuleToxicCombination, RuleBrowser}, {RuleToxicCombination, RuleMessaging}},
		[]string{"slack", "playwright"}},
	{"fetch with a credentialed GitHub server: GitHub can send data out",
		[]Input{fetchServer, githubWithPAT},
		[]string{High, High},
		[][]string{{RuleToxicCombination}, {RuleToxicCombination, RuleCredWrite}},
		[]string{"github", "fetch"}},
	{"fetch with a filesystem server is not a combination",
		[]Input{fetchServer, filesystem},
		[]string{Low, Medium},
		[][]string{{}, {RuleFSProject}},
		[]string{"", ""}},
	{"a lone GitHub server is not a combination with itself",
		[]Input{githubWithPAT},
		[]string{High},
		[][]string{{RuleCredWrite}},
		[]string{""}},
	{"email reading and sending in one server pairs with a shell runner",
		[]Input{gmail, timeServer, desktopCmd},
		[]string{High, Low, Critical},
		[][]string{{RuleToxicCombination, RuleMessaging}, {}, {RuleToxicCombination}},
		[]string{"desktop-commander", "", "gmail"}},
	{"fetch in Cursor and a shell runner in Claude Desktop: no session holds both",
		[]Input{in(fetchServer, "cursor", ""), in(desktopCmd, "claude-desktop", "")},
		[]string{Low, Critical},
		[][]string{{RuleUntrustedInput}, {RuleExec}},
		[]string{"", ""}},
	{"fetch and a shell runner in Cursor's own configuration: one session",
		[]Input{in(fetchServer, "cursor", ""), in(desktopCmd, "cursor", "")},
		[]string{High, Critical},
		[][]string{{RuleToxicCombination}, {RuleToxicCombination}},
		[]string{"desktop-commander", "fetch"}},
	{"fetch in one project and a shell runner in another project of the same client",
		[]Input{in(fetchServer, "claude-code", "/home/jane/src/site"), in(desktopCmd, "claude-code", "/home/jane/src/api")},
		[]string{Low, Critical},
		[][]string{{RuleUntrustedInput}, {RuleExec}},
		[]string{"", ""}},
	{"a project's fetch with the client's own shell runner: every session of that project has both",
		[]Input{in(fetchServer, "claude-code", "/home/jane/src/site"), in(desktopCmd, "claude-code", "")},
		[]string{High, Critical},
		[][]string{{RuleToxicCombination}, {RuleToxicCombination}},
		[]string{"desktop-commander", "fetch"}},
	{"an older agent that names no client: still one session",
		[]Input{fetchServer, in(desktopCmd, "cursor", "")},
		[]string{High, Critical},
		[][]string{{RuleToxicCombination}, {RuleToxicCombination}},
		[]string{"desktop-commander", "fetch"}},
}

// in places a server in a client's configuration, of a project or the client's own ("").
func in(s Input, client, project string) Input {
	s.Client, s.Project = client, project
	return s
}

func TestAssessAllCombinations(t *testing.T) {
	for _, tt := range combinationCases {
		t.Run(tt.name, func(t *testing.T) {
			got := AssessAll(tt.agent)
			if len(got) != len(tt.agent) {
				t.Fatalf("got %d assessments for %d servers", len(got), len(tt.agent))
			}
			for i, a := range got {
				checkAssessmentShape(t, a)
				if a.Level != tt.levels[i] {
					t.Errorf("%s: level = %s (score %d, %v), want %s", tt.agent[i].ServerName, a.Level, a.Score, factorIDs(a), tt.levels[i])
				}
				ids := factorIDs(a)
				for _, want := range tt.ids[i] {
					if !slices.Contains(ids, want) {
						t.Errorf("%s: factors %v lack %s", tt.agent[i].ServerName, ids, want)
					}
				}
				combo := findFactor(a, RuleToxicCombination)
				switch {
				case tt.names[i] == "" && combo != nil:
					t.Errorf("%s: unexpected combination %+v", tt.agent[i].ServerName, combo)
				case tt.names[i] != "" && combo == nil:
					t.Errorf("%s: no combination factor", tt.agent[i].ServerName)
				case combo != nil && !strings.Contains(combo.Evidence, tt.names[i]):
					t.Errorf("%s: combination evidence %q does not name %s", tt.agent[i].ServerName, combo.Evidence, tt.names[i])
				}
			}
		})
	}
}

func TestAssessAllMatchesAssessWithoutCombinations(t *testing.T) {
	var agent []Input
	for _, tt := range assessCases[:20] {
		agent = append(agent, tt.in)
	}
	all := AssessAll(agent)
	for i, in := range agent {
		one := Assess(in)
		if findFactor(all[i], RuleToxicCombination) == nil && (all[i].Score != one.Score || !slices.Equal(factorIDs(all[i]), factorIDs(one))) {
			t.Errorf("%s: AssessAll %v differs from Assess %v", in.ServerName, factorIDs(all[i]), factorIDs(one))
		}
	}
	if got := AssessAll(nil); len(got) != 0 {
		t.Errorf("AssessAll(nil) = %v", got)
	}
}

func findFactor(a Assessment, id string) *Factor {
	for i := range a.Factors {
		if a.Factors[i].ID == id {
			return &a.Factors[i]
		}
	}
	return nil
}

// BenchmarkAssessAll10 scores a typical 10-server report from one agent.
func BenchmarkAssessAll10(b *testing.B) {
	agent := []Input{
		filesystem, githubWithPAT, fetchServer, playwright, slackWithToken, timeServer, gmail,
		{ServerName: "postgres", Command: "npx -y @modelcontextprotocol/server-postgres postgresql://app:[REDACTED]@db.internal:5432/prod"},
		{ServerName: "weather", Command: "npx -y @acme/weather-mcp", EnvVars: []string{"WEATHER_API_KEY"}},
		{ServerName: "linear", Transport: "sse", URL: "https://mcp.linear.app/sse"},
	}
	b.ReportAllocs()
	for b.Loop() {
		AssessAll(agent)
	}
}
