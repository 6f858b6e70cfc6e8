package risk

//go:generate go test -run TestRulesDocIsCurrent -update-docs .

// Severities, most severe first.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
)

// Rule ids. They are stable: alerts, filters and suppressions refer to them.
const (
	RuleExec             = "MCPW-CAP-EXEC"
	RuleSecretStore      = "MCPW-CAP-SECRETS"
	RuleCloudAdmin       = "MCPW-CAP-CLOUD-ADMIN"
	RuleBrowser          = "MCPW-CAP-BROWSER"
	RuleDBWrite          = "MCPW-CAP-DB-WRITE"
	RuleMessaging        = "MCPW-CAP-MESSAGING"
	RuleUntrustedInput   = "MCPW-CAP-UNTRUSTED-INPUT"
	RuleFSRoot           = "MCPW-FS-ROOT"
	RuleFSCredentials    = "MCPW-FS-CREDENTIALS"
	RuleFSHome           = "MCPW-FS-HOME"
	RuleFSSystem         = "MCPW-FS-SYSTEM"
	RuleFSProject        = "MCPW-FS-PROJECT"
	RuleCredInline       = "MCPW-CRED-INLINE"
	RuleCredWrite        = "MCPW-CRED-WRITE"
	RuleCredRead         = "MCPW-CRED-READ"
	FactorMalicious      = "MCPW-SC-MALICIOUS"
	RulePipeToShell      = "MCPW-SC-PIPE-SHELL"
	RuleTyposquat        = "MCPW-SC-TYPOSQUAT"
	RuleURLSource        = "MCPW-SC-URL-SOURCE"
	RuleVulnerable       = "MCPW-SC-VULNERABLE"
	RuleUnpinnedUnknown  = "MCPW-SC-UNPINNED-UNKNOWN"
	RuleUnpinned         = "MCPW-SC-UNPINNED"
	RuleArchived         = "MCPW-SC-ARCHIVED"
	RulePrivileged       = "MCPW-CTR-PRIVILEGED"
	RuleHostNetwork      = "MCPW-CTR-HOST-NETWORK"
	RuleDockerSocket     = "MCPW-CTR-DOCKER-SOCKET"
	RuleRootMount        = "MCPW-CTR-ROOT-MOUNT"
	RulePlaintext        = "MCPW-NET-PLAINTEXT"
	RuleTunnel           = "MCPW-NET-TUNNEL"
	RuleUnknownHost      = "MCPW-NET-UNKNOWN-HOST"
	RuleVendorEndpoint   = "MCPW-NET-VENDOR"
	RuleUnknownServer    = "MCPW-CAT-UNKNOWN"
	RuleOfficial         = "MCPW-CAT-OFFICIAL"
	RuleKnownThirdParty  = "MCPW-CAT-THIRD-PARTY"
	RuleToxicCombination = "MCPW-COMBO-TOXIC"
	RuleRunAsRoot        = "MCPW-EXEC-ROOT"
	RuleDecodeAndRun     = "MCPW-EXEC-DECODE"
	RuleRemoteCode       = "MCPW-EXEC-REMOTE-CODE"
	RuleTempDirProgram   = "MCPW-EXEC-TEMP-DIR"
	RuleCodeRunner       = "MCPW-EXEC-CODE-RUNNER"
	RuleDBReadOnly       = "MCPW-CAP-DB-READONLY"
)

// Rule is one line of the rule table: docs/risk-rules.md is generated from it
// and every factor's title and detail come from it, so the two cannot drift.
type Rule struct {
	ID       string
	Severity string
	Title    string
	Trigger  string // what in a configuration sets it off
	Why      string // what can go wrong
	Fix      string // what to do about it
}

