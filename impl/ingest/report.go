package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/jsonenc"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// Limits of a report, as in openapi.yaml; enforced here too because validation can be turned
// off for benchmarks, and redaction can lengthen a value.
const (
	maxReportServers = 500
	maxServerName    = 200
	maxServerType    = 500
	maxCommand       = 8192
	maxArgs          = 1000
	maxArg           = 8192
	maxPath          = 4096
	maxClient        = 100
	maxEnvVars       = 200
	maxEnvVarName    = 256
	maxFactors       = 100
)

// ReportedServer is one server of an agent's report, as the agent sent it (the API's
// ReportedServer).
type ReportedServer struct {
	ServerName                                                     string
	ServerType, Command, Scope, Client, ConfigPath, URL, Transport *string
	// Args is the argument vector that starts a local server, program first (agents from 0.3).
	Args    *[]string
	EnvVars *[]string
	Enabled *bool
}

// Result is what a report changed.
type Result struct {
	ServersReceived                                int64
	Unchanged                                      bool
	ServersCreated, ServersUpdated, ServersDormant int64
}

// InvalidError is a report (or heartbeat) the server refuses; Field names the offending field,
// or is empty when the problem is not one field's.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return "Invalid " + e.Field + ": " + e.Message
}

// KnownUnchanged reports whether a report body listing n servers, whose hash as received is raw,
// is known to be the agent's current report, stored being the agent's state as Admit read it
// after the report arrived; then it records that the agent was seen, and the report needs
// nothing more. Unchanged reports are the steady state, so they are recognised before anything
// else is done with them (the body's conversion, its normalization, whose redaction is the
// expensive part): raw is compared with the one remembered for the agent's current report hash,
// and that hash with the stored one (see stored.go). Normalization is deterministic, so the same
// body always normalizes to the same report.
func (in *Ingester) KnownUnchanged(a Agent, stored db.AgentState, raw []byte, n int) bool {
	st := in.keys.agent(a.AgentID)
	if st == nil || n > maxReportServers {
		return false
	}
	hash, ok := st.reportOfRaw(raw)
	if !ok || !bytes.Equal(hash[:], stored.ReportHash) {
		return false
	}
	in.seen.touch(a.OrgID, a.AgentID, in.now(), nil)
	in.metrics.unchanged.Inc()
	return true
}

// Report ingests an agent's complete list of servers that KnownUnchanged did not recognise;
// stored is the agent's state as Admit read it, raw the hash of the body as received. A report whose normalized hash equals the last one
// applied writes nothing but the buffered last-seen time; otherwise the report is scored and
// applied in one transaction that also raises its alerts, shared with the organization's other
// reports of the moment (see reportQueue). It returns an *InvalidError for a report it refuses,
// and db.ErrNotFound when the agent was deleted after its key was cached.
func (in *Ingester) Report(ctx context.Context, a Agent, stored db.AgentState, raw []byte, reported []ReportedServer) (Result, error) {
	st := in.keys.agent(a.AgentID)
	servers, err := normalizeReport(reported, &in.redactions)
	if err != nil {
		return Result{}, err
	}
	hash := reportHash(in.opts.Version, servers)
	unchanged := Result{ServersReceived: int64(len(servers)), Unchanged: true}
	if bytes.Equal(hash, stored.ReportHash) {
		if st != nil {
			st.setRawReport(hash, raw)
		}
		in.seen.touch(a.OrgID, a.AgentID, in.now(), nil)
		in.metrics.unchanged.Inc()
		return unchanged, nil
	}

	assessments := assess(servers)
	for i := range servers {
		as := assessments[i]
		servers[i].RiskScore, servers[i].RiskLevel = as.Score, as.Level
		servers[i].RiskFactors = StoredFactors(as.Factors)
	}

	out, err := in.queue.submit(ctx, &pendingReport{
		org: a.OrgID, agent: a.AgentID, hash: hash, servers: servers, alerts: alertPlan(a.AgentID, assessments),
	})
	if err != nil {
		return Result{}, err
	}
	// Other replicas may hold the previous report hash; they confirm it against the stored one
	// before they call a report unchanged (stored.go), so a return to it is applied there too.
	if st != nil {
		st.setReport(hash, raw)
	}
	if out.Unchanged {
		in.seen.touch(a.OrgID, a.AgentID, in.now(), nil)
		in.metrics.unchanged.Inc()
		return unchanged, nil
	}
	in.metrics.changed.Inc()
	in.metrics.alertsRaised.Add(float64(out.Alerts))
	return Result{
		ServersReceived: int64(len(servers)),
		ServersCreated:  out.Created, ServersUpdated: out.Updated, ServersDormant: out.Dormant,
	}, nil
}

