// Package risk rates MCP servers from their configuration alone, without
// running them, and explains every rating with stable, documented factors.
//
// It is pure: no I/O, no clock, no randomness. The rule table (rules.go)
// drives both the factors and docs/risk-rules.md; the catalog of known
// servers is embedded from catalog.json.
package risk

import (
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Input is what an agent reports about one server.
type Input struct {
	ServerName string
	ServerType string   // package or image, e.g. "@modelcontextprotocol/server-filesystem"; may be empty
	Command    string   // full command line, already redacted ("[REDACTED]" where a secret was)
	Args       []string // the argument vector, program first, already redacted; when set it is parsed instead of Command
	Scope      string   // filesystem paths given to the server, may be empty
	EnvVars    []string // env var NAMES only
	Transport  string   // "stdio", "sse", "http", "streamable-http" or ""
	URL        string   // remote server URL, may be empty
	Client     string   // e.g. "claude-desktop", "cursor", "" when unknown
	// Project is the project folder of a project-scoped configuration (.mcp.json,
	// .cursor/mcp.json), "" for the client's own: a client's session uses its own servers and
	// those of one project, so servers of two projects never meet in one session.
	Project string
}

// Factor is one reason behind a score.
type Factor struct {
	ID       string `json:"id"`       // stable, e.g. "MCPW-FS-ROOT"
	Severity string `json:"severity"` // "critical" | "high" | "medium" | "low"
	Title    string `json:"title"`
	Detail   string `json:"detail"`   // what can go wrong and what to do
	Evidence string `json:"evidence"` // the part of the configuration that triggered it
}

// Assessment is the judgement on one server.
type Assessment struct {
	Score   int      // 0..100
	Level   string   // critical|high|medium|low
	Factors []Factor // ordered most severe first; never nil
}

// Assess rates one server on its own.
func Assess(in Input) Assessment {
	var e evaluation
	e.evaluate(in, nil)
	return e.result()
}

// factorsPerServer is room for nearly any server's factors (three or four is
// usual); a server with more grows its own.
const factorsPerServer = 8

// workspace is AssessAll's working memory: each server's verdict and its
// factors, in a window of a shared array. It is reused from one report to the
// next, so that a report allocates only its result, whose factors are copied
// out most severe first.
type workspace struct {
	verdicts []verdict
	factors  []Factor
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// AssessAll rates one agent's servers, in order, adding toxic-combination
// factors that name the other server involved.
func AssessAll(servers []Input) []Assessment {
	w := workspaces.Get().(*workspace)
	defer workspaces.Put(w)
	n := len(servers)
	w.verdicts = slices.Grow(w.verdicts[:0], n)[:n]
	w.factors = slices.Grow(w.factors[:0], factorsPerServer*n)[:factorsPerServer*n]
	// The parsed command and catalog matches are needed only while a server
	// is evaluated, so one evaluation serves all.
	var e evaluation
	for i, in := range servers {
		e.evaluate(in, w.factors[i*factorsPerServer:i*factorsPerServer:(i+1)*factorsPerServer])
		w.verdicts[i] = e.verdict
	}
	addCombinations(w.verdicts)
	total := 0
	for _, v := range w.verdicts {
		total += len(v.factors)
	}
	// One allocation for the result's factors, each server's exactly sized.
	factors := make([]Factor, 0, total)
	out := make([]Assessment, n)
	for i, v := range w.verdicts {
		start := len(factors)
		factors = appendBySeverity(factors, v.factors)
		out[i] = assessment(factors[start:len(factors):len(factors)])
	}
	return out
}

// verdict is what an evaluation leaves for the combination rules and the
// score: the server's factors and what it can do.
type verdict struct {
	name     string // display name for combination factors
	caps     capSet
	hasCreds bool
	factors  []Factor
	client   string
	project  string
}

// sameSession reports whether one client session can use both servers: the same client (or an
// unknown one, as older agents report), and the same project unless one is the client's own.
func (v *verdict) sameSession(o *verdict) bool {
	if v.client != "" && o.client != "" && v.client != o.client {
		return false
	}
	return v.project == "" || o.project == "" || v.project == o.project
}

// evaluation is the working state for one server.
type evaluation struct {
	verdict
	in     Input
	cmd    Command
	entry  *CatalogEntry // catalog match of the package, image or repository
	remote *CatalogEntry // catalog match of the remote host
	url    string        // remote endpoint, if any
	host   string        // host of url, lower case
	// readOnly is the flag or connection option that puts a database server in read-only mode.
	readOnly string
}

func (v *verdict) has(capability string) bool { return v.caps&capBit(capability) != 0 }

// add records a factor; a second hit of the same rule extends its evidence
// so that each rule appears once per server.
func (v *verdict) add(id, evidence string, extra ...string) {
	if v.extend(id, evidence) {
		return
	}
	f := factorTemplate[id]
	f.Evidence = evidence
	if len(extra) > 0 {
		f.Detail = strings.Join(extra, " ") + " " + f.Detail
	}
	v.factors = append(v.factors, f)
}

// extend adds evidence to the factor of rule id, if there is one yet.
func (v *verdict) extend(id, evidence string) bool {
	for i := range v.factors {
		if v.factors[i].ID == id {
			if evidence != "" && !strings.Contains(v.factors[i].Evidence, evidence) {
				v.factors[i].Evidence += "; " + evidence
			}
			return true
		}
	}
	return false
}

// result sorts the factors in place: the evaluation is not used afterwards.
func (v *verdict) result() Assessment {
	fs := v.factors
	if fs == nil {
		fs = []Factor{}
	}
	sortFactors(fs)
	return assessment(fs)
}

// assessment scores factors ordered most severe first.
func assessment(fs []Factor) Assessment {
	score := 0
	if len(fs) > 0 {
		score = weightOf(fs[0].Severity)
		for _, f := range fs[1:] {
			score += weightOf(f.Severity) / 10
		}
	}
	score = min(score, 100)
	level := LevelFor(score)
	if len(fs) > 0 && fs[0].Severity == Critical {
		level = Critical
	}
	return Assessment{Score: score, Level: level, Factors: fs}
}

// appendBySeverity appends fs to dst in sortFactors' order, most severe first
// and equal severities as they came, each factor written once.
func appendBySeverity(dst, fs []Factor) []Factor {
	for rank := range 4 {
		for i := range fs {
			if rankOf(fs[i].Severity) == rank {
				dst = append(dst, fs[i])
			}
		}
	}
	return dst
}

// sortFactors orders factors most severe first, keeping the order of equal
// severities: a stable sort by rank. Factors are 80 bytes and swapping them in
// the heap costs write barriers, so a short unsorted list is bucketed through
// a copy on the stack instead, each factor written back once.
func sortFactors(fs []Factor) {
	const short = 16
	if len(fs) > short {
		slices.SortStableFunc(fs, func(a, b Factor) int { return rankOf(a.Severity) - rankOf(b.Severity) })
		return
	}
	var ranks [short]int
	sorted := true
	for i := range fs {
		ranks[i] = rankOf(fs[i].Severity)
		if i > 0 && ranks[i] < ranks[i-1] {
			sorted = false
		}
	}
	if sorted {
		return
	}
	var tmp [short]Factor
	copy(tmp[:], fs)
	n := 0
	for r := 0; r <= 3; r++ {
		for i := range len(fs) {
			if ranks[i] == r {
				fs[n] = tmp[i]
				n++
			}
		}
	}
}

// evaluate runs every check on one server, recording factors in factors
// (an empty slice with room, or nil).
func (e *evaluation) evaluate(in Input, factors []Factor) {
	var cmd Command
	if len(in.Args) > 0 {
		cmd = ParseArgs(in.Args)
		if in.Command == "" {
			// The checks that read the command line as text (evidence, inline secrets) read this.
			in.Command = strings.Join(in.Args, " ")
		}
	} else {
		cmd = ParseCommand(in.Command)
	}
	*e = evaluation{verdict: verdict{name: in.ServerName, factors: factors, client: in.Client, project: in.Project}, in: in, cmd: cmd}
	e.identify()
	if e.name == "" {
		e.name = firstNonEmpty(e.cmd.Package, in.ServerType, e.url, "unnamed server")
	}
	e.checkSupplyChain()
	e.checkCapabilities()
	e.checkContainer()
	e.checkPaths()
	e.checkCredentials()
	e.checkRemote()
}

// identify matches the server against the catalog and finds its remote endpoint.
func (e *evaluation) identify() {
	c := &e.cmd
	for _, name := range []string{c.Package, c.Tool, e.in.ServerType} {
		if e.entry = catalog.lookupPackage(stripVersion(name)); e.entry != nil {
			break
		}
	}
	if e.entry == nil {
		e.entry = catalog.lookupRepo(c.Source)
	}
	e.url = strings.TrimSpace(e.in.URL)
	if e.url == "" && c.Ecosystem == "remote" && len(c.URLs) > 0 {
		e.url = c.URLs[0]
	}
	// A stdio proxy (mcp-remote, mcp-proxy) is only as good as where it connects.
	if e.url == "" && len(c.URLs) > 0 && (e.entry == nil || e.entry.Category == "proxy") {
		e.url = c.URLs[0]
	}
	if e.url == "" && isURL(e.in.ServerType) {
		e.url = e.in.ServerType
	}
	if e.url != "" {
		e.host = hostOf(e.url)
		e.remote = catalog.lookupHost(e.host)
	}
	if e.remote == nil && e.entry == nil && e.url == "" && c.Package == "" && c.Script == "" {
		// Remote server reported only by host in server_type.
		e.remote = catalog.lookupHost(e.in.ServerType)
	}
	for _, ent := range []*CatalogEntry{e.entry, e.remote} {
		if ent != nil {
			e.caps |= ent.caps
		}
	}
	if e.remote != nil && e.entry == nil {
		// A vendor's endpoint does what its local server does, with the account that authorised
		// it, but cannot reach this machine's files or run commands on it.
		e.caps &^= capBit(CapFSRead) | capBit(CapFSWrite) | capBit(CapExec)
	}
	if e.has(CapDBWrite) {
		if ev := readOnlyMode(&e.cmd, e.url); ev != "" {
			e.caps &^= capBit(CapDBWrite)
			e.readOnly = ev
		}
	}
}

func (e *evaluation) checkSupplyChain() {
	c := &e.cmd
	pkg := c.Package
	if pkg == "" {
		pkg = stripVersion(e.in.ServerType)
	}
	if c.Fetcher != "" {
		e.add(RulePipeToShell, c.Fetcher)
	}
	e.checkExecTricks()
	for _, adv := range catalog.advisories[normalisePackage(pkg)] {
		if !adv.affects(c.Version, c.Pinned()) {
			continue
		}
		ev := firstNonEmpty(c.Spec, pkg)
		if adv.Malicious {
			e.add(FactorMalicious, ev, adv.ID+": "+adv.Summary+" ("+adv.Reference+").")
		} else {
			e.add(RuleVulnerable, ev, adv.ID+" (fixed in "+adv.Fixed+"): "+adv.Summary+".")
		}
	}
	// Even a known project's own repository is mutable code that skips the registry.
	if c.Source != "" {
		e.add(RuleURLSource, c.Source)
	}
	known := e.entry != nil || e.remote != nil
	if !known && pkg != "" && c.Ecosystem != "remote" {
		if near := catalog.nearMiss(pkg); near != "" {
			e.add(RuleTyposquat, pkg+" (catalog has "+near+")")
		}
	}
	if c.Fetched && c.Source == "" && !c.Pinned() {
		ev := firstNonEmpty(c.Spec, pkg)
		if c.Version == "" {
			ev += " (no version)"
		}
		if e.entry != nil {
			e.add(RuleUnpinned, ev)
		} else {
			e.add(RuleUnpinnedUnknown, ev)
		}
	}
	switch {
	case e.entry != nil && e.entry.Official:
		e.add(RuleOfficial, firstNonEmpty(c.Package, e.in.ServerType))
	case e.entry != nil:
		e.add(RuleKnownThirdParty, e.entry.byline)
	case e.remote != nil:
		// reported by checkRemote as a vendor endpoint
	case e.url != "" && c.Package == "" && c.Script == "":
		// a bare remote URL: checkRemote judges the host
	default:
		ev := firstNonEmpty(c.Spec, c.Package, c.Script, e.in.ServerType, e.in.Command, "no command, package or URL reported")
		e.add(RuleUnknownServer, ev)
	}
	if e.entry != nil && e.entry.Archived {
		e.add(RuleArchived, e.entry.Name)
	}
}

// execWords in a package name suggest a command runner.
var execWords = map[string]bool{
	"shell": true, "terminal": true, "command": true, "commands": true, "cmd": true, "exec": true,
	"bash": true, "powershell": true, "pwsh": true, "ssh": true, "runcommand": true, "zsh": true,
}

// checkExecTricks reports launches that hide, elevate or download what runs.
func (e *evaluation) checkExecTricks() {
	c := &e.cmd
	if c.Elevation != "" {
		e.add(RuleRunAsRoot, c.Elevation)
	}
	if c.Decoder != "" {
		e.add(RuleDecodeAndRun, c.Decoder)
	}
	if c.Inline != "" {
		if containsAnyFold(c.Inline, inlineNetwork) != "" && containsAnyFold(c.Inline, inlineRun) != "" {
			e.add(RuleRemoteCode, clip(c.Inline, 120))
		}
		if containsAnyFold(c.Inline, inlineDecode) != "" && containsAnyFold(c.Inline, inlineRun) != "" {
			e.add(RuleDecodeAndRun, clip(c.Inline, 120))
		}
	}
	if c.TempExec != "" {
		e.add(RuleTempDirProgram, c.TempExec)
	}
}

// codeRunnerWords in a package name say it runs code it is given.
var codeRunnerWords = []string{"coderunner", "code-runner", "run-code", "runcode", "code-exec", "code-executor", "exec-code",
	"run-python", "python-runner", "run-js", "js-runner", "interpreter", "repl", "jupyter", "code-sandbox", "eval-mcp"}

// isCodeRunner reports a server whose purpose is to run code.
func (e *evaluation) isCodeRunner() (string, bool) {
	for _, ent := range []*CatalogEntry{e.entry, e.remote} {
		if ent != nil && (ent.Category == "code-runner" || ent.Category == "notebook") {
			return "catalog: " + ent.ID + " is a " + ent.Category, true
		}
	}
	if e.entry != nil {
		return "", false
	}
	name := strings.ToLower(e.cmd.Package + " " + e.cmd.Tool)
	for _, w := range codeRunnerWords {
		if strings.Contains(name, w) {
			return "package name " + e.cmd.Package, true
		}
	}
	return "", false
}

func (e *evaluation) checkCapabilities() {
	if ev, ok := e.isCodeRunner(); ok {
		e.add(RuleCodeRunner, ev)
		e.caps |= capBit(CapExec)
	} else if e.has(CapExec) {
		e.add(RuleExec, e.capEvidence(CapExec))
	} else if e.entry == nil {
		for w := range strings.FieldsFuncSeq(strings.ToLower(e.cmd.Package+" "+e.cmd.Tool), func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) {
			if execWords[w] {
				e.add(RuleExec, "package name "+e.cmd.Package)
				e.caps |= capBit(CapExec)
				break
			}
		}
	}
	for _, f := range e.cmd.Deno {
		name, _, _ := strings.Cut(f, "=")
		if name == "--allow-run" || name == "-A" || name == "--allow-all" {
			e.add(RuleExec, "deno "+f)
			e.caps |= capBit(CapExec)
		}
	}
	if e.readOnly != "" {
		e.add(RuleDBReadOnly, e.readOnly)
	}
	for _, c := range capabilityRules {
		if e.caps&c.bit == 0 {
			continue
		}
		var extra []string
		for _, ent := range []*CatalogEntry{e.entry, e.remote} {
			if ent != nil && ent.Note != "" && ent.caps&c.bit != 0 {
				extra = append(extra, ent.noteExtra)
			}
		}
		e.add(c.rule, e.capEvidence(c.capability), extra...)
	}
}

// capabilityRules are the rules a catalog capability raises on its own.
var capabilityRules = []struct {
	capability, rule string
	bit              capSet
}{
	{CapSecrets, RuleSecretStore, capBit(CapSecrets)},
	{CapCloudAdmin, RuleCloudAdmin, capBit(CapCloudAdmin)},
	{CapBrowser, RuleBrowser, capBit(CapBrowser)},
	{CapDBWrite, RuleDBWrite, capBit(CapDBWrite)},
	{CapMessaging, RuleMessaging, capBit(CapMessaging)},
	{CapUntrustedInput, RuleUntrustedInput, capBit(CapUntrustedInput)},
}

// capEvidence names the catalog entry that carries a capability.
func (e *evaluation) capEvidence(capability string) string {
	for _, ent := range []*CatalogEntry{e.remote, e.entry} {
		if ent != nil && ent.caps&capBit(capability) != 0 {
			return ent.tagEvidence[capIndex(capability)]
		}
	}
	return capability
}

func (e *evaluation) checkContainer() {
	k := &e.cmd.Container
	if k.Privileged {
		e.add(RulePrivileged, "--privileged")
	}
	for _, cp := range k.CapAdd {
		if cp == "ALL" || cp == "SYS_ADMIN" || cp == "CAP_SYS_ADMIN" || cp == "SYS_PTRACE" {
			e.add(RulePrivileged, "--cap-add "+cp)
		}
	}
	if k.HostPID {
		e.add(RulePrivileged, "--pid host")
	}
	for _, s := range k.SecurityOpt {
		if strings.Contains(s, "unconfined") {
			e.add(RulePrivileged, "--security-opt "+s)
		}
	}
	if k.HostNetwork {
		e.add(RuleHostNetwork, "--network host")
	}
	for _, m := range k.Mounts {
		h := strings.ToLower(strings.ReplaceAll(m.Host, `\`, "/"))
		switch {
		case strings.HasSuffix(h, "docker.sock") || strings.Contains(h, "docker_engine") || strings.HasSuffix(h, "podman.sock"):
			e.add(RuleDockerSocket, m.Host+":"+m.Target)
		case classifyPath(m.Host) == pathRoot:
			e.add(RuleRootMount, m.Host+":"+m.Target)
		}
	}
}

// checkPaths judges the scope and every path the server is given.
func (e *evaluation) checkPaths() {
	// Room for the usual few paths without a heap allocation.
	paths := appendScope(make([]string, 0, 8), e.in.Scope)
	for _, p := range e.cmd.Paths {
		paths = appendUnique(paths, p)
	}
	for _, m := range e.cmd.Container.Mounts {
		h := strings.ToLower(m.Host)
		if strings.HasSuffix(h, ".sock") || strings.Contains(h, "docker_engine") || classifyPath(m.Host) == pathRoot {
			continue // judged by the container rules
		}
		paths = appendUnique(paths, m.Host)
	}
	fileServer := e.entry == nil && e.remote == nil || e.has(CapFSRead) || e.has(CapFSWrite) || e.has(CapExec)
	for _, p := range paths {
		switch classifyPath(p) {
		case pathRoot:
			e.add(RuleFSRoot, p)
		case pathCredentials:
			e.add(RuleFSCredentials, p)
		case pathHome:
			e.add(RuleFSHome, p)
		case pathSystem:
			e.add(RuleFSSystem, p)
		default:
			if fileServer {
				e.add(RuleFSProject, p)
			}
		}
	}
}

// appendScope appends the scope field's paths that paths lacks: separated by
// commas, semicolons, newlines, or spaces when every piece is itself a path.
func appendScope(paths []string, s string) []string {
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields, allPaths := 0, true
		for f := range strings.FieldsSeq(part) {
			fields++
			allPaths = allPaths && isPathLike(f)
		}
		if fields < 2 || !allPaths {
			paths = appendUnique(paths, part)
			continue
		}
		for f := range strings.FieldsSeq(part) {
			paths = appendUnique(paths, f)
		}
	}
	return paths
}

func (e *evaluation) checkCredentials() {
	var secretNames []string
	for _, names := range [...][]string{e.in.EnvVars, e.cmd.EnvNames} {
		for _, n := range names {
			n, _, _ = strings.Cut(n, "=")
			if looksSecret(n) && !contains(secretNames, n) {
				secretNames = append(secretNames, n)
			}
		}
	}
	evidence := make([]string, 0, 3)
	if len(secretNames) > 0 {
		evidence = append(evidence, "env: "+strings.Join(secretNames, ", "))
	}
	if red := redactedEvidence(e.in.Command); red != "" {
		evidence = append(evidence, "argument: "+red)
	}
	if strings.Contains(e.in.URL, "[REDACTED]") {
		evidence = append(evidence, "url: "+e.in.URL)
	}
	for _, s := range inlineSecrets(e.in.Command, &e.cmd) {
		e.add(RuleCredInline, s)
	}
	remoteReadOnly := false
	if e.remote != nil && e.url != "" && e.remote.AccountWrite && !isLoopback(e.host) {
		// OAuth: the endpoint holds a token for the account that authorised it.
		evidence = append(evidence, "remote: "+e.remote.Name+" acts with the account that authorised it")
		remoteReadOnly = readOnlyEndpoint(e.url)
	}
	if len(evidence) == 0 {
		return
	}
	e.hasCreds = true
	ev := strings.Join(evidence, "; ")
	if e.canChangeAccount() && !remoteReadOnly {
		e.add(RuleCredWrite, ev)
		return
	}
	e.add(RuleCredRead, ev)
}

// canChangeAccount reports whether credentials given to this server let it change what they
// open: its catalog entry says it writes to the account, or it keeps a capability that writes
// (a database server in read-only mode does not).
func (e *evaluation) canChangeAccount() bool {
	for _, ent := range []*CatalogEntry{e.entry, e.remote} {
		if ent != nil && (ent.AccountWrite || ent.caps&e.caps&writeCaps != 0) {
			return true
		}
	}
	return false
}

var writeCaps = capBit(CapDBWrite) | capBit(CapCloudAdmin) | capBit(CapMessaging) | capBit(CapExec) | capBit(CapSecrets)

// readOnlyMode returns the flag or connection option that makes a database server read-only, or "".
func readOnlyMode(c *Command, remote string) string {
	for i, a := range c.Args {
		name, val, hasVal := strings.Cut(strings.ToLower(a), "=")
		switch name {
		case "--read-only", "--readonly", "--read_only":
			if !hasVal || val == "true" || val == "1" {
				return a
			}
		case "--access-mode", "--mode", "--access":
			if !hasVal && i+1 < len(c.Args) {
				val = strings.ToLower(c.Args[i+1])
			}
			if val == "restricted" || val == "read-only" || val == "readonly" || val == "read_only" || val == "ro" {
				return name + " " + val
			}
		}
	}
	for _, texts := range [...][]string{c.URLs, c.Args, {remote}} {
		for _, a := range texts {
			if readOnlyOption(a) {
				return clip(a, 120)
			}
		}
	}
	return ""
}

// readOnlyOption reports a connection string holding one of readOnlyOptions as a parameter.
func readOnlyOption(a string) bool {
	if strings.IndexByte(a, '=') < 0 {
		return false
	}
	la := strings.ToLower(a)
	for _, opt := range readOnlyOptions {
		if i := strings.Index(la, opt); i > 0 && strings.IndexByte("?&;, ", la[i-1]) >= 0 {
			return true
		}
	}
	return false
}

// readOnlyEndpoint reports a vendor endpoint whose path selects its read-only tool set
// (https://api.githubcopilot.com/mcp/readonly).
func readOnlyEndpoint(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	p := strings.ToLower(strings.TrimRight(u.Path, "/"))
	return strings.HasSuffix(p, "/readonly") || strings.HasSuffix(p, "/read-only")
}

// readOnlyOptions are connection-string options that open a database read-only.
var readOnlyOptions = []string{"readonly=true", "readonly=1", "readonly=yes", "read_only=true", "read_only=1", "mode=ro",
	"default_transaction_read_only=on", "default_transaction_read_only=true", "applicationintent=readonly",
	"access_mode=read_only"}

func (e *evaluation) checkRemote() {
	if e.url == "" {
		if e.remote != nil {
			e.add(RuleVendorEndpoint, e.in.ServerType)
		}
		return
	}
	host := e.host
	lu := strings.ToLower(e.url)
	plain := strings.HasPrefix(lu, "http://") || strings.HasPrefix(lu, "ws://")
	switch {
	case isLoopback(host):
		if e.entry == nil && e.remote == nil {
			e.add(RuleUnknownServer, e.url)
		}
		return
	case plain:
		e.add(RulePlaintext, e.url)
	}
	switch {
	case isTunnel(host):
		e.add(RuleTunnel, host)
	case e.remote != nil && !plain:
		e.add(RuleVendorEndpoint, e.remote.Name+" at "+host)
	case e.remote == nil:
		e.add(RuleUnknownHost, host)
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasPrefix(host, "127.") ||
		host == "::1" || host == "[::1]" || host == "0.0.0.0" || host == "host.docker.internal"
}

var tunnelSuffixes = []string{
	"ngrok.io", "ngrok-free.app", "ngrok.app", "ngrok-free.dev", "ngrok.dev", "loca.lt", "localtunnel.me",
	"trycloudflare.com", "serveo.net", "serveousercontent.com", "localhost.run", "lhr.life", "pinggy.io",
	"pinggy.link", "pinggy.online", "bore.pub", "devtunnels.ms", "tunnelmole.net", "telebit.io", "localxpose.io",
	"loclx.io", "expose.dev", "sharedwithexpose.com", "zrok.io", "ngrok.pizza",
}

func isTunnel(host string) bool {
	for _, s := range tunnelSuffixes {
		if hasDomainSuffix(host, s) {
			return true
		}
	}
	return false
}

// addCombinations pairs servers that read untrusted content with servers
// that can act on it, on the same agent.
func addCombinations(evals []verdict) {
	for i := range evals {
		src := &evals[i]
		if !src.has(CapUntrustedInput) {
			continue
		}
		for j := range evals {
			sink := &evals[j]
			if i == j || !sink.canActOnInjection() || !src.sameSession(sink) {
				continue
			}
			src.combine(sink.name, func(ruleDetail string) string {
				return "Content read by " + src.name + " can instruct the agent to use " + sink.name + " (" + sink.sinkReason() + "). " + ruleDetail
			})
			sink.combine(src.name, func(ruleDetail string) string {
				return src.name + " feeds untrusted content to the agent that can direct this server (" + sink.sinkReason() + "). " + ruleDetail
			})
		}
	}
}

// combine records a toxic combination with the server named other, as
// add(RuleToxicCombination, "with "+other, detail) would, but builds the
// detail (in front of the rule's, in one string) only for the first
// combination and "with "+other only when it is new.
func (v *verdict) combine(other string, detail func(ruleDetail string) string) {
	for i := range v.factors {
		f := &v.factors[i]
		if f.ID == RuleToxicCombination {
			if !containsPair(f.Evidence, "with ", other) {
				f.Evidence += "; with " + other
			}
			return
		}
	}
	f := factorTemplate[RuleToxicCombination]
	f.Evidence = "with " + other
	f.Detail = detail(f.Detail)
	v.factors = append(v.factors, f)
}

// containsPair is strings.Contains(s, a+b) without building a+b.
func containsPair(s, a, b string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], a)
		if j < 0 {
			return false
		}
		if strings.HasPrefix(s[i+j+len(a):], b) {
			return true
		}
		i += j + 1
	}
}

func (v *verdict) canActOnInjection() bool {
	return v.has(CapExec) || v.has(CapMessaging) || v.has(CapNetworkEgress) && v.hasCreds
}

func (v *verdict) sinkReason() string {
	switch {
	case v.has(CapExec):
		return "it executes commands"
	case v.has(CapMessaging):
		return "it sends messages"
	}
	return "it sends data out with credentials"
}

// stripVersion drops "@1.2.3" or ":tag" from a server_type.
func stripVersion(s string) string {
	if s == "" || isURL(s) {
		return s
	}
	if i := strings.LastIndex(s, "@"); i > 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i > 1 && i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	if i := indexVersionOperator(s); i > 0 {
		s = s[:i]
	}
	return s
}

// indexVersionOperator is strings.IndexAny(s, "=<>~") without building the
// set of bytes on every call: the first of a requirement's operators.
func indexVersionOperator(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '=', '<', '>', '~':
			return i
		}
	}
	return -1
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
