package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/impl/jsonenc"
)

// ReportServer is one server of an agent's report, normalized, redacted and scored. It travels
// to the database as appendReportRow writes it.
type ReportServer struct {
	ID          uuid.UUID // set by ApplyReport
	ServerName  string
	ServerType  string
	Command     string
	Args        []string // not stored: the report's hashes and the risk engine read it, Command shows it
	Scope       string
	EnvVars     []string
	Client      *string
	ConfigPath  *string
	Transport   *string
	URL         *string
	Enabled     *bool
	ConfigHash  []byte
	RiskLevel   string
	RiskScore   int
	RiskFactors json.RawMessage // the stored explanation (see impl.StoredFactors)
}

// PreviousServer is the stored state of a server before a report is applied.
type PreviousServer struct {
	AgentID            uuid.UUID `db:"agent_id"`
	ID                 uuid.UUID `db:"id"`
	ServerName         string    `db:"server_name"`
	ConfigHash         []byte    `db:"config_hash"`
	RiskLevel          string    `db:"risk_level"`
	Status             string    `db:"status"`
	IsVerified         bool      `db:"is_verified"`
	VerifiedConfigHash []byte    `db:"verified_config_hash"`
	// FactorIDs are the ids of the stored risk factors of a critical server, nil for any other:
	// reading them means parsing the explanation, and the one factor a plan looks up
	// (risk.FactorMalicious) is critical, which makes its server critical.
	FactorIDs       pq.StringArray `db:"factor_ids"`
	RiskFactorsHash []byte         `db:"risk_factors_hash"`
}

// ReportPlan decides, inside the report's transaction, which alerts the report raises, given the
// agent's hostname, its servers before the report (by name) and the report (ids assigned).
type ReportPlan func(hostname *string, previous map[string]PreviousServer, servers []ReportServer) []NewAlert

// ReportOutcome counts what a report changed.
type ReportOutcome struct {
	Unchanged bool
	Created   int64
	Updated   int64
	Dormant   int64
	Alerts    int
	// Announced is the agent_key_revocations row that tells other replicas the agent's report
	// changed (zero when the report was unchanged).
	Announced KeyInvalidation
}

// ApplyReport replaces an agent's inventory with a report, in a transaction that holds the
// agent's row lock: concurrent reports of one agent run one after the other, and one whose hash
// equals the stored report hash (a duplicate that lost the race) changes nothing. It returns
// ErrNotFound when the agent no longer exists.
//
// Reports of one organization that arrive while others are being written are written together,
// up to maxBatchReports at a time (see reportQueue): one transaction and one statement of each
// kind for the whole batch, so the per-transaction costs (round trips, statement overhead, the
// counter triggers, the commit) are paid once per batch rather than once per report. ApplyReport
// returns once the batch holding the report has committed.
func (s *Storage) ApplyReport(ctx context.Context, orgID, agentID uuid.UUID, reportHash []byte, servers []ReportServer, plan ReportPlan) (ReportOutcome, error) {
	return s.reports.submit(ctx, s, &pendingReport{
		org: orgID, agent: agentID, hash: reportHash, servers: servers, plan: plan,
		done: make(chan struct{}),
	})
}

// Batch bounds: a batch takes reports until either is reached (always at least one report).
const (
	maxBatchReports = 32
	maxBatchServers = 1000
	// maxRunningBatches is how many batches are written at once: two keep PostgreSQL busy while
	// a batch makes its round trips. More only add backends contending for the same index
	// pages and WAL: on 2 cores, under 64 connections of changed reports, 1, 2, 4 and 8
	// running batches gave about 510, 505, 460 and 385 reports/s.
	maxRunningBatches = 2
	// batchTimeout bounds a batch's transaction, which outlives any one request's context.
	batchTimeout = time.Minute
)

// pendingReport is a report waiting in the queue, then its result.
type pendingReport struct {
	org, agent uuid.UUID
	hash       []byte
	servers    []ReportServer
	plan       ReportPlan

	done chan struct{} // closed when out and err are set
	out  ReportOutcome
	err  error
}