// rules is the rule table, grouped by family.
var rules = []Rule{
	{RuleExec, Critical, "Runs commands on the machine",
		"The catalog tags the server `exec` (shells, command runners, desktop automation, code runners), its package name says shell/terminal/command/exec, or Deno is started with `--allow-run` or `-A`.",
		"Any prompt injection that reaches the agent becomes arbitrary code execution with the user's rights: reading keys, installing malware, moving laterally.",
		"Remove it unless it is essential; otherwise restrict it to an allow-list of commands, run it in a container or VM, and require confirmation for every call."},
	{RuleRunAsRoot, Critical, "Runs as root or administrator",
		"The launch goes through `sudo`, `doas`, `pkexec`, `su -c`, `gsudo`, `runas` or `Start-Process -Verb RunAs`, at any depth of shell wrappers.",
		"The server and every command an injected instruction makes it run have full control of the machine: system files, other users' data, security tools, persistence.",
		"Run the server as the user; if it needs one privileged operation, grant that operation alone (a sudoers rule for one command, a group membership)."},
	{RuleDecodeAndRun, Critical, "Decodes and runs a hidden payload",
		"A wrapper decodes text and runs it (`echo … | base64 -d | sh`, `eval \"$(… | base64 --decode)\"`, `xxd -r`, `certutil -decode`), PowerShell is given `-EncodedCommand`/`-enc`, or inline code decodes base64 and passes it to `exec`/`eval`.",
		"Encoding hides what runs from the user and from review; legitimate servers have no reason to do it, malware droppers do.",
		"Remove the server and find out who added it; decode the payload in a sandbox to see what it did, and rotate credentials it could reach."},
	{RuleRemoteCode, Critical, "Runs interpreter code fetched from the network",
		"The server is code written in the configuration (`python -c`, `node -e`, `deno eval`, `perl -e`, `ruby -e`, `php -r`) that downloads something: a URL, `urlopen`, `requests`, `fetch(`, `https.get`, `DownloadString`.",
		"Whoever controls that URL runs code on the machine at every launch, without a package, a version or a review; it is the download-and-run of a pipe to a shell in one line.",
		"Install the server from a package manager with a pinned version, or vendor a reviewed script and run that file."},
	{RuleTempDirProgram, Critical, "Runs a program from a temporary or world-writable folder",
		"The program or script started lies under `/tmp`, `/var/tmp`, `/dev/shm`, `/private/tmp`, `/var/folders`, `/Users/Shared`, `%TEMP%`, `C:\\Windows\\Temp` or `C:\\Users\\Public`.",
		"Any local user or process can write there, and temporary folders are where downloads and droppers land: what runs can be swapped between launches.",
		"Install the server in a folder only the user can write (or a package manager's), and point the client at that."},
	{RuleCodeRunner, Critical, "General-purpose code runner",
		"The catalog files the server as a code runner or notebook kernel, or its package name says it runs code (`code-runner`, `run-python`, `interpreter`, `repl`, `jupyter`).",
		"Its purpose is to run whatever code the agent writes: any prompt injection becomes code execution with the user's rights.",
		"Use a runner that executes in a disposable sandbox (container, VM, WebAssembly) without the user's files or credentials, and require confirmation for each run."},
	{RuleSecretStore, High, "Reads a secret store",
		"The catalog tags the server `secrets`: password managers and secret vaults.",
		"Every secret the store holds is one tool call away from the agent, and from any instruction injected into it.",
		"Give it a dedicated vault or collection holding only what the agent needs, with read-only access."},
	{RuleCloudAdmin, High, "Administers cloud or cluster resources",
		"The catalog tags the server `cloud-admin`: cloud provider APIs, Kubernetes, Terraform, container engines, hosting platforms.",
		"With the user's cloud identity the agent can create, change or delete infrastructure and read the data in it.",
		"Use a read-only role or a sandbox account/cluster context; never point it at production with admin rights."},
	{RuleBrowser, Medium, "Drives a web browser",
		"The catalog tags the server `browser`: Playwright, Puppeteer, Chrome DevTools, hosted browsers.",
		"Every page visited can carry instructions for the agent, and a browser with the user's profile acts with their logged-in sessions.",
		"Use an isolated browser profile without saved sessions, and avoid pairing it with servers that can act (see MCPW-COMBO-TOXIC)."},
	{RuleDBWrite, Medium, "Can modify a database",
		"The catalog tags the server `db-write`: database servers that run arbitrary queries or mutations.",
		"An injected or mistaken query can delete or corrupt data, or read tables the task never needed.",
		"Connect with a read-only database user, on a copy or a non-production database."},
	{RuleDBReadOnly, Low, "Database server in read-only mode",
		"A server the catalog tags `db-write` is started read-only: `--read-only`, `--readonly`, `--access-mode=restricted`, or a connection option (`readonly=true`, `mode=ro`, `default_transaction_read_only=on`, `ApplicationIntent=ReadOnly`); it replaces MCPW-CAP-DB-WRITE, and credentials given to it count as read-only unless the catalog says the server writes to the account otherwise.",
		"The agent can still read every table the connection opens, and a server's read-only switch is only as good as its implementation; the database user's own rights are the real limit.",
		"Keep the mode, and connect with a database user that has read-only grants as well."},
	{RuleMessaging, Medium, "Sends messages as the user",
		"The catalog tags the server `messaging`: email, chat and SMS servers.",
		"Messages go out under the user's name: a ready channel to exfiltrate data or phish colleagues.",
		"Limit it to reading, or require confirmation before anything is sent."},
	{RuleUntrustedInput, Low, "Reads content written by others",
		"The catalog tags the server `untrusted-input`: web fetchers, search, issue trackers, email, shared documents.",
		"Content from outsiders is where prompt injection comes from; on its own it is a source, not an action.",
		"Keep servers that can act (exec, messaging, credentials) off the same agent, or require confirmation."},
	{RuleFSRoot, Critical, "Whole filesystem exposed",
		"A scope, argument or permission is a filesystem root: `/`, `C:\\`, another drive root, or `/mnt/c`.",
		"The server can read (and if it writes, change) every file the user can: SSH keys, browser profiles, cloud credentials, other users' shared data.",
		"Give the server only the project directories it needs."},
	{RuleFSCredentials, Critical, "Credential store exposed",
		"A scope or argument points into a credential store: `.ssh`, `.aws`, `.kube`, `.gnupg`, `.docker`, `.config/gcloud`, `.azure`, `.netrc`, `.npmrc`, `.git-credentials`, a keychain.",
		"Keys and tokens in these directories open servers, cloud accounts and registries; one injected read sends them to an attacker.",
		"Remove the directory from the server's scope; let the tools that need those credentials read them directly."},
	{RuleFSHome, High, "Whole home directory exposed",
		"A scope or argument is a home directory (`~`, `$HOME`, `/home/x`, `/Users/x`, `C:\\Users\\x`) or the directory of all homes.",
		"A home holds credential stores, shell profiles (a write to `.bashrc` is code execution), mail and browser data; the server reaches all of it.",
		"Replace the home directory by the specific project directories the server needs."},
	{RuleFSSystem, High, "System directory exposed",
		"A scope or argument is a system directory: `/etc`, `/var`, `/usr`, `/bin`, `/opt`, `/Library`, `/System`, `C:\\Windows`, `C:\\Program Files`, `C:\\ProgramData`.",
		"System configuration and service data leak host secrets, and a writable system directory lets the server tamper with the machine.",
		"Scope the server to the exact files it needs, read-only where possible."},
	{RuleFSProject, Medium, "Project directory exposed",
		"A server that reads or writes files (or an unknown one) is given a specific directory or file outside the cases above.",
		"Source code, `.env` files and data in the directory are readable by the agent and whatever injects instructions into it; writes can plant code.",
		"Keep the scope to one project, without secrets in it; prefer read-only access when the server offers it."},
	{RuleCredInline, High, "Live secret in the command line",
		"The command line holds something that looks like a live credential: a known key format (`ghp_`, `sk-`, `xoxb-`, `AKIA`...), a `--token=`/`--api-key` value, a password in a URL, a secret `-e NAME=value`.",
		"Command lines are visible to every local process, end up in shell history, logs, crash reports and synced dotfiles, and were not redacted by the agent.",
		"Rotate the credential now, then pass it through an environment variable or the client's secret input instead of the arguments."},
	{RuleCredWrite, High, "Credentials that can change an account",
		"Secret-looking environment variable names (`*_TOKEN`, `*_SECRET`, `*_KEY`, `*PASSWORD*`, `AWS_*`, `GITHUB_*`, connection strings) or a redacted credential in the command, given to a server the catalog says can write to or administer what they open (source hosting, cloud, databases, messaging, payments).",
		"An injected instruction can push code, delete data, send messages or move money with the user's identity; the blast radius is the token's scope.",
		"Use a fine-grained, read-only or short-lived token with the least scopes, on a dedicated account where possible."},
	{RuleCredRead, Medium, "Credentials handed to the server",
		"Secret-looking environment variable names or a redacted credential in the command, given to a server not known to write with them.",
		"The server and anything that controls it can use the credential; if it leaks, whatever it opens is exposed.",
		"Use a scoped, revocable key for this server only, and rotate it when the server is removed."},
	{FactorMalicious, Critical, "Known-malicious package",
		"The package and version match the known-malicious list: malware and packages impersonating a vendor, flagged at every version (for example `postmark-mcp`, not published by Postmark, which from 1.0.16 BCC'd every email to an attacker).",
		"The code is hostile: it steals data or credentials whenever it runs.",
		"Remove the server at once, rotate every credential it was given, and review what it had access to."},
	{RulePipeToShell, Critical, "Downloads and runs a script",
		"A wrapper pipes a download into an interpreter: `curl … | sh`, `wget … | bash`, `sh -c \"$(curl …)\"`, `irm … | iex`.",
		"Whoever controls that URL (or the network path to it) runs code on the machine at every launch, unpinned and unreviewed.",
		"Install the server from a package manager with a pinned version, or vendor a reviewed script."},
	{RuleTyposquat, High, "Name one edit away from a known package",
		"The package is not in the catalog but is within one edit (a letter added, dropped, changed or swapped) of a catalog package.",
		"Typosquats imitate popular MCP servers to be installed by mistake; they usually behave like the original while stealing data.",
		"Check the publisher; replace it by the catalog package it resembles if that was the intent."},
	{RuleURLSource, High, "Code fetched from a git or URL source",
		"The package comes from `git+https://…`, `github:user/repo`, a tarball or a raw URL (`npx`, `uvx --from`, `deno run https://…`).",
		"Git branches and URLs are mutable and bypass registry malware scanning and provenance; whoever can push there runs code on the machine.",
		"Pin the source to a commit hash you have reviewed, or use a published, pinned package."},
	{RuleVulnerable, High, "Known-vulnerable version",
		"The pinned version is in the range of a published vulnerability for the package.",
		"A public exploit path exists for this version (sandbox escape, command injection).",
		"Upgrade to the fixed version named in the factor."},
	{RuleUnpinnedUnknown, High, "Unknown package run without a pinned version",
		"A package that is not in the catalog is fetched at launch without a fixed version (`npx -y pkg`, `uvx pkg`, `@latest`, image without tag).",
		"Every launch runs whatever was last published by an unvetted author; a compromised or sold package reaches the machine silently.",
		"Review the package, then pin an exact version (`pkg@1.2.3`, `pkg==1.2.3`, an image digest)."},
	{RuleUnpinned, Low, "Package run without a pinned version",
		"A catalog package is fetched at launch without a fixed version. Nearly every published configuration does this, hence the low severity.",
		"A compromised release of even a well-known package would run on the next launch.",
		"Pin an exact version and update deliberately."},
	{RuleArchived, Low, "Archived reference server",
		"The catalog marks the server as an archived reference implementation (moved to modelcontextprotocol/servers-archived).",
		"Archived servers receive no security fixes; known issues stay open.",
		"Move to the maintained server named in the catalog or by the vendor."},
	{RulePrivileged, Critical, "Privileged container",
		"`docker run`/`podman run` with `--privileged`, `--cap-add ALL` or `SYS_ADMIN`, `--pid host`, or an unconfined seccomp/AppArmor profile.",
		"A privileged container is root on the host: the container boundary no longer protects anything.",
		"Drop the flag; add only the specific capability the server documents as needed."},
	{RuleHostNetwork, Critical, "Container on the host network",
		"`--network host` (or `--net=host`).",
		"The server reaches every local service (databases, cloud metadata, admin interfaces bound to localhost) and can listen on host ports.",
		"Use the default bridge network and publish only the ports needed."},
	{RuleDockerSocket, Critical, "Docker socket mounted",
		"A mount of `/var/run/docker.sock` (or the Windows `docker_engine` pipe).",
		"The Docker API is root on the host: the server can start a privileged container that mounts `/`.",
		"Do not mount the socket; if the server must manage containers, use a socket proxy limited to read-only calls."},
	{RuleRootMount, Critical, "Host root mounted into the container",
		"A volume or bind mount whose host side is `/` or a drive root.",
		"The whole host filesystem is inside the container, defeating the isolation the container was meant to give.",
		"Mount only the project directories the server needs, read-only where possible."},
	{RulePlaintext, High, "Remote server over plain HTTP",
		"A remote server URL uses `http://` (or `ws://`) to a host that is not loopback.",
		"Requests, responses and bearer tokens cross the network unencrypted; anyone on the path can read them or inject tool results.",
		"Use the server's HTTPS endpoint."},
	{RuleTunnel, High, "Remote server behind a tunnelling service",
		"The remote URL is on a tunnelling service: ngrok, localtunnel, trycloudflare, serveo, localhost.run, pinggy, bore, dev tunnels.",
		"Tunnel URLs are ephemeral and anonymous: whoever runs the other end is unaccountable, and the hostname can be reassigned to someone else.",
		"Connect to a stable, owned HTTPS endpoint, or run the server locally."},
	{RuleUnknownHost, Medium, "Remote server on an unknown domain",
		"A remote server URL whose host is not a known vendor endpoint in the catalog.",
		"The operator can change the tools and their descriptions at any time, and sees everything the agent sends.",
		"Check who operates the domain; prefer vendor-operated endpoints."},
	{RuleVendorEndpoint, Low, "Known vendor's remote endpoint",
		"A remote server URL over HTTPS on a host the catalog lists for its publisher.",
		"The vendor is accountable, but the agent's access is that of the account used to authorise it.",
		"Authorise it with the least-privileged account and scopes."},
	{RuleUnknownServer, Medium, "Unknown server",
		"Neither the package, the image, the source repository nor the remote host is in the catalog.",
		"Nothing is known about what the server can do or who maintains it; it runs with the user's rights.",
		"Review the code and its publisher, then pin it; ask for it to be added to the catalog."},
	{RuleOfficial, Low, "Official reference server",
		"The package is one of the Model Context Protocol reference servers.",
		"Maintained in the open by the MCP project; its risk is what it is given (scope and credentials), which other factors report.",
		"Nothing to do beyond keeping its scope narrow."},
	{RuleKnownThirdParty, Low, "Known third-party server",
		"The package, image, repository or remote host is in the catalog with a named publisher.",
		"A known, widely used project; trust rests with its publisher.",
		"Check that the publisher is one you trust."},
	{RuleToxicCombination, High, "Toxic combination with another server",
		"On the same agent, one server takes untrusted input (web pages, fetched content, email, issues, documents) and another can execute or exfiltrate (exec, messaging, network egress with credentials).",
		"Text planted in a page, issue or email can instruct the agent to use the other server: run a command, send data out, post secrets. Neither server is dangerous alone.",
		"Split them across agents or profiles, disable one, or require confirmation for the dangerous server's tools."},
}