// AssessReport normalizes and scores a report's servers as Report does, storing nothing:
// `mcpwarden risk explain` judges configuration files with it. It returns the servers as they
// would be stored, each with its assessment.
func AssessReport(in []ReportedServer) ([]db.ReportServer, []risk.Assessment, error) {
	servers, err := normalizeReport(in, &redactCache{})
	if err != nil {
		return nil, nil, err
	}
	return servers, assess(servers), nil
}

// StoredReport is what ingesting a report stores for an agent that held none: its servers,
// normalized and scored, and the report hash that makes the same report unchanged next time.
// version is the server's version, which the hash includes. `mcpwarden seed --report` gives
// every seeded agent this inventory, so that a load generator's fleet starts where a running
// one would be.
func StoredReport(version string, in []ReportedServer) ([]db.ReportServer, []byte, error) {
	servers, err := normalizeReport(in, &redactCache{})
	if err != nil {
		return nil, nil, err
	}
	for i, as := range assess(servers) {
		servers[i].RiskScore, servers[i].RiskLevel = as.Score, as.Level
		servers[i].RiskFactors = StoredFactors(as.Factors)
	}
	return servers, reportHash(version, servers), nil
}

// assess scores a normalized report's servers together, as one agent's.
func assess(servers []db.ReportServer) []risk.Assessment {
	inputs := make([]risk.Input, len(servers))
	for i, srv := range servers {
		client := textOrEmpty(srv.Client)
		inputs[i] = risk.Input{
			ServerName: srv.ServerName, ServerType: srv.ServerType, Command: srv.Command, Args: srv.Args, Scope: srv.Scope,
			EnvVars: srv.EnvVars, Transport: textOrEmpty(srv.Transport), URL: textOrEmpty(srv.URL), Client: client,
			Project: discovery.ProjectOf(client, textOrEmpty(srv.ConfigPath)),
		}
	}
	return risk.AssessAll(inputs)
}

// normalizeReport checks a report and turns it into what is stored: secrets redacted from every
// free-text field, environment variables reduced to their names, and values within the limits.
func normalizeReport(in []ReportedServer, redactions *redactCache) ([]db.ReportServer, error) {
	if len(in) > maxReportServers {
		return nil, &InvalidError{Message: fmt.Sprintf("A report lists at most %d servers.", maxReportServers)}
	}
	out := make([]db.ReportServer, len(in))
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		field := func(name string) string { return fmt.Sprintf("servers.%d.%s", i, name) }
		if r.ServerName == "" || utf8.RuneCountInString(r.ServerName) > maxServerName {
			return nil, invalid(field("server_name"), fmt.Sprintf("must be 1 to %d characters", maxServerName))
		}
		if seen[r.ServerName] {
			return nil, invalid(field("server_name"), fmt.Sprintf("%q appears more than once in the report; server names identify servers", r.ServerName))
		}
		seen[r.ServerName] = true
		texts := [...]struct {
			name string
			v    *string
		}{{"server_name", &r.ServerName}, {"server_type", r.ServerType}, {"command", r.Command}, {"scope", r.Scope},
			{"client", r.Client}, {"config_path", r.ConfigPath}, {"url", r.URL}}
		for _, t := range texts {
			if t.v != nil && strings.IndexByte(*t.v, 0) >= 0 {
				return nil, rejectNUL(field(t.name), *t.v)
			}
		}
		if r.EnvVars != nil && len(*r.EnvVars) > maxEnvVars {
			return nil, invalid(field("env_vars"), fmt.Sprintf("at most %d names", maxEnvVars))
		}
		if r.Args != nil && len(*r.Args) > maxArgs {
			return nil, invalid(field("args"), fmt.Sprintf("at most %d arguments", maxArgs))
		}
		s := db.ReportServer{
			ServerName: r.ServerName,
			ServerType: clipText(redactions.command(textOrEmpty(r.ServerType)), maxServerType),
			Command:    clipText(redactions.command(textOrEmpty(r.Command)), maxCommand),
			Scope:      clipText(redactions.command(textOrEmpty(r.Scope)), maxPath),
			EnvVars:    []string{},
			Client:     clipTextPtr(r.Client, maxClient),
			ConfigPath: redactPtr(redactions, r.ConfigPath, maxPath),
			URL:        redactPtr(redactions, r.URL, maxPath),
			Enabled:    r.Enabled,
		}
		if r.Transport != nil {
			t := *r.Transport
			s.Transport = &t
		}
		if r.Args != nil && len(*r.Args) > 0 {
			for j, a := range *r.Args {
				if strings.IndexByte(a, 0) >= 0 {
					return nil, rejectNUL(fmt.Sprintf("%s.%d", field("args"), j), a)
				}
			}
			// Redacted as one vector, as the agent does: a flag's value may be the next argument.
			s.Args = redactions.args(*r.Args)
			for j, a := range s.Args {
				s.Args[j] = clipText(a, maxArg)
			}
			if s.Command == "" {
				s.Command = clipText(strings.Join(s.Args, " "), maxCommand)
			}
		}
		if r.EnvVars != nil {
			for j, v := range *r.EnvVars {
				if strings.IndexByte(v, 0) >= 0 {
					return nil, rejectNUL(fmt.Sprintf("%s.%d", field("env_vars"), j), v)
				}
				// Names only: a value sent by mistake (NAME=value) never reaches storage.
				name, _, _ := strings.Cut(v, "=")
				name = clipText(strings.TrimSpace(name), maxEnvVarName)
				if name != "" && !slices.Contains(s.EnvVars, name) {
					s.EnvVars = append(s.EnvVars, name)
				}
			}
		}
		s.ConfigHash = configHash(s)
		out[i] = s
	}
	return out, nil
}