func (p *pendingReport) finish(out ReportOutcome, err error) {
	p.out, p.err = out, err
	close(p.done)
}

// reportQueue gathers concurrent reports into batches (group commit). There is no timer: a
// report that finds fewer than maxRunningBatches batches running starts one at once, and the
// reports that arrive meanwhile form the next batches, so batches grow with load and a lone
// report waits for nothing.
type reportQueue struct {
	mu      sync.Mutex
	waiting []*pendingReport // in arrival order
	running int
	// busy holds the agents of running batches: an agent's next report waits for its running
	// one, so an agent's reports are applied in the order they arrived.
	busy    map[uuid.UUID]bool
	batches int64 // batches started, for tests
}

func (q *reportQueue) submit(ctx context.Context, s *Storage, p *pendingReport) (ReportOutcome, error) {
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	q.startLocked(ctx, s)
	q.mu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		q.mu.Lock()
		for i, w := range q.waiting {
			if w == p { // not taken by a batch yet: withdraw it
				q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
				q.mu.Unlock()
				return ReportOutcome{}, ctx.Err()
			}
		}
		q.mu.Unlock()
		<-p.done // being written: its result follows within batchTimeout
	}
	return p.out, p.err
}

// startLocked starts batches while reports can be taken and batches may start. Every running
// batch calls it again when it ends, so no report is left waiting.
func (q *reportQueue) startLocked(ctx context.Context, s *Storage) {
	// A batch carries other requests' reports: it must not end with the request that started it.
	ctx = context.WithoutCancel(ctx)
	for q.running < maxRunningBatches {
		batch := q.takeLocked()
		if batch == nil {
			return
		}
		q.running++
		q.batches++
		go func() {
			bctx, cancel := context.WithTimeout(ctx, batchTimeout)
			s.applyBatch(bctx, batch)
			cancel()
			q.mu.Lock()
			q.running--
			for _, p := range batch {
				delete(q.busy, p.agent)
			}
			q.startLocked(ctx, s)
			q.mu.Unlock()
		}()
	}
}

// takeLocked removes the next batch from the queue, or returns nil: the oldest report whose
// agent has no report being written, then, in arrival order, the reports of the same
// organization (a batch is one tenant's transaction) whose agents have no report being written
// or taken, within the bounds.
func (q *reportQueue) takeLocked() []*pendingReport {
	var batch []*pendingReport
	var org uuid.UUID
	servers := 0
	rest := q.waiting[:0]
	for _, p := range q.waiting {
		switch {
		case q.busy[p.agent]:
		case batch == nil:
			org = p.org
			fallthrough
		case p.org == org && len(batch) < maxBatchReports && servers+len(p.servers) <= maxBatchServers:
			batch = append(batch, p)
			servers += len(p.servers)
			if q.busy == nil {
				q.busy = map[uuid.UUID]bool{}
			}
			q.busy[p.agent] = true
			continue
		}
		rest = append(rest, p)
	}
	clear(q.waiting[len(rest):])
	q.waiting = rest
	return batch
}

// applyBatch writes a batch and finishes each of its reports. A failure other than a deadlock
// (retried) is isolated: the reports are written again one by one, so one report's error is
// never another's.
func (s *Storage) applyBatch(ctx context.Context, batch []*pendingReport) {
	var outs []ReportOutcome
	var errs []error
	var err error
	for attempt := 0; ; attempt++ {
		outs, errs, err = s.writeBatch(ctx, batch)
		if err == nil || !isRetryable(err) || attempt == 2 {
			break
		}
	}
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			s.applyBatch(ctx, []*pendingReport{p})
		}
		return
	}
	for i, p := range batch {
		if err != nil {
			p.finish(ReportOutcome{}, err)
		} else {
			p.finish(outs[i], errs[i])
		}
	}
}