// factorTemplate is each rule's factor before evidence: its severity, title
// and default detail (what can go wrong, then what to do), found with one lookup.
var factorTemplate = func() map[string]Factor {
	m := make(map[string]Factor, len(rules))
	for _, r := range rules {
		m[r.ID] = Factor{ID: r.ID, Severity: r.Severity, Title: r.Title, Detail: r.Why + " " + r.Fix}
	}
	return m
}()

// Template is rule id's factor before evidence (severity, title and default detail), for
// readers of stored factors that leave out what the rule says anyway; false for an unknown id.
func Template(id string) (Factor, bool) {
	f, ok := factorTemplate[id]
	return f, ok
}

// Scoring. A server's score is its most severe factor's weight plus a tenth
// of each other factor's weight: one serious problem dominates, several add up.
var severityWeight = map[string]int{Critical: 90, High: 65, Medium: 40, Low: 10}

var severityRank = map[string]int{Critical: 0, High: 1, Medium: 2, Low: 3}

// rankOf and weightOf are severityRank and severityWeight as switches: they
// run for every factor of every assessment.
func rankOf(severity string) int {
	switch severity {
	case High:
		return 1
	case Medium:
		return 2
	case Low:
		return 3
	}
	return 0
}

func weightOf(severity string) int {
	switch severity {
	case Critical:
		return 90
	case High:
		return 65
	case Medium:
		return 40
	case Low:
		return 10
	}
	return 0
}

// Level thresholds on the score; any critical factor forces critical.
const (
	CriticalScore = 80
	HighScore     = 60
	MediumScore   = 30
)

// LevelFor maps a score to a level.
func LevelFor(score int) string {
	switch {
	case score >= CriticalScore:
		return Critical
	case score >= HighScore:
		return High
	case score >= MediumScore:
		return Medium
	}
	return Low
}
