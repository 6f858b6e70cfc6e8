package redact

import (
	"regexp"
	"strings"
	"testing"
)

// Fake credentials in their real formats; none of them is live.
const (
	ghp    = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
	awsKey = "AKIAIOSFODNN7EXAMPLE"
	jwt    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Must stay as they are.
		{"plain npx package", "npx -y @modelcontextprotocol/server-github", "npx -y @modelcontextprotocol/server-github"},
		{"filesystem paths", "npx -y @modelcontextprotocol/server-filesystem /Users/jane/Desktop /tmp", "npx -y @modelcontextprotocol/server-filesystem /Users/jane/Desktop /tmp"},
		{"port flag", "mcp-proxy --port 8080 --host 0.0.0.0", "mcp-proxy --port 8080 --host 0.0.0.0"},
		{"docker port mapping", "docker run -p 8080:80 -i --rm mcp/fetch", "docker run -p 8080:80 -i --rm mcp/fetch"},
		{"npx -p package", "npx -y -p @playwright/mcp playwright-mcp", "npx -y -p @playwright/mcp playwright-mcp"},
		{"uvx python version", "uvx -p 3.12 mcp-server-git --repository /src/repo", "uvx -p 3.12 mcp-server-git --repository /src/repo"},
		{"env name passed through", "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server", "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN ghcr.io/github/github-mcp-server"},
		{"harmless env assignment", "env TOKENIZERS_PARALLELISM=false LOG_LEVEL=debug python -m server", "env TOKENIZERS_PARALLELISM=false LOG_LEVEL=debug python -m server"},
		{"token file flag", "server --token-file /run/secrets/gh --key-path ~/.ssh/id", "server --token-file /run/secrets/gh --key-path ~/.ssh/id"},
		{"token url flag", "server --token-url https://auth.example.com/oauth/token", "server --token-url https://auth.example.com/oauth/token"},
		{"boolean auth switch", "server --no-auth /srv/data", "server --no-auth /srv/data"},
		{"remote url", "https://mcp.example.com/sse", "https://mcp.example.com/sse"},
		{"url with user only", "https://git@github.com/org/repo.git", "https://git@github.com/org/repo.git"},
		{"harmless query", "https://api.example.com/mcp?region=eu&format=json", "https://api.example.com/mcp?region=eu&format=json"},
		{"sk- word without digits", "npx desk-mcp-server-for-everything-everywhere", "npx desk-mcp-server-for-everything-everywhere"},
		{"placeholder", "server --token ${GITHUB_TOKEN} --api-key $OPENAI_API_KEY", "server --token ${GITHUB_TOKEN} --api-key $OPENAI_API_KEY"},
		{"windows path", `C:\Program Files\nodejs\npx.cmd -y @modelcontextprotocol/server-filesystem C:\Users\jane\Documents`, `C:\Program Files\nodejs\npx.cmd -y @modelcontextprotocol/server-filesystem C:\Users\jane\Documents`},
		{"empty", "", ""},

		// Must be redacted.
		{"postgres password", "npx -y @modelcontextprotocol/server-postgres postgres://u:hunter2pass@db/x", "npx -y @modelcontextprotocol/server-postgres postgres://u:[REDACTED]@db/x"},
		{"password with at sign", "mongodb+srv://admin:p@ss@cluster0.mongodb.net/db", "mongodb+srv://admin:[REDACTED]@cluster0.mongodb.net/db"},
		{"redis password", "redis://:s3cr3t@localhost:6379/0", "redis://:[REDACTED]@localhost:6379/0"},
		{"token equals", "server --token=abc123def", "server --token=[REDACTED]"},
		{"token space", "server --token abc123def --port 3000", "server --token [REDACTED] --port 3000"},
		{"api key", "server --api-key sk_abc_123 --verbose", "server --api-key [REDACTED] --verbose"},
		{"api_key underscore", "server --api_key=xyz", "server --api_key=[REDACTED]"},
		{"password flag", "server --password hunter2", "server --password [REDACTED]"},
		{"secret flag", "server --client-secret=s3cr3tvalue", "server --client-secret=[REDACTED]"},
		{"auth flag", "server --auth user:pass", "server --auth [REDACTED]"},
		{"go style flag", "server -token abc -addr :8080", "server -token [REDACTED] -addr :8080"},
		{"secret flag before flag keeps flag", "server --token --verbose", "server --token --verbose"},
		{"mysql attached password", "mysql -u root -phunter2 -h db", "mysql -u root -p[REDACTED] -h db"},
		{"sshpass", "sshpass -p hunter2 ssh host", "sshpass -p [REDACTED] ssh host"},
		{"redis-cli auth", "redis-cli -h cache -a hunter2", "redis-cli -h cache -a [REDACTED]"},
		{"env assignment", "GITHUB_TOKEN=abc123 npx server", "GITHUB_TOKEN=[REDACTED] npx server"},
		{"docker env with value", "docker run -e API_KEY=abc123 -e LOG=1 img", "docker run -e API_KEY=[REDACTED] -e LOG=1 img"},
		{"aws secret assignment", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 ls", "AWS_SECRET_ACCESS_KEY=[REDACTED] aws s3 ls"},
		{"query token", "https://mcp.example.com/sse?token=abc123&region=eu", "https://mcp.example.com/sse?token=[REDACTED]&region=eu"},
		{"query api_key", "https://api.example.com/mcp?api_key=abc&apiKey=def", "https://api.example.com/mcp?api_key=[REDACTED]&apiKey=[REDACTED]"},
		{"query access_token", "wss://x.example.com/ws?access_token=abc", "wss://x.example.com/ws?access_token=[REDACTED]"},
		{"aws access key", "aws --access " + awsKey, "aws --access [REDACTED]"},
		{"github pat classic", "server " + ghp, "server [REDACTED]"},
		{"github oauth", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED]"},
		{"github app", "x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a", "x-access-token:[REDACTED]"},
		{"github fine grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV", "[REDACTED]"},
		{"gitlab", "glpat-xxxxxxxxxxxxxxxxxxxx", "[REDACTED]"},
		{"slack bot", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[REDACTED]"},
		{"slack webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "https://[REDACTED]"},
		{"openai", "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "[REDACTED]"},
		{"openai project", "OPENAI=sk-proj-Ab3dEfGhIjKlMnOpQrStUvWx_yz-0123456789", "OPENAI=[REDACTED]"},
		{"anthropic", "--header x:sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345-ABCDEF", "--header x:[REDACTED]"},
		{"stripe live", "sk_live_51H8abcdefghijklmnop", "[REDACTED]"},
		{"stripe restricted", "rk_live_51H8abcdefghijklmnop", "[REDACTED]"},
		{"google", "AIzaSyA-abcdefghijklmnopqrstuvwxyz12345", "[REDACTED]"},
		{"mcpwarden key", "mcpwarden-agent run --key mcp_sk_0123456789abcdef", "mcpwarden-agent run --key [REDACTED]"},
		{"mcpwarden key anywhere", "X=mcp_sk_0123456789abcdef", "X=[REDACTED]"},
		{"jwt", "curl " + jwt, "curl [REDACTED]"},
		{"bearer header quoted", `curl -H "Authorization: Bearer abc.def.ghi" https://x`, `curl -H "Authorization: Bearer [REDACTED]" https://x`},
		{"bearer header args", "mcp-remote https://x/sse --header Authorization: Bearer abcdef123", "mcp-remote https://x/sse --header Authorization: Bearer [REDACTED]"},
		{"header without space", "mcp-remote https://x/sse --header Authorization:${AUTH_HEADER}", "mcp-remote https://x/sse --header Authorization:${AUTH_HEADER}"},
		{"api key header", "--header X-API-Key:abc123", "--header X-API-Key:[REDACTED]"},
		{"huggingface", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "[REDACTED]"},
		{"npm token", "npm_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"},
		{"basic auth value", "Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"},
		{"quoted multiword secret", `server --password "correct horse battery"`, `server --password "[REDACTED]"`},
		{"already redacted", "postgres://u:[REDACTED]@db/x --token [REDACTED]", "postgres://u:[REDACTED]@db/x --token [REDACTED]"},
		{"whitespace kept", "  a  --token\tx ", "  a  --token\t[REDACTED] "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Command(tt.in)
			if got != tt.want {
				t.Errorf("Command(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Command(got); again != got {
				t.Errorf("Command is not idempotent: %q → %q", got, again)
			}
		})
	}
}

func TestArgsKeepsSpacesInsideArguments(t *testing.T) {
	got := Args([]string{"mcp-remote", "https://x/mcp", "--header", "Authorization: Bearer " + ghp, "--token", "two words"})
	want := []string{"mcp-remote", "https://x/mcp", "--header", "Authorization: Bearer [REDACTED]", "--token", "[REDACTED]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValue(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"GITHUB_TOKEN", ghp, Mask},
		{"LOG_LEVEL", "debug", Mask},
		{"Authorization", "Bearer x", Mask},
		{"EMPTY", "", ""},
	}
	for _, tt := range tests {
		if got := Value(tt.name, tt.value); got != tt.want {
			t.Errorf("Value(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

func TestLooksSecretName(t *testing.T) {
	secret := []string{
		"GITHUB_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "OPENAI_API_KEY", "api-key", "apiKey", "xApiKey",
		"OpenAIKey", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "DB_PASSWORD", "DB_PASS", "PGPASSWORD",
		"client_secret", "Authorization", "X-API-Key", "SLACK_BOT_TOKEN", "auth", "token", "passwd",
		"SENTRY_DSN", "AZURE_STORAGE_CONNECTION_STRING", "sessionToken", "access_token", "sig", "X-Amz-Signature",
		"private_key", "NPM_AUTH_TOKEN", "BRAVE_API_KEY", "key",
	}
	plain := []string{
		"PATH", "HOME", "LOG_LEVEL", "PORT", "TOKENIZERS_PARALLELISM", "keyboard", "DATABASE_URL", "token_file",
		"TOKEN_URL", "AUTH_TYPE", "password-file", "GITHUB_HOST", "NODE_ENV", "ALLOWED_DIRECTORIES",
		"no-auth", "monkey", "passthrough", "region", "",
	}
	for _, n := range secret {
		if !LooksSecretName(n) {
			t.Errorf("LooksSecretName(%q) = false, want true", n)
		}
	}
	for _, n := range plain {
		if LooksSecretName(n) {
			t.Errorf("LooksSecretName(%q) = true, want false", n)
		}
	}
}

// TestEveryPatternHasAPrefilter: each pattern scrub runs is skipped unless one of the literals
// its matches must contain is present, which is what keeps redaction cheap.
func TestEveryPatternHasAPrefilter(t *testing.T) {
	for i, f := range keyFilters {
		if len(f.lits) == 0 {
			t.Errorf("pattern %s has no prefilter", keyPatterns[i])
		}
	}
	for name, f := range map[string]prefilter{"openAIKey": openAIKeyFilter, "urlPassword": urlPasswordFilter, "queryParam": queryParamFilter, "authScheme": authSchemeFilter} {
		if len(f.lits) == 0 {
			t.Errorf("%s has no prefilter", name)
		}
	}
}

// TestPrefilterNeverHidesAMatch runs every pattern on inputs with and without the prefilter.
func TestPrefilterNeverHidesAMatch(t *testing.T) {
	inputs := []string{
		"AKIAIOSFODNN7EXAMPLE", "ghp_R7x2Lq9ZtW4mN8vB3cK6yH1jP5sD0fG2aE7u", "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
		"https://user:pa55@host/x?token=abc&x=1", "BEARER abcdefghijklmnopqrstuvwxyz", "Basic dXNlcjpwYXNz", "baſic dXNlcjpwYXNz",
		"sk_live_abcdefghij1234", "-----BEGIN RSA PRIVATE KEY-----abc", "sk-proj-abcdefghijklmnopqrstuvwxyz123", "npx -y server /home/dev",
		"eyJhbGciOi.eyJzdWIiOi.abcdefghij", "ya29.abcdefghijklmnopqrstuvwxyz",
	}
	all := append(append([]*regexp.Regexp{}, keyPatterns...), openAIKey, urlPassword, queryParam, authScheme)
	filters := append(append([]prefilter{}, keyFilters...), openAIKeyFilter, urlPasswordFilter, queryParamFilter, authSchemeFilter)
	for i, re := range all {
		for _, in := range inputs {
			lower := func() string { return strings.ToLower(in) }
			if re.MatchString(in) && !filters[i].mayMatch(in, lower) {
				t.Errorf("prefilter of %s rules out %q, which it matches", re, in)
			}
		}
	}
}

// benchCommands are the commands of a changed report from the load generator (each ending in a
// new --profile), plus a few that carry a real secret.
var benchCommands = []string{
	"npx -y @modelcontextprotocol/server-filesystem /home/dev/projects --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-github --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-postgres postgresql://localhost/app --profile abc-12-3",
	"uvx mcp-server-git --repository /home/dev/projects/app --profile abc-12-3",
	"uvx mcp-server-fetch --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-memory --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-puppeteer --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-slack --profile abc-12-3",
	"uvx mcp-server-sqlite --db-path /home/dev/data.db --profile abc-12-3",
	"https://mcp.example.com/mcp --profile abc-12-3",
	"npx -y @modelcontextprotocol/server-postgres postgres://app:hunter2pass@db.internal/app",
	"docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN=" + ghp + " ghcr.io/github/github-mcp-server",
	`mcp-remote https://mcp.example.com/sse --header "Authorization: Bearer ` + jwt + `"`,
}

// BenchmarkCommand redacts the commands of realistic reports, most of them without secrets.
func BenchmarkCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range benchCommands {
			Command(c)
		}
	}
}

// BenchmarkCommandPrefilter redacts the commands of BenchmarkCommand with the prefilters, as
// Command does, and running every pattern on every argument instead, side by side.
func BenchmarkCommandPrefilter(b *testing.B) {
	for _, c := range benchCommands {
		skipFormats = true
		want := Command(c)
		scrubEveryPattern = true
		got := Command(c)
		scrubEveryPattern, skipFormats = false, false
		if got != want {
			b.Fatalf("Command(%q) = %q with every pattern, %q with the prefilters", c, got, want)
		}
	}
	for _, mode := range []struct {
		name        string
		every, skip bool
	}{{"prefilter", false, false}, {"without_rule_files", false, true}, {"every_pattern", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			scrubEveryPattern, skipFormats = mode.every, mode.skip
			defer func() { scrubEveryPattern, skipFormats = false, false }()
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range benchCommands {
					Command(c)
				}
			}
		})
	}
}

// TestCommandsThatOncePanicked (or lost a letter): urlPassword's \b matched before ſ (which (?i)[a-z] takes) inside
// a command but not at the start of the match alone, and the second search found nothing.
func TestCommandsThatOncePanicked(t *testing.T) {
	if got, want := Command("-ymcp_sk_\u212ahttps://eyJu:p@authtoken{env: KEY"), "-ymcp_sk_\u212ahttps://eyJu:"+Mask+"@authtoken{env: KEY"; got != want {
		t.Errorf("Command kept %q, want %q (the Kelvin sign stays, the password goes)", got, want)
	}
	for _, c := range []string{"3ſ34b+://İU:P@h", "3ſcheme://user:hunter2secret@db.internal/app"} {
		got := Command(c)
		if strings.Contains(got, "P@h") && strings.HasSuffix(c, "P@h") || strings.Contains(got, "hunter2secret") || strings.Contains(got, "longpassword") {
			t.Errorf("Command(%q) = %q: the password is still there", c, got)
		}
	}
}
