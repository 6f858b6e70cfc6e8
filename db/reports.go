package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db/jsonenc"
)

// ReportServer is one server of an agent's report, normalized, redacted and scored. It travels
// to the database as appendReportRow writes it.
type ReportServer struct {
	ID          uuid.UUID // set by the planner (impl/ingest)
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
	ServerType         string    `db:"server_type"`
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

// ReportOutcome counts what a report changed.
type ReportOutcome struct {
	Unchanged bool
	Created   int64
	Updated   int64
	Dormant   int64
	Alerts    int
}

// ReportBatch is one transaction that writes the reports of several agents of one organization:
// the agents are locked (LockAgents), their stored servers read under those locks
// (PreviousServers), and the planned reports written with their alerts in one statement (Apply).
// Paying the per-transaction costs (round trips, statement overhead, the counters' deltas, the
// commit) once per batch rather than once per report is what lets a fleet's changed reports
// keep up with PostgreSQL; impl/ingest decides what goes into a batch.
type ReportBatch struct {
	s   *Storage
	tx  *sqlx.Tx
	org uuid.UUID
}

// BeginReportBatch starts a report batch of the organization's agents. The caller ends it with
// Commit or Rollback.
func (s *Storage) BeginReportBatch(ctx context.Context, orgID uuid.UUID) (*ReportBatch, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	// The batch's prepared statements run with their generic plans: by default PostgreSQL plans
	// them again for every execution's parameters, which costs more than running them. Only
	// this transaction: other queries' plans depend on their parameters.
	// Their joins have a batch's rows on one side (tens of agents, hundreds of servers) and the
	// organization's on the other, which must be probed by key: a generic plan made from the
	// statistics of a young organization (or from none) otherwise hashes or merges every server
	// of the organization, for as long as the connection lives.
	if _, err := tx.ExecContext(ctx, reportBatchSettings); err != nil {
		tx.Rollback()
		return nil, err
	}
	return &ReportBatch{s: s, tx: tx, org: orgID}, nil
}

// Commit ends the batch, keeping what it wrote.
func (b *ReportBatch) Commit() error { return b.tx.Commit() }

// Rollback ends the batch, undoing what it wrote; after Commit it does nothing.
func (b *ReportBatch) Rollback() error { return b.tx.Rollback() }

// LockedAgent is an agent of a batch, locked until the batch ends.
type LockedAgent struct {
	Hostname   *string
	ReportHash []byte // of its stored report
}

// LockAgents locks the agents, in id order so that batches sharing agents wait for each other
// instead of deadlocking, and returns those that exist.
func (b *ReportBatch) LockAgents(ctx context.Context, agents []uuid.UUID) (map[uuid.UUID]LockedAgent, error) {
	var locked []struct {
		ID         uuid.UUID `db:"id"`
		Hostname   *string   `db:"hostname"`
		ReportHash []byte    `db:"report_hash"`
	}
	if err := b.s.prepared(ctx, b.tx, lockAgentsSQL).SelectContext(ctx, &locked, b.org, pq.Array(uuidStrings(agents))); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]LockedAgent, len(locked))
	for _, a := range locked {
		out[a.ID] = LockedAgent{Hostname: a.Hostname, ReportHash: a.ReportHash}
	}
	return out, nil
}