// configHash identifies what a server runs and with what access; verification holds for this
// hash. Where the configuration was found (client, file, enabled) is not part of it. Stored
// hashes are compared with new ones, so the text hashed never changes: it is what
// encoding/json.Marshal([]any{type, command, scope, sorted env, transport, url}) writes.
//
// The argument vector is appended, as a seventh element, only when the command line does not
// already say it (see commandSays). Older agents report no vector, and a newer agent's vector
// is nearly always its command line split at spaces, so neither changes a server's hash:
// upgrading agents neither clears verifications nor raises rug-pull alerts. Where the vector
// says more than the command line (where an argument holding a space begins and ends), it is
// part of what runs: a change in it clears verification, and so, once, does the first report
// of such a server that carries it.
func configHash(s db.ReportServer) []byte {
	env := s.EnvVars
	if !slices.IsSorted(env) {
		env = slices.Clone(env)
		slices.Sort(env)
	}
	var scratch [512]byte
	b := append(scratch[:0], '[')
	b = append(jsonenc.String(b, s.ServerType), ',')
	b = append(jsonenc.String(b, s.Command), ',')
	b = append(jsonenc.String(b, s.Scope), ',')
	b = append(jsonenc.Strings(b, env), ',')
	b = append(jsonenc.StringPtr(b, s.Transport), ',')
	b = jsonenc.StringPtr(b, s.URL)
	if len(s.Args) > 0 && !commandSays(s.Command, s.Args) {
		b = jsonenc.Strings(append(b, ','), s.Args)
	}
	h := sha256.Sum256(append(b, ']'))
	return h[:]
}

// commandSays reports whether splitting command at white space gives args back: whether the
// vector holds nothing the command line does not (no argument with white space, none empty,
// and the command not clipped).
func commandSays(command string, args []string) bool {
	i := 0
	for word := range strings.FieldsSeq(command) {
		if i == len(args) || args[i] != word {
			return false
		}
		i++
	}
	return i == len(args)
}

// reportHash identifies a normalized report, in any server order. The server version is part of
// it so that an upgrade (new risk rules) re-scores each agent's servers at its next report.
func reportHash(version string, servers []db.ReportServer) []byte {
	order := make([]int, len(servers))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(servers[a].ServerName, servers[b].ServerName) })
	h := sha256.New()
	h.Write([]byte("report/v2\x00" + version + "\x00"))
	var scratch [1024]byte
	for _, i := range order {
		srv := &servers[i]
		b := append(scratch[:0], '[')
		for _, t := range [...]string{srv.ServerName, srv.ServerType, srv.Command, srv.Scope} {
			b = append(jsonenc.String(b, t), ',')
		}
		b = append(jsonenc.Strings(b, srv.EnvVars), ',')
		for _, t := range [...]*string{srv.Client, srv.ConfigPath, srv.Transport, srv.URL} {
			b = append(jsonenc.StringPtr(b, t), ',')
		}
		switch {
		case srv.Enabled == nil:
			b = append(b, "null"...)
		case *srv.Enabled:
			b = append(b, "true"...)
		default:
			b = append(b, "false"...)
		}
		// The vector only when reported, so that a report without one hashes as it always has.
		if len(srv.Args) > 0 {
			b = jsonenc.Strings(append(b, ','), srv.Args)
		}
		h.Write(append(b, "]\n"...))
	}
	return h.Sum(nil)
}