// runPlan runs a report's plan, turning a panic into an error: the plan runs on the batch's
// goroutine, where a panic would end the process rather than one request.
func runPlan(plan ReportPlan, hostname *string, previous map[string]PreviousServer, servers []ReportServer) (alerts []NewAlert, err error) {
	if plan == nil {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("planning a report's alerts: panic: %v", r)
		}
	}()
	return plan(hostname, previous, servers), nil
}

// The statements of a batch, prepared (see Storage.prepared). A batch costs six round trips:
// BEGIN, SET LOCAL, lockAgentsSQL, previousServersSQL, applyReportsSQL and COMMIT (plus one to queue
// webhook deliveries when it raised alerts and the organization has webhooks). $1 is always the
// organization and $2, in the first two, the batch's agent ids.
const (
	// lockAgentsSQL locks the batch's agents in id order, so that batches sharing agents wait
	// for each other instead of deadlocking.
	lockAgentsSQL = `SELECT id, hostname, report_hash FROM agents
		WHERE organization_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`

	previousServersSQL = `
		SELECT agent_id, id, server_name, config_hash, risk_level, status, is_verified, verified_config_hash,
			CASE WHEN risk_level = 'critical' THEN ARRAY(SELECT f->>'id' FROM jsonb_array_elements(risk_factors) f) END AS factor_ids,
			risk_factors_hash
		FROM mcp_servers WHERE organization_id = $1 AND agent_id = ANY($2::uuid[])`
)