// PreviousServers reads the stored servers of locked agents, by agent and name.
func (b *ReportBatch) PreviousServers(ctx context.Context, agents []uuid.UUID) (map[uuid.UUID]map[string]PreviousServer, error) {
	var rows []PreviousServer
	if err := b.s.prepared(ctx, b.tx, previousServersSQL).SelectContext(ctx, &rows, b.org, pq.Array(uuidStrings(agents))); err != nil {
		return nil, err
	}
	previous := make(map[uuid.UUID]map[string]PreviousServer, len(agents))
	for _, p := range rows {
		if previous[p.AgentID] == nil {
			previous[p.AgentID] = map[string]PreviousServer{}
		}
		previous[p.AgentID][p.ServerName] = p
	}
	return previous, nil
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// PlannedReport is a locked agent's report as it is to be stored.
type PlannedReport struct {
	AgentID    uuid.UUID
	ReportHash []byte
	// Servers have their ids: the stored server's for a name in Previous, a new one otherwise.
	Servers []ReportServer
	// Previous is the agent's stored servers, as PreviousServers read them.
	Previous map[string]PreviousServer
}

// BatchWrite is everything a batch writes in its one statement.
type BatchWrite struct {
	Reports []PlannedReport
	// Dormant are the ids of stored active servers that their agents' reports no longer list.
	Dormant []uuid.UUID
	// Alerts are raised exactly once per dedup key, and queued for every webhook of the
	// organization.
	Alerts []NewAlert
}

// reportBatchSettings are the planner settings of a batch's transaction (see BeginReportBatch).
const reportBatchSettings = `SET LOCAL plan_cache_mode = force_generic_plan`

// The statements of a batch, prepared (see Storage.prepared). A batch costs six round trips:
// BEGIN, SET LOCAL, lockAgentsSQL, previousServersSQL, applyReportsSQL and COMMIT (plus one to queue
// webhook deliveries when it raised alerts and the organization has webhooks). $1 is always the
// organization and $2, in the first two, the batch's agent ids.
const (
	// lockAgentsSQL locks the batch's agents in id order, so that batches sharing agents wait
	// for each other instead of deadlocking.
	lockAgentsSQL = `SELECT a.id, a.hostname, a.report_hash FROM unnest($2::uuid[]) AS k(id)
		JOIN agents a ON a.organization_id = $1 AND a.id = k.id ORDER BY a.id FOR UPDATE OF a`

	previousServersSQL = `
		SELECT m.agent_id, m.id, m.server_name, m.server_type, m.config_hash, m.risk_level, m.status, m.is_verified,
			m.verified_config_hash, m.risk_factors_hash,
			CASE WHEN m.risk_level = 'critical' THEN ARRAY(SELECT f->>'id' FROM jsonb_array_elements(m.risk_factors) f) END AS factor_ids
		FROM unnest($2::uuid[]) AS k(id) JOIN mcp_servers m ON m.organization_id = $1 AND m.agent_id = k.id`
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
	//   - counter_delta, counted, rolled (counterDeltasSQL): the counters' deltas of the three;
	//     an updated row's old values travel with it (prev_*, from PreviousServers).
	//   - agent: the report hashes. Nothing is announced to the other replicas, which cache
	//     them: a replica confirms the hash it remembers against the stored one before it calls
	//     a report unchanged (impl/ingest/stored.go).
	//   - raised, outbox (raiseAlertsSQL): the alerts the plans found.
	// It returns one row per agent.
	applyReportsSQL = `
		WITH agent_input AS (
			SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(id uuid, report_hash text)
		), input AS (
			SELECT r.id, r.agent_id, r.known, r.server_name, r.server_type, r.command, r.scope,
				COALESCE(r.env_vars, '{}') AS env_vars, r.client, r.config_path, r.transport, r.url, r.enabled,
				decode(r.config_hash, 'hex') AS config_hash, r.risk_level, r.risk_score,
				COALESCE(r.risk_factors, '[]') AS risk_factors, decode(r.risk_factors_hash, 'hex') AS risk_factors_hash,
				r.prev_status, r.prev_level, r.prev_type
			FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, agent_id uuid, known boolean, server_name text,
				server_type text, command text, scope text, env_vars text[], client text, config_path text,
				transport text, url text, enabled boolean, config_hash text, risk_level text, risk_score integer,
				risk_factors jsonb, risk_factors_hash text, prev_status text, prev_level text, prev_type text)
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
			RETURNING m.agent_id, m.server_name, m.status, m.risk_level, m.server_type, r.prev_status, r.prev_level, r.prev_type
		), inserted AS (
			INSERT INTO mcp_servers (organization_id, id, agent_id, server_name, server_type, command, scope, env_vars,
				client, config_path, transport, url, enabled, config_hash, risk_level, risk_score, risk_factors,
				risk_factors_hash, status)
			SELECT $1, r.id, r.agent_id, r.server_name, r.server_type, r.command, r.scope, r.env_vars, r.client,
				r.config_path, r.transport, r.url, r.enabled, r.config_hash, r.risk_level, r.risk_score, r.risk_factors,
				r.risk_factors_hash, 'active'
			FROM input r WHERE NOT r.known
			RETURNING agent_id, server_name, status, risk_level, server_type
		), dormant AS (
			-- "<> 'dormant'", not "= 'active'" (the same, by the CHECK): an equality on status
			-- would offer the planner mcp_servers_list, and without statistics (a fresh
			-- organization's first minute) it took that, scanning every active server of the
			-- organization in every batch; only the primary key matches this.
			UPDATE mcp_servers m SET status = 'dormant', updated_at = now()
			FROM unnest($6::uuid[]) AS k(id)
			WHERE m.organization_id = $1 AND m.id = k.id AND m.status <> 'dormant'
			RETURNING m.agent_id, m.server_name, m.risk_level, m.server_type
		), ` + counterDeltasSQL(`
			SELECT status, risk_level, server_name, server_type, 1 AS d FROM updated
			UNION ALL SELECT prev_status, prev_level, server_name, prev_type, -1 FROM updated
			UNION ALL SELECT status, risk_level, server_name, server_type, 1 FROM inserted
			UNION ALL SELECT 'dormant', risk_level, server_name, server_type, 1 FROM dormant
			UNION ALL SELECT 'active', risk_level, server_name, server_type, -1 FROM dormant`) + `, agent AS (
			-- last_seen_at moves only once 30 seconds old: heartbeats keep it exact.
			UPDATE agents a SET last_seen_at = CASE WHEN a.last_seen_at >= now() - interval '30 seconds' THEN a.last_seen_at ELSE now() END,
				report_hash = (SELECT decode(x.report_hash, 'hex') FROM agent_input x WHERE x.id = a.id), idle = false
			FROM unnest($5::uuid[]) AS k(id)
			WHERE a.organization_id = $1 AND a.id = k.id
		), ` + alertInputSQL("$4") + `,` + raiseAlertsSQL + `
		SELECT x.id AS agent_id,
			(SELECT count(*) FROM inserted i WHERE i.agent_id = x.id) AS created,
			(SELECT count(*) FROM updated u WHERE u.agent_id = x.id) AS updated,
			(SELECT count(*) FROM dormant d WHERE d.agent_id = x.id) AS dormant,
			(SELECT count(*) FROM raised r WHERE r.agent_id = x.id) AS alerts,
			-- The created alerts, only when there are webhooks to deliver them to.
			CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE organization_id = $1)
				THEN (SELECT json_agg(r) FROM raised r WHERE r.agent_id = x.id) END AS webhook_alerts
		FROM agent_input x`
)

// appendReportRow appends an agent's server as a JSON object for applyReportsSQL ($2), with the
// hash of its risk factors, and the factors themselves unless the stored row has the same hash;
// prev is the stored row (nil for a new server), whose counted columns go along for the
// counters' deltas. It writes the known shape directly: encoding/json's reflection, and its
// validating and compacting the factors (already JSON, most of the bytes), cost about 8% of the
// server's CPU under changed reports.
func appendReportRow(buf []byte, agent uuid.UUID, s *ReportServer, prev *PreviousServer) []byte {
	var storedHash []byte
	if prev != nil {
		storedHash = prev.RiskFactorsHash
	}
	factors := s.RiskFactors
	if len(factors) == 0 {
		factors = json.RawMessage("[]")
	}
	sum := sha256.Sum256(factors)
	buf = append(buf, '{')
	buf = appendJSONUUID(jsonenc.Key(buf, "id"), s.ID)
	buf = appendJSONUUID(jsonenc.Key(buf, "agent_id"), agent)
	buf = strconv.AppendBool(jsonenc.Key(buf, "known"), prev != nil)
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
	if prev != nil {
		buf = jsonenc.String(jsonenc.Key(buf, "prev_status"), prev.Status)
		buf = jsonenc.String(jsonenc.Key(buf, "prev_level"), prev.RiskLevel)
		buf = jsonenc.String(jsonenc.Key(buf, "prev_type"), prev.ServerType)
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

// Apply writes the planned reports, marks the dormant servers, raises the alerts and queues
// their webhook deliveries, and returns each report's outcome, in w.Reports' order.
func (b *ReportBatch) Apply(ctx context.Context, w BatchWrite) ([]ReportOutcome, error) {
	// The rows travel as binary jsonb: lib/pq sends []byte as is, where a string argument
	// would be copied twice more.
	size := 0
	for _, r := range w.Reports {
		for _, srv := range r.Servers {
			size += 512 + len(srv.RiskFactors)
		}
	}
	rows := append(make([]byte, 0, size), 1, '[')
	agents := make([]reportAgent, len(w.Reports))
	ids := make([]uuid.UUID, len(w.Reports))
	for k, r := range w.Reports {
		for j := range r.Servers {
			srv := &r.Servers[j]
			old, known := r.Previous[srv.ServerName]
			if len(rows) > 2 {
				rows = append(rows, ',')
			}
			var prev *PreviousServer
			if known {
				prev = &old
			}
			rows = appendReportRow(rows, r.AgentID, srv, prev)
		}
		agents[k] = reportAgent{r.AgentID, hex.EncodeToString(r.ReportHash)}
		ids[k] = r.AgentID
	}
	rows = append(rows, ']')
	agentsJSON, err := json.Marshal(agents)
	if err != nil {
		return nil, err
	}
	alerts, err := alertInput(w.Alerts)
	if err != nil {
		return nil, err
	}
	outs, created, err := b.applyReports(ctx, rows, agentsJSON, alerts, ids, uuidStrings(w.Dormant))
	if err != nil {
		return nil, err
	}
	return outs, queueWebhookDeliveries(ctx, b.tx, b.org, created)
}

// applyReports runs applyReportsSQL and returns each agent's outcome, in agents' order, and the
// alerts it created when they are to be delivered to webhooks.
func (b *ReportBatch) applyReports(ctx context.Context, rows, agentsJSON []byte, alerts string, agents []uuid.UUID, dormant []string) ([]ReportOutcome, []Alert, error) {
	var res []struct {
		AgentID       uuid.UUID `db:"agent_id"`
		Created       int64     `db:"created"`
		Updated       int64     `db:"updated"`
		Dormant       int64     `db:"dormant"`
		Alerts        int       `db:"alerts"`
		WebhookAlerts []byte    `db:"webhook_alerts"`
	}
	if err := b.s.prepared(ctx, b.tx, applyReportsSQL).SelectContext(ctx, &res,
		b.org, rows, string(agentsJSON), alerts, pq.Array(uuidStrings(agents)), pq.Array(dormant)); err != nil {
		return nil, nil, err
	}
	outs := make([]ReportOutcome, len(agents))
	index := make(map[uuid.UUID]int, len(agents))
	for i, id := range agents {
		index[id] = i
	}
	var created []Alert
	for _, r := range res {
		out := &outs[index[r.AgentID]]
		out.Created, out.Updated, out.Dormant, out.Alerts = r.Created, r.Updated, r.Dormant, r.Alerts
		if r.WebhookAlerts != nil {
			var as []Alert
			if err := json.Unmarshal(r.WebhookAlerts, &as); err != nil {
				return nil, nil, fmt.Errorf("created alerts: %w", err)
			}
			created = append(created, as...)
		}
	}
	return outs, created, nil
}
