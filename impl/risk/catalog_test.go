package risk

import (
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	entries := Catalog()
	if len(entries) < 60 {
		t.Fatalf("catalog has %d entries, want at least 60", len(entries))
	}
	official := 0
	for _, e := range entries {
		if e.Name == "" || e.Publisher == "" || e.Category == "" {
			t.Errorf("%s: name, publisher and category are required", e.ID)
		}
		if len(e.Packages) == 0 && len(e.Remotes) == 0 {
			t.Errorf("%s: neither packages nor remote hosts", e.ID)
		}
		if e.Capabilities == nil {
			t.Errorf("%s: capabilities is nil", e.ID)
		}
		if e.Official {
			official++
		}
	}
	if official < 15 {
		t.Errorf("only %d official reference servers", official)
	}
	// Catalog returns copies: callers (seed) cannot corrupt the index.
	entries[0].Packages[0] = "mutated"
	if Catalog()[0].Packages[0] == "mutated" {
		t.Error("Catalog shares slices with the index")
	}
}

func TestCatalogRejectsBadData(t *testing.T) {
	tests := []struct{ name, json, wantErr string }{
		{"unknown capability", `{"servers":[{"id":"a","packages":["a"],"capabilities":["root"]}]}`, "unknown capability"},
		{"duplicate id", `{"servers":[{"id":"a","packages":["a"]},{"id":"a","packages":["b"]}]}`, "duplicate id"},
		{"package in two entries", `{"servers":[{"id":"a","packages":["p"]},{"id":"b","packages":["P"]}]}`, "in both"},
	}
	for _, tt := range tests {
		if _, err := loadCatalog([]byte(tt.json)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct{ name, want string }{
		{"@modelcontextprotocol/server-filesystem", "filesystem"},
		{"MCP_SERVER_GIT", "git"},
		{"docker.io/mcp/fetch", "fetch"},
		{"mcp-atlassian[all]", "mcp-atlassian"},
	}
	for _, tt := range tests {
		e := catalog.lookupPackage(tt.name)
		if e == nil || e.ID != tt.want {
			t.Errorf("lookupPackage(%q) = %v, want %s", tt.name, e, tt.want)
		}
	}
	if e := catalog.lookupHost("bindings.mcp.cloudflare.com"); e == nil || e.ID != "cloudflare" {
		t.Errorf("subdomain lookup = %v", e)
	}
	if e := catalog.lookupHost("evilmcp.cloudflare.com.attacker.io"); e != nil {
		t.Errorf("suffix spoof matched %s", e.ID)
	}
	if e := catalog.lookupRepo("git+https://github.com/oraios/serena.git#main"); e == nil || e.ID != "serena" {
		t.Errorf("repo lookup = %v", e)
	}
}

func TestWithinOneEdit(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"server-github", "server-githb", true},
		{"server-github", "server-gihtub", true},
		{"server-github", "server-githubx", true},
		{"server-github", "server-gitlab", false},
		{"abc", "abc", true},
		{"abcd", "badc", false},
	}
	for _, tt := range tests {
		if got := withinOneEdit(tt.a, tt.b); got != tt.want {
			t.Errorf("withinOneEdit(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestAdvisoryRanges(t *testing.T) {
	postmark := Advisory{Introduced: "1.0.16", Malicious: true}
	remote := Advisory{Introduced: "0.0.5", Fixed: "0.1.16"}
	tests := []struct {
		name    string
		adv     Advisory
		version string
		pinned  bool
		want    bool
	}{
		{"malicious release", postmark, "1.0.16", true, true},
		{"later malicious release", postmark, "1.0.18", true, true},
		{"clean release before the backdoor", postmark, "1.0.15", true, false},
		{"unpinned with no fix resolves to a bad release", postmark, "", false, true},
		{"vulnerable pinned", remote, "0.1.15", true, true},
		{"fixed pinned", remote, "0.1.16", true, false},
		{"unpinned resolves to the fix", remote, "", false, false},
	}
	for _, tt := range tests {
		if got := tt.adv.affects(tt.version, tt.pinned); got != tt.want {
			t.Errorf("%s: affects = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClassifyPath(t *testing.T) {
	tests := []struct {
		path string
		want pathClass
	}{
		{"/", pathRoot}, {`C:\`, pathRoot}, {"D:/", pathRoot}, {"/mnt/c", pathRoot},
		{"~", pathHome}, {"~/", pathHome}, {"$HOME", pathHome}, {"/home/bob", pathHome}, {"/Users/alice/", pathHome},
		{`C:\Users\alice`, pathHome}, {"%USERPROFILE%", pathHome}, {"/home", pathHome}, {"/mnt/c/Users/alice", pathHome},
		{"~/.ssh", pathCredentials}, {"/Users/alice/.aws/credentials", pathCredentials}, {`C:\Users\a\.kube`, pathCredentials},
		{"~/.config/gcloud", pathCredentials}, {"/home/x/.gnupg", pathCredentials}, {"~/.docker", pathCredentials},
		{"/etc", pathSystem}, {"/var/log", pathSystem}, {"/usr/local", pathSystem}, {`C:\Windows\System32`, pathSystem},
		{"/Users/alice/src/app", pathProject}, {"./data", pathProject}, {`C:\work\repo`, pathProject}, {"/tmp/x", pathProject},
	}
	for _, tt := range tests {
		if got := classifyPath(tt.path); got != tt.want {
			t.Errorf("classifyPath(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestLooksSecret(t *testing.T) {
	secret := []string{"GITHUB_PERSONAL_ACCESS_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
		"AWS_PROFILE", "PGPASSWORD", "DATABASE_URL", "SLACK_BOT_TOKEN", "BW_SESSION", "OPENAPI_MCP_HEADERS", "GITHUB_PAT", "STRIPE_KEY"}
	notSecret := []string{"PATH", "HOME", "AWS_REGION", "GITHUB_TOOLSETS", "GITLAB_API_URL", "SLACK_TEAM_ID",
		"MEMORY_FILE_PATH", "FASTMCP_LOG_LEVEL", "NODE_ENV", "AWS_DOCUMENTATION_PARTITION", "JIRA_URL"}
	for _, n := range secret {
		if !looksSecret(n) {
			t.Errorf("looksSecret(%s) = false", n)
		}
	}
	for _, n := range notSecret {
		if looksSecret(n) {
			t.Errorf("looksSecret(%s) = true", n)
		}
	}
}

func TestInlineSecretsAreMasked(t *testing.T) {
	token := "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
	a := Assess(Input{ServerName: "gh", Command: "npx -y @modelcontextprotocol/server-github --token " + token})
	f := findFactor(a, RuleCredInline)
	if f == nil {
		t.Fatalf("no %s in %v", RuleCredInline, factorIDs(a))
	}
	for _, fa := range a.Factors {
		if strings.Contains(fa.Evidence, token) || strings.Contains(fa.Detail, token) {
			t.Errorf("factor %s leaks the token: %q", fa.ID, fa.Evidence)
		}
	}
	// Placeholders from READMEs are not live secrets.
	for _, cmd := range []string{
		"npx -y @stripe/mcp --api-key=${STRIPE_SECRET_KEY}",
		"npx -y @stripe/mcp --api-key=YOUR_STRIPE_SECRET_KEY",
		"npx -y @stripe/mcp --api-key=[REDACTED]",
	} {
		if f := findFactor(Assess(Input{Command: cmd}), RuleCredInline); f != nil {
			t.Errorf("%q: placeholder reported as live secret: %+v", cmd, f)
		}
	}
}