var (
	// applyReportsSQL writes a batch of planned reports in one statement: $1 organization, $2 the
	// servers (appendReportRow), $3 the agents (reportAgent JSON), $4 the alerts (newAlertJSON),
	// $5 the agents' ids, $6 the ids of the servers that go dormant. The batch's agents are
	// locked and their servers were read under those locks, so the caller knows which servers
	// exist (known), which are new and which the reports no longer list. Rows are matched by
	// primary key, one index probe each (a nested loop over $2's rows, whatever the size of the
	// organization), and the agents through $5: joining $3 instead would scan every agent of
	// the organization, as the planner cannot know how few rows it holds.
	//   - updated: known servers, by primary key, unless their content is unchanged;
	//     verification survives only while the configuration hash it was given for does.
	//     (A plain UPDATE: an INSERT ... ON CONFLICT would probe the name index and lock each
	//     row before updating it, only to find what the caller already knows.)
	//   - inserted: new servers.
	//   - dormant: servers missing from their agent's report.
	//   - agent, announced: the report hashes, and the announcement to other replicas, which
	//     cache them, in the same transaction, so that no crash can separate them; prior, the
	//     announcement each replaced (see KeyInvalidation).
	//   - raised, outbox (raiseAlertsSQL): the alerts the plans found.
	// It returns one row per agent. Alerts may name servers this statement inserts: foreign keys
	// are checked at its end.
	applyReportsSQL = `
		WITH agent_input AS (
			SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(id uuid, report_hash text)
		), input AS (
			SELECT r.id, r.agent_id, r.known, r.server_name, r.server_type, r.command, r.scope,
				COALESCE(r.env_vars, '{}') AS env_vars, r.client, r.config_path, r.transport, r.url, r.enabled,
				decode(r.config_hash, 'hex') AS config_hash, r.risk_level, r.risk_score,
				COALESCE(r.risk_factors, '[]') AS risk_factors, decode(r.risk_factors_hash, 'hex') AS risk_factors_hash
			FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, agent_id uuid, known boolean, server_name text,
				server_type text, command text, scope text, env_vars text[], client text, config_path text,
				transport text, url text, enabled boolean, config_hash text, risk_level text, risk_score integer,
				risk_factors jsonb, risk_factors_hash text)
		), updated AS (
			UPDATE mcp_servers AS m SET
				server_type = r.server_type, command = r.command, scope = r.scope, env_vars = r.env_vars,
				client = r.client, config_path = r.config_path, transport = r.transport, url = r.url,
				enabled = r.enabled, config_hash = r.config_hash, risk_level = r.risk_level, risk_score = r.risk_score,
				-- The stored explanation when its hash is unchanged (then none was sent): as it
				-- mostly is when a command changes.
				risk_factors = CASE WHEN m.risk_factors_hash = r.risk_factors_hash THEN m.risk_factors ELSE r.risk_factors END,
				risk_factors_hash = r.risk_factors_hash, status = 'active',
				is_verified = m.is_verified AND COALESCE(m.verified_config_hash = r.config_hash, false),
				verified_at = CASE WHEN m.verified_config_hash = r.config_hash THEN m.verified_at END,
				verified_by = CASE WHEN m.verified_config_hash = r.config_hash THEN m.verified_by END,
				verified_config_hash = CASE WHEN m.verified_config_hash = r.config_hash THEN m.verified_config_hash END,
				last_seen_at = now(), updated_at = now()
			FROM input r
			WHERE m.organization_id = $1 AND m.id = r.id AND r.known
				AND (m.server_type, m.command, m.scope, m.env_vars, m.client, m.config_path, m.transport, m.url, m.enabled,
					m.config_hash, m.risk_level, m.risk_score, m.risk_factors_hash, m.status)
				IS DISTINCT FROM (r.server_type, r.command, r.scope, r.env_vars, r.client, r.config_path, r.transport,
					r.url, r.enabled, r.config_hash, r.risk_level, r.risk_score, r.risk_factors_hash, 'active')
			RETURNING m.agent_id
		), inserted AS (
			INSERT INTO mcp_servers (organization_id, id, agent_id, server_name, server_type, command, scope, env_vars,
				client, config_path, transport, url, enabled, config_hash, risk_level, risk_score, risk_factors,
				risk_factors_hash, status)
			SELECT $1, r.id, r.agent_id, r.server_name, r.server_type, r.command, r.scope, r.env_vars, r.client,
				r.config_path, r.transport, r.url, r.enabled, r.config_hash, r.risk_level, r.risk_score, r.risk_factors,
				r.risk_factors_hash, 'active'
			FROM input r WHERE NOT r.known
			RETURNING agent_id
		), dormant AS (
			-- "<> 'dormant'", not "= 'active'" (the same, by the CHECK): an equality on status
			-- would offer the planner mcp_servers_list, and without statistics (a fresh
			-- organization's first minute) it took that, scanning every active server of the
			-- organization in every batch; only the primary key matches this.
			UPDATE mcp_servers m SET status = 'dormant', updated_at = now()
			WHERE m.organization_id = $1 AND m.id = ANY($6::uuid[]) AND m.status <> 'dormant'
			RETURNING m.agent_id
		), agent AS (
			-- last_seen_at moves only once 30 seconds old (heartbeats keep it exact):
			-- agents_last_seen indexes it, and an update that leaves every indexed column
			-- alone is HOT, adding no index entries.
			UPDATE agents a SET last_seen_at = CASE WHEN a.last_seen_at >= now() - interval '30 seconds' THEN a.last_seen_at ELSE now() END,
				report_hash = (SELECT decode(x.report_hash, 'hex') FROM agent_input x WHERE x.id = a.id)
			WHERE a.organization_id = $1 AND a.id = ANY($5::uuid[])
			RETURNING a.id, a.key_hash
		), prior AS (
			-- The announcements replaced below, as they were before this statement.
			SELECT k.key_hash, k.revoked_at FROM agent_key_revocations k WHERE k.key_hash IN (SELECT key_hash FROM agent)
		), announced AS (
			INSERT INTO agent_key_revocations AS k (key_hash, revoked_at)
			SELECT key_hash, clock_timestamp() FROM agent ORDER BY key_hash
			ON CONFLICT (key_hash) DO UPDATE SET revoked_at = clock_timestamp()
			RETURNING k.key_hash, k.revoked_at, k.xmax = 0 AS fresh
		), ` + alertInputSQL("$4") + `,` + raiseAlertsSQL + `
		SELECT x.id AS agent_id,
			(SELECT count(*) FROM inserted i WHERE i.agent_id = x.id) AS created,
			(SELECT count(*) FROM updated u WHERE u.agent_id = x.id) AS updated,
			(SELECT count(*) FROM dormant d WHERE d.agent_id = x.id) AS dormant,
			(SELECT count(*) FROM raised r WHERE r.agent_id = x.id) AS alerts,
			-- The created alerts, only when there are webhooks to deliver them to.
			CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE organization_id = $1)
				THEN (SELECT json_agg(r) FROM raised r WHERE r.agent_id = x.id) END AS webhook_alerts,
			k.key_hash, k.revoked_at, COALESCE(k.fresh, false) AS fresh, p.revoked_at AS prior_at
		FROM agent_input x
		LEFT JOIN agent a ON a.id = x.id
		LEFT JOIN announced k ON k.key_hash = a.key_hash
		LEFT JOIN prior p ON p.key_hash = a.key_hash`
)