// StoredFactors is a server's stored explanation: its factors, clipped, without what their rule
// says anyway. A factor's title, and its detail unless the check added to it, are its rule's
// (risk.Template): about three quarters of an explanation's bytes, and of a server row's, that
// every changed report would otherwise rewrite. expandFactors reads it back. mcpwarden seed
// stores its servers' explanations in this form too.
func StoredFactors(fs []risk.Factor) json.RawMessage {
	if len(fs) > maxFactors {
		fs = fs[:maxFactors]
	}
	size := 2
	for _, f := range fs {
		size += 64 + len(f.ID) + len(f.Severity) + len(f.Evidence)
	}
	b := append(make([]byte, 0, size), '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = jsonenc.String(jsonenc.Key(b, "id"), f.ID)
		b = jsonenc.String(jsonenc.Key(b, "severity"), f.Severity)
		title, detail := clipText(f.Title, 500), clipText(f.Detail, 4000)
		t, known := risk.Template(f.ID)
		if !known || title != t.Title {
			b = jsonenc.String(jsonenc.Key(b, "title"), title)
		}
		switch {
		case known && detail == t.Detail:
		case known && len(detail) > len(t.Detail) && detail[len(detail)-len(t.Detail)-1] == ' ' && strings.HasSuffix(detail, t.Detail):
			b = jsonenc.String(jsonenc.Key(b, "detail_prefix"), detail[:len(detail)-len(t.Detail)-1])
		default:
			b = jsonenc.String(jsonenc.Key(b, "detail"), detail)
		}
		b = jsonenc.String(jsonenc.Key(b, "evidence"), clipText(f.Evidence, 4000))
		b = append(b, '}')
	}
	return append(b, ']')
}

// storedFactor is a stored risk factor: StoredFactors' form, or the whole factor as explanations
// were first stored.
type storedFactor struct {
	ID           string `json:"id"`
	Severity     string `json:"severity"`
	Title        string `json:"title"`
	Detail       string `json:"detail"`
	DetailPrefix string `json:"detail_prefix"`
	Evidence     string `json:"evidence"`
}

// ExpandFactors reads a stored explanation back into whole factors, taking from each factor's
// rule what StoredFactors left out. A rule no longer known leaves its id as the title.
func ExpandFactors(raw []byte) ([]risk.Factor, error) {
	var stored []storedFactor
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &stored); err != nil {
			return nil, err
		}
	}
	out := make([]risk.Factor, len(stored))
	for i, f := range stored {
		t, known := risk.Template(f.ID)
		switch {
		case f.Title != "":
		case known:
			f.Title = t.Title
		default:
			f.Title = f.ID
		}
		if f.Detail == "" && known {
			f.Detail = t.Detail
			if f.DetailPrefix != "" {
				f.Detail = f.DetailPrefix + " " + t.Detail
			}
		}
		out[i] = risk.Factor{ID: f.ID, Severity: f.Severity, Title: f.Title, Detail: f.Detail, Evidence: f.Evidence}
	}
	return out, nil
}

var ingestLevelRank = map[string]int{risk.Low: 0, risk.Medium: 1, risk.High: 2, risk.Critical: 3}

