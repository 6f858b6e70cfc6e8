// Package risk rates MCP servers from their configuration alone, without
// running them, and explains every rating with stable, documented factors.
//
// It is pure: no I/O, no clock, no randomness. The rule table (rules.go)
// drives both the factors and docs/risk-rules.md; the catalog of known
// servers is embedded from catalog.json.
package risk

import (
	"slices"
	"strings"
)

// Input is what an agent reports about one server.
type Input struct {
	ServerName string
	ServerType string   // package or image, e.g. "@modelcontextprotocol/server-filesystem"; may be empty
	Command    string   // full command line, already redacted ("[REDACTED]" where a secret was)
	Scope      string   // filesystem paths given to the server, may be empty
	EnvVars    []string // env var NAMES only
	Transport  string   // "stdio", "sse", "http", "streamable-http" or ""
	URL        string   // remote server URL, may be empty
	Client     string   // e.g. "claude-desktop", "cursor", "" when unknown
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

// factorsPerServer is room for most servers' factors (three or four is usual).
const factorsPerServer = 6

// AssessAll rates one agent's servers, in order, adding toxic-combination
// factors that name the other server involved.
func AssessAll(servers []Input) []Assessment {
	// One allocation for the evaluations and one for their factors: each
	// server gets a capped window of the factor array and only a server with
	// more factors than that grows its own.
	evals := make([]evaluation, len(servers))
	slab := make([]Factor, factorsPerServer*len(servers))
	for i, in := range servers {
		evals[i].evaluate(in, slab[i*factorsPerServer:i*factorsPerServer:(i+1)*factorsPerServer])
	}
	addCombinations(evals)
	out := make([]Assessment, len(evals))
	for i := range evals {
		out[i] = evals[i].result()
	}
	return out
}

// evaluation is the working state for one server.
type evaluation struct {
	in       Input
	cmd      Command
	name     string        // display name for combination factors
	entry    *CatalogEntry // catalog match of the package, image or repository
	remote   *CatalogEntry // catalog match of the remote host
	url      string        // remote endpoint, if any
	caps     capSet
	hasCreds bool
	factors  []Factor
}

func (e *evaluation) has(capability string) bool { return e.caps&capBit(capability) != 0 }

// add records a factor; a second hit of the same rule extends its evidence
// so that each rule appears once per server.
func (e *evaluation) add(id, evidence string, extra ...string) {
	if e.extend(id, evidence) {
		return
	}
	f := factorTemplate[id]
	f.Evidence = evidence
	if len(extra) > 0 {
		f.Detail = strings.Join(extra, " ") + " " + f.Detail
	}
	e.factors = append(e.factors, f)
}

// extend adds evidence to the factor of rule id, if there is one yet.
func (e *evaluation) extend(id, evidence string) bool {
	for i := range e.factors {
		if e.factors[i].ID == id {
			if evidence != "" && !strings.Contains(e.factors[i].Evidence, evidence) {
				e.factors[i].Evidence += "; " + evidence
			}
			return true
		}
	}
	return false
}

// result sorts the factors in place: the evaluation is not used afterwards.
func (e *evaluation) result() Assessment {
	fs := e.factors
	if fs == nil {
		fs = []Factor{}
	}
	sortFactors(fs)
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

// evaluate runs every check on one server, recording factors in factors
// (an empty slice with room, or nil).
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

func (e *evaluation) evaluate(in Input, factors []Factor) {
	*e = evaluation{in: in, cmd: ParseCommand(in.Command), factors: factors}
	e.name = in.ServerName
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
	c := e.cmd
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
		e.remote = catalog.lookupHost(hostOf(e.url))
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
}

func (e *evaluation) checkSupplyChain() {
	c := e.cmd
	pkg := firstNonEmpty(c.Package, stripVersion(e.in.ServerType))
	if c.Fetcher != "" {
		e.add(RulePipeToShell, c.Fetcher)
	}
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

func (e *evaluation) checkCapabilities() {
	if e.has(CapExec) {
		e.add(RuleExec, e.capEvidence(CapExec))
	} else if e.entry == nil {
		for _, w := range strings.FieldsFunc(strings.ToLower(e.cmd.Package+" "+e.cmd.Tool), func(r rune) bool {
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
	for _, c := range []struct{ capability, rule string }{
		{CapSecrets, RuleSecretStore},
		{CapCloudAdmin, RuleCloudAdmin},
		{CapBrowser, RuleBrowser},
		{CapDBWrite, RuleDBWrite},
		{CapMessaging, RuleMessaging},
		{CapUntrustedInput, RuleUntrustedInput},
	} {
		if !e.has(c.capability) {
			continue
		}
		var extra []string
		for _, ent := range []*CatalogEntry{e.entry, e.remote} {
			if ent != nil && ent.Note != "" && ent.caps&capBit(c.capability) != 0 {
				extra = append(extra, ent.noteExtra)
			}
		}
		e.add(c.rule, e.capEvidence(c.capability), extra...)
	}
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
	k := e.cmd.Container
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
	var paths []string
	for _, p := range splitScope(e.in.Scope) {
		paths = appendUnique(paths, p)
	}
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

// splitScope separates the scope field's paths: commas, semicolons, newlines,
// or spaces when every piece is itself a path.
func splitScope(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Fields(part)
		allPaths := len(fields) > 1
		for _, f := range fields {
			allPaths = allPaths && isPathLike(f)
		}
		if allPaths {
			out = append(out, fields...)
		} else {
			out = append(out, part)
		}
	}
	return out
}

func (e *evaluation) checkCredentials() {
	var evidence []string
	names := append(append([]string{}, e.in.EnvVars...), e.cmd.EnvNames...)
	var secretNames []string
	for _, n := range names {
		n, _, _ = strings.Cut(n, "=")
		if looksSecret(n) && !contains(secretNames, n) {
			secretNames = append(secretNames, n)
		}
	}
	if len(secretNames) > 0 {
		evidence = append(evidence, "env: "+strings.Join(secretNames, ", "))
	}
	if red := redactedEvidence(e.in.Command); red != "" {
		evidence = append(evidence, "argument: "+red)
	}
	if strings.Contains(e.in.URL, "[REDACTED]") {
		evidence = append(evidence, "url: "+e.in.URL)
	}
	for _, s := range inlineSecrets(e.in.Command, e.cmd) {
		e.add(RuleCredInline, s)
	}
	if len(evidence) == 0 {
		return
	}
	e.hasCreds = true
	ev := strings.Join(evidence, "; ")
	for _, ent := range []*CatalogEntry{e.entry, e.remote} {
		if ent != nil && ent.canChangeAccount() {
			e.add(RuleCredWrite, ev)
			return
		}
	}
	e.add(RuleCredRead, ev)
}

func (e *evaluation) checkRemote() {
	if e.url == "" {
		if e.remote != nil {
			e.add(RuleVendorEndpoint, e.in.ServerType)
		}
		return
	}
	host := hostOf(e.url)
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
func addCombinations(evals []evaluation) {
	for i := range evals {
		src := &evals[i]
		if !src.has(CapUntrustedInput) {
			continue
		}
		for j := range evals {
			sink := &evals[j]
			if i == j || !sink.canActOnInjection() {
				continue
			}
			src.combine(sink.name, func() string {
				return "Content read by " + src.name + " can instruct the agent to use " + sink.name + " (" + sink.sinkReason() + ")."
			})
			sink.combine(src.name, func() string {
				return src.name + " feeds untrusted content to the agent that can direct this server (" + sink.sinkReason() + ")."
			})
		}
	}
}

// combine records a toxic combination with the server named other, as
// add(RuleToxicCombination, "with "+other, detail()) would, but builds the
// detail only for the first combination and "with "+other only when it is new.
func (e *evaluation) combine(other string, detail func() string) {
	for i := range e.factors {
		f := &e.factors[i]
		if f.ID == RuleToxicCombination {
			if !containsPair(f.Evidence, "with ", other) {
				f.Evidence += "; with " + other
			}
			return
		}
	}
	e.add(RuleToxicCombination, "with "+other, detail())
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

func (e *evaluation) canActOnInjection() bool {
	return e.has(CapExec) || e.has(CapMessaging) || e.has(CapNetworkEgress) && e.hasCreds
}

func (e *evaluation) sinkReason() string {
	switch {
	case e.has(CapExec):
		return "it executes commands"
	case e.has(CapMessaging):
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
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") && i > 1 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "=<>~"); i > 0 {
		s = s[:i]
	}
	return s
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