// appendReportRow appends an agent's server as a JSON object for applyReportsSQL ($2), with the
// hash of its risk factors, and the factors themselves unless the stored row has the same hash
// (storedHash); known says the server is stored already. It writes the known shape directly: encoding/json's reflection, and its
// validating and compacting the factors (already JSON, most of the bytes), cost about 8% of the
// server's CPU under changed reports.
func appendReportRow(buf []byte, agent uuid.UUID, s *ReportServer, known bool, storedHash []byte) []byte {
	factors := s.RiskFactors
	if len(factors) == 0 {
		factors = json.RawMessage("[]")
	}
	sum := sha256.Sum256(factors)
	buf = append(buf, '{')
	buf = appendJSONUUID(jsonenc.Key(buf, "id"), s.ID)
	buf = appendJSONUUID(jsonenc.Key(buf, "agent_id"), agent)
	buf = strconv.AppendBool(jsonenc.Key(buf, "known"), known)
	buf = jsonenc.String(jsonenc.Key(buf, "server_name"), s.ServerName)
	buf = jsonenc.String(jsonenc.Key(buf, "server_type"), s.ServerType)
	buf = jsonenc.String(jsonenc.Key(buf, "command"), s.Command)
	buf = jsonenc.String(jsonenc.Key(buf, "scope"), s.Scope)
	buf = jsonenc.Strings(jsonenc.Key(buf, "env_vars"), s.EnvVars)
	buf = jsonenc.StringPtr(jsonenc.Key(buf, "client"), s.Client)
	buf = jsonenc.StringPtr(jsonenc.Key(buf, "config_path"), s.ConfigPath)
	buf = jsonenc.StringPtr(jsonenc.Key(buf, "transport"), s.Transport)
	buf = jsonenc.StringPtr(jsonenc.Key(buf, "url"), s.URL)
	buf = jsonenc.Key(buf, "enabled")
	if s.Enabled == nil {
		buf = append(buf, "null"...)
	} else {
		buf = strconv.AppendBool(buf, *s.Enabled)
	}
	buf = hex.AppendEncode(append(jsonenc.Key(buf, "config_hash"), '"'), s.ConfigHash)
	buf = append(buf, '"')
	buf = jsonenc.String(jsonenc.Key(buf, "risk_level"), s.RiskLevel)
	buf = strconv.AppendInt(jsonenc.Key(buf, "risk_score"), int64(s.RiskScore), 10)
	buf = hex.AppendEncode(append(jsonenc.Key(buf, "risk_factors_hash"), '"'), sum[:])
	buf = append(buf, '"')
	if !bytes.Equal(storedHash, sum[:]) {
		buf = append(jsonenc.Key(buf, "risk_factors"), factors...)
	}
	return append(buf, '}')
}

// appendJSONUUID appends id as a JSON string.
func appendJSONUUID(buf []byte, id uuid.UUID) []byte {
	return append(appendUUID(append(buf, '"'), id), '"')
}

// reportAgent is how a report's agent travels into applyReportsSQL.
type reportAgent struct {
	ID         uuid.UUID `json:"id"`
	ReportHash string    `json:"report_hash"` // hex
}