// alertPlan decides the alerts a report raises, from each server's state before it. Each dedup
// key names the condition, the server and its configuration hash, so the same condition on the
// same configuration is raised once however many reports repeat it.
func alertPlan(agentID uuid.UUID, assessments []risk.Assessment) func(*string, map[string]db.PreviousServer, []db.ReportServer) []db.NewAlert {
	return func(hostname *string, previous map[string]db.PreviousServer, servers []db.ReportServer) []db.NewAlert {
		var alerts []db.NewAlert
		host := "an unnamed machine"
		if hostname != nil && *hostname != "" {
			host = *hostname
		}
		for i, srv := range servers {
			a := assessments[i]
			prev, existed := previous[srv.ServerName]
			cfg := hex.EncodeToString(srv.ConfigHash)
			name := srv.ServerName
			id := srv.ID
			add := func(typ, severity, title, message, key string) {
				alerts = append(alerts, db.NewAlert{
					Type: typ, Severity: severity, Title: clipText(title, 500), Message: clipText(message, 4000),
					ServerID: &id, ServerName: &name, AgentID: &agentID, AgentHostname: hostname,
					DedupKey: typ + ":" + id.String() + ":" + key,
				})
			}
			reason := ""
			if len(a.Factors) > 0 {
				reason = " Main factor: " + a.Factors[0].Title + "."
			}
			switch {
			case !existed && ingestLevelRank[a.Level] >= ingestLevelRank[risk.High]:
				add("new_high_risk_server", a.Level,
					fmt.Sprintf("New %s-risk MCP server %s on %s", a.Level, name, host),
					fmt.Sprintf("%s (%s) appeared on %s with risk score %d (%s).%s", name, orDash(srv.ServerType), host, a.Score, a.Level, reason),
					cfg)
			case existed && ingestLevelRank[a.Level] > ingestLevelRank[prev.RiskLevel]:
				add("risk_increased", a.Level,
					fmt.Sprintf("Risk of MCP server %s on %s rose to %s", name, host, a.Level),
					fmt.Sprintf("%s (%s) on %s went from %s to %s risk (score %d).%s", name, orDash(srv.ServerType), host, prev.RiskLevel, a.Level, a.Score, reason),
					cfg+":"+a.Level)
			}
			if existed && prev.IsVerified && !bytes.Equal(prev.VerifiedConfigHash, srv.ConfigHash) {
				add("verified_server_changed", higherLevel(risk.High, a.Level),
					fmt.Sprintf("Verified MCP server %s on %s changed", name, host),
					fmt.Sprintf("The configuration of %s (%s) on %s changed after it was verified, so its verification was cleared. Review the new configuration (risk score %d, %s) before verifying it again.", name, orDash(srv.ServerType), host, a.Score, a.Level),
					cfg)
			}
			for _, f := range a.Factors {
				if f.ID != risk.FactorMalicious {
					continue
				}
				if existed && bytes.Equal(prev.ConfigHash, srv.ConfigHash) && slices.Contains(prev.FactorIDs, risk.FactorMalicious) {
					break // already known, and alerted when it was first seen
				}
				add("malicious_package", risk.Critical,
					fmt.Sprintf("Known-malicious package in MCP server %s on %s", name, host),
					fmt.Sprintf("%s on %s runs a known-malicious package: %s. %s Evidence: %s", name, host, f.Title, f.Detail, f.Evidence),
					cfg)
				break
			}
		}
		return alerts
	}
}

func higherLevel(a, b string) string {
	if ingestLevelRank[b] > ingestLevelRank[a] {
		return b
	}
	return a
}

// hash32 holds a SHA-256 hash as an array; anything else is none (all zeros).
func hash32(b []byte) [sha256.Size]byte {
	if len(b) != sha256.Size {
		return [sha256.Size]byte{}
	}
	return [sha256.Size]byte(b)
}

// setReport records the agent's report hash as stored, and the hash of the body it came from
// (nil when unknown).
func (st *agentState) setReport(hash, raw []byte) {
	report, body := hash32(hash), hash32(raw)
	st.mu.Lock()
	st.report, st.raw = report, body
	st.mu.Unlock()
}

// reportOfRaw returns the agent's remembered report hash if a body hashing to raw is known to
// normalize to it.
func (st *agentState) reportOfRaw(raw []byte) (hash [sha256.Size]byte, ok bool) {
	body := hash32(raw)
	st.mu.Lock()
	defer st.mu.Unlock()
	var none [sha256.Size]byte
	if st.report == none || st.raw == none || st.raw != body {
		return none, false
	}
	return st.report, true
}

// setRawReport remembers that a body hashing to raw normalizes to hash, if hash is still the
// agent's current report.
func (st *agentState) setRawReport(hash, raw []byte) {
	report, body := hash32(hash), hash32(raw)
	st.mu.Lock()
	if report == st.report {
		st.raw = body
	}
	st.mu.Unlock()
}

// rejectNUL refuses text PostgreSQL cannot store, as the caller's mistake rather than a 500.
func rejectNUL(field, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return invalid(field, "contains a NUL character")
	}
	return nil
}

func invalid(field, msg string) *InvalidError { return &InvalidError{Field: field, Message: msg} }

// clipText cuts s to at most n characters.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

func clipTextPtr(s *string, n int) *string {
	if s == nil {
		return nil
	}
	v := clipText(*s, n)
	return &v
}

func redactPtr(redactions *redactCache, s *string, n int) *string {
	if s == nil {
		return nil
	}
	v := clipText(redactions.command(*s), n)
	return &v
}

func textOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDash(s string) string {
	if s == "" {
		return "unknown type"
	}
	return s
}