// writeBatch writes a batch in one transaction. It returns each report's outcome or error (an
// agent deleted meanwhile is ErrNotFound), or err when the transaction failed as a whole.
func (s *Storage) writeBatch(ctx context.Context, batch []*pendingReport) (outs []ReportOutcome, errs []error, err error) {
	outs, errs = make([]ReportOutcome, len(batch)), make([]error, len(batch))
	orgID := batch[0].org
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// The batch's prepared statements run with their generic plans: by default PostgreSQL
		// plans them again for every execution's parameters, which costs more than running
		// them. Only this transaction: other queries' plans depend on their parameters.
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
			return err
		}
		hostnames, write, err := s.lockBatchAgents(ctx, tx, batch, outs, errs)
		if err != nil || len(write) == 0 {
			return err
		}
		// Read under the agents' locks, so no other report of theirs can change it meanwhile.
		previous, err := s.previousServers(ctx, tx, orgID, write)
		if err != nil {
			return err
		}
		in, err := planBatch(write, hostnames, previous)
		if err != nil {
			return err
		}
		created, err := s.applyPlannedBatch(ctx, tx, orgID, in, write, batch, outs)
		if err != nil {
			return err
		}
		return queueWebhookDeliveries(ctx, tx, orgID, created)
	})
	if err != nil {
		return nil, nil, err
	}
	return outs, errs, nil
}

// lockBatchAgents locks the batch's agents and returns their hostnames and the reports to write:
// of agents that still exist (for the others errs says ErrNotFound), and not already stored (a
// duplicate that lost the race for the agent's lock, which outs calls unchanged).
func (s *Storage) lockBatchAgents(ctx context.Context, tx *sqlx.Tx, batch []*pendingReport, outs []ReportOutcome, errs []error) (map[uuid.UUID]*string, []*pendingReport, error) {
	var locked []struct {
		ID         uuid.UUID `db:"id"`
		Hostname   *string   `db:"hostname"`
		ReportHash []byte    `db:"report_hash"`
	}
	if err := s.prepared(ctx, tx, lockAgentsSQL).SelectContext(ctx, &locked, batch[0].org, pq.Array(agentIDs(batch))); err != nil {
		return nil, nil, err
	}
	hostnames := make(map[uuid.UUID]*string, len(locked))
	stored := make(map[uuid.UUID][]byte, len(locked))
	for _, a := range locked {
		hostnames[a.ID], stored[a.ID] = a.Hostname, a.ReportHash
	}
	var write []*pendingReport
	for i, p := range batch {
		hash, ok := stored[p.agent]
		switch {
		case !ok:
			errs[i] = ErrNotFound
		case string(hash) == string(p.hash):
			outs[i].Unchanged = true
		default:
			write = append(write, p)
		}
	}
	return hostnames, write, nil
}

// previousServers reads the servers of the reports' agents, by agent and name.
func (s *Storage) previousServers(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, reports []*pendingReport) (map[uuid.UUID]map[string]PreviousServer, error) {
	var rows []PreviousServer
	if err := s.prepared(ctx, tx, previousServersSQL).SelectContext(ctx, &rows, orgID, pq.Array(agentIDs(reports))); err != nil {
		return nil, err
	}
	previous := make(map[uuid.UUID]map[string]PreviousServer, len(reports))
	for _, p := range rows {
		if previous[p.AgentID] == nil {
			previous[p.AgentID] = map[string]PreviousServer{}
		}
		previous[p.AgentID][p.ServerName] = p
	}
	return previous, nil
}

func agentIDs(reports []*pendingReport) []string {
	ids := make([]string, len(reports))
	for i, p := range reports {
		ids[i] = p.agent.String()
	}
	return ids
}

// plannedBatch is the parameters of applyReportsSQL for a batch.
type plannedBatch struct {
	rows       []byte // binary jsonb: a version byte, then the text
	agents     []byte // JSON of reportAgent
	alerts     string // alertInput
	dormantIDs []string
}

// planBatch gives the reports' servers their ids (the stored one, or a new one), encodes them,
// finds the servers that go dormant and runs each report's plan for its alerts.
func planBatch(reports []*pendingReport, hostnames map[uuid.UUID]*string, previous map[uuid.UUID]map[string]PreviousServer) (plannedBatch, error) {
	var in plannedBatch
	// The rows travel as binary jsonb: lib/pq sends []byte as is, where a string argument
	// would be copied twice more.
	size := 0
	for _, p := range reports {
		for _, srv := range p.servers {
			size += 512 + len(srv.RiskFactors)
		}
	}
	in.rows = append(make([]byte, 0, size), 1, '[')
	var alerts []NewAlert
	agents := make([]reportAgent, len(reports))
	for k, p := range reports {
		prev := previous[p.agent]
		listed := 0 // of prev's servers
		for j := range p.servers {
			srv := &p.servers[j]
			old, known := prev[srv.ServerName]
			if known {
				srv.ID = old.ID
				listed++
			} else {
				// Time-ordered, so new servers append to the primary key's rightmost leaf.
				id, err := uuid.NewV7()
				if err != nil {
					return in, err
				}
				srv.ID = id
			}
			if len(in.rows) > 2 {
				in.rows = append(in.rows, ',')
			}
			in.rows = appendReportRow(in.rows, p.agent, srv, known, old.RiskFactorsHash)
		}
		// The active servers the report no longer lists go dormant.
		if listed < len(prev) {
			listedNames := make(map[string]bool, len(p.servers))
			for _, srv := range p.servers {
				listedNames[srv.ServerName] = true
			}
			for name, old := range prev {
				if !listedNames[name] && old.Status == "active" {
					in.dormantIDs = append(in.dormantIDs, old.ID.String())
				}
			}
		}
		agents[k] = reportAgent{p.agent, hex.EncodeToString(p.hash)}
		planned, err := runPlan(p.plan, hostnames[p.agent], prev, p.servers)
		if err != nil {
			return in, err
		}
		alerts = append(alerts, planned...)
	}
	in.rows = append(in.rows, ']')
	var err error
	if in.agents, err = json.Marshal(agents); err != nil {
		return in, err
	}
	in.alerts, err = alertInput(alerts)
	return in, err
}

// applyPlannedBatch runs applyReportsSQL for the reports, records each one's outcome in outs
// (by its place in batch), and returns the alerts it created when they are to be delivered to
// webhooks.
func (s *Storage) applyPlannedBatch(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, in plannedBatch, reports, batch []*pendingReport, outs []ReportOutcome) ([]Alert, error) {
	var res []struct {
		AgentID       uuid.UUID  `db:"agent_id"`
		Created       int64      `db:"created"`
		Updated       int64      `db:"updated"`
		Dormant       int64      `db:"dormant"`
		Alerts        int        `db:"alerts"`
		WebhookAlerts []byte     `db:"webhook_alerts"`
		KeyHash       []byte     `db:"key_hash"`
		RevokedAt     *time.Time `db:"revoked_at"`
		Fresh         bool       `db:"fresh"`
		PriorAt       *time.Time `db:"prior_at"`
	}
	if err := s.prepared(ctx, tx, applyReportsSQL).SelectContext(ctx, &res,
		orgID, in.rows, string(in.agents), in.alerts, pq.Array(agentIDs(reports)), pq.Array(in.dormantIDs)); err != nil {
		return nil, err
	}
	index := make(map[uuid.UUID]int, len(batch))
	for i, p := range batch {
		index[p.agent] = i
	}
	var created []Alert
	for _, r := range res {
		out := &outs[index[r.AgentID]]
		out.Created, out.Updated, out.Dormant, out.Alerts = r.Created, r.Updated, r.Dormant, r.Alerts
		if r.RevokedAt != nil {
			out.Announced = KeyInvalidation{KeyHash: r.KeyHash, At: *r.RevokedAt, Fresh: r.Fresh, Prior: r.PriorAt}
		}
		if r.WebhookAlerts != nil {
			var as []Alert
			if err := json.Unmarshal(r.WebhookAlerts, &as); err != nil {
				return nil, fmt.Errorf("created alerts: %w", err)
			}
			created = append(created, as...)
		}
	}
	return created, nil
}
