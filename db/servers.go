package db

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Server is one MCP server of the inventory, with its agent's hostname.
type Server struct {
	ID            uuid.UUID      `db:"id"`
	AgentID       uuid.UUID      `db:"agent_id"`
	AgentHostname *string        `db:"agent_hostname"`
	ServerName    string         `db:"server_name"`
	ServerType    string         `db:"server_type"`
	Command       string         `db:"command"`
	Scope         string         `db:"scope"`
	EnvVars       pq.StringArray `db:"env_vars"`
	Client        *string        `db:"client"`
	ConfigPath    *string        `db:"config_path"`
	Transport     *string        `db:"transport"`
	URL           *string        `db:"url"`
	Enabled       *bool          `db:"enabled"`
	RiskLevel     string         `db:"risk_level"`
	RiskScore     int            `db:"risk_score"`
	RiskFactors   []byte         `db:"risk_factors"` // a JSON array of factors
	Status        string         `db:"status"`
	IsVerified    bool           `db:"is_verified"`
	VerifiedAt    *time.Time     `db:"verified_at"`
	VerifiedBy    *uuid.UUID     `db:"verified_by"`
	FirstSeenAt   time.Time      `db:"first_seen_at"`
	LastSeenAt    time.Time      `db:"last_seen_at"`
}

// serverColumns reads a server joined with its agent (a). An active server is in the agent's
// current list, so it was seen whenever the agent last was: unchanged reports and heartbeats
// refresh only the agent row, never the server rows.
const serverColumns = `s.id, s.agent_id, a.hostname AS agent_hostname, s.server_name, s.server_type, s.command, s.scope,
	s.env_vars, s.client, s.config_path, s.transport, s.url, s.enabled, s.risk_level, s.risk_score, s.risk_factors,
	s.status, s.is_verified, s.verified_at, s.verified_by, s.first_seen_at,
	CASE WHEN s.status = 'active' THEN GREATEST(s.last_seen_at, a.last_seen_at) ELSE s.last_seen_at END AS last_seen_at`

// ServerFilter narrows a server listing; nil fields do not filter.
type ServerFilter struct {
	RiskLevel *string
	Status    *string
	AgentID   *uuid.UUID
	// Search is a case-insensitive substring of the name or type, taken literally.
	Search *string
	Limit  int
	Offset int
}

// escapeLike makes %, _ and \ match themselves in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// sqlArgs numbers query arguments as they are added.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// conds returns the filter's conditions on the columns every list structure shares (status,
// risk_level, server_name, server_type), each prefixed with " AND ".
func (f ServerFilter) conds(args *sqlArgs) string {
	var b strings.Builder
	if f.RiskLevel != nil {
		b.WriteString(" AND risk_level = " + args.add(*f.RiskLevel))
	}
	if f.Status != nil {
		b.WriteString(" AND status = " + args.add(*f.Status))
	}
	if f.searching() {
		p := args.add("%" + escapeLike(strings.ToLower(*f.Search)) + "%")
		b.WriteString(` AND (lower(server_name) LIKE ` + p + ` ESCAPE '\' OR lower(server_type) LIKE ` + p + ` ESCAPE '\')`)
	}
	return b.String()
}

func (f ServerFilter) searching() bool { return f.Search != nil && *f.Search != "" }

// maxNameBranches bounds the names a search page is merged from (see ListServers).
const maxNameBranches = 32

// ListServers returns a page of the organization's servers, riskiest first, and how many match.
//
// Apart from agent_id (an agent has at most a few hundred servers, read through the
// (organization_id, agent_id, server_name) key), every filter is a condition on status,
// risk_level, server_name and server_type, so:
//   - the total is a sum over server_counts (see 00005_server_list.sql), which also tells which
//     (status, risk_level) slices hold matching servers and, for a search, which names match;
//   - the page merges ordered index-only scans: one per name when a search matches at most
//     maxNameBranches names (mcp_servers_name_list), otherwise one per (status, risk_level)
//     slice (mcp_servers_list), the search evaluated on the index entries. Page 1,000 reads
//     about 25,000 entries (divided by the share of matching entries when a search matches
//     many names) instead of sorting every match.
func (s *Storage) ListServers(ctx context.Context, orgID uuid.UUID, f ServerFilter) ([]Server, int64, error) {
	if f.AgentID != nil {
		return s.listAgentServers(ctx, orgID, f)
	}
	args := sqlArgs{orgID}
	conds := f.conds(&args)
	names := "'{}'::text[]"
	if f.searching() {
		// Each matching name, prefixed with 1 when the name itself matches (then all its servers
		// do, whatever their type) and 0 when only some of its servers' types do.
		pattern := "$" + strconv.Itoa(len(args)) // conds adds the search pattern last
		names = `ARRAY(SELECT (lower(server_name) LIKE ` + pattern + ` ESCAPE '\')::int || server_name
			FROM c GROUP BY server_name HAVING sum(n) <> 0 ORDER BY server_name LIMIT ` + strconv.Itoa(maxNameBranches+1) + `)`
	}
	var counts struct {
		Total  int64          `db:"total"`
		Slices pq.StringArray `db:"slices"`
		Names  pq.StringArray `db:"names"`
	}
	if err := s.db.GetContext(ctx, &counts, `
		WITH c AS (
			SELECT status, risk_level, server_name, n FROM server_counts WHERE organization_id = $1`+conds+`
		), slices AS (
			SELECT status, risk_level, sum(n) AS n FROM c GROUP BY status, risk_level HAVING sum(n) <> 0
		)
		SELECT COALESCE((SELECT sum(n) FROM slices), 0)::bigint AS total,
			ARRAY(SELECT status || '/' || risk_level FROM slices ORDER BY 1) AS slices,
			`+names+` AS names`, args...); err != nil {
		return nil, 0, err
	}
	servers := []Server{}
	if counts.Total == 0 || int64(f.Offset) >= counts.Total {
		return servers, counts.Total, nil
	}
	var branches []branch
	if f.searching() && len(counts.Names) <= maxNameBranches {
		for _, name := range counts.Names {
			b := branch{filter: f}
			if name[0] == '1' {
				b.filter.Search = nil
			}
			name = name[1:]
			b.name = &name
			branches = append(branches, b)
		}
	} else {
		for _, sl := range counts.Slices {
			status, level, _ := strings.Cut(sl, "/")
			branches = append(branches, branch{status: &status, level: &level, filter: ServerFilter{Search: f.Search}})
		}
	}
	servers, err := s.rankPage(ctx, orgID, branches, f.Limit, f.Offset)
	return servers, counts.Total, err
}

// branch is one ordered index-only scan a page is merged from: the servers of one name
// (mcp_servers_name_list) or of one (status, risk_level) slice (mcp_servers_list), narrowed by
// filter.
type branch struct {
	name          *string
	status, level *string
	filter        ServerFilter
}

// rankPage returns rows [offset, offset+limit) of the union of the branches, in list order
// (risk_score DESC, server_name, id). Each branch is in that order already, so PostgreSQL merges
// them (Merge Append) and stops after offset+limit rows; only the page's rows are then joined
// and read whole.
func (s *Storage) rankPage(ctx context.Context, orgID uuid.UUID, branches []branch, limit, offset int) ([]Server, error) {
	servers := []Server{}
	if len(branches) == 0 {
		return servers, nil
	}
	args := sqlArgs{orgID}
	parts := make([]string, len(branches))
	for i, b := range branches {
		q := `SELECT id, risk_score, server_name FROM mcp_servers WHERE organization_id = $1`
		if b.name != nil {
			q += ` AND server_name = ` + args.add(*b.name)
		}
		if b.status != nil {
			q += ` AND status = ` + args.add(*b.status)
		}
		if b.level != nil {
			q += ` AND risk_level = ` + args.add(*b.level)
		}
		parts[i] = q + b.filter.conds(&args)
	}
	// Each branch carries its own ORDER BY and LIMIT: a UNION ALL member with a WHERE clause is
	// planned as a subquery of its own, and only an ordered one lets the outer query merge.
	lim, off, upTo := args.add(limit), args.add(offset), args.add(offset+limit)
	for i := range parts {
		parts[i] = "(" + parts[i] + " ORDER BY risk_score DESC, server_name, id LIMIT " + upTo + ")"
	}
	err := s.db.SelectContext(ctx, &servers, `
		WITH page AS (
			SELECT id, risk_score, server_name FROM (`+strings.Join(parts, "\n\t\t\tUNION ALL ")+`) u
			ORDER BY risk_score DESC, server_name, id
			LIMIT `+lim+` OFFSET `+off+`
		)
		`+pageRows, args...)
	return servers, err
}

// pageRows turns a page of (id, risk_score, server_name), chosen on mcp_servers alone in a CTE
// named page, into full rows with the agent's hostname, in list order. $1 is the organization.
const pageRows = `SELECT ` + serverColumns + `
		FROM page p
		JOIN mcp_servers s ON s.organization_id = $1 AND s.id = p.id
		JOIN agents a ON a.organization_id = s.organization_id AND a.id = s.agent_id
		ORDER BY p.risk_score DESC, p.server_name, p.id`

// listAgentServers lists one agent's servers: few enough to count and sort directly.
func (s *Storage) listAgentServers(ctx context.Context, orgID uuid.UUID, f ServerFilter) ([]Server, int64, error) {
	args := sqlArgs{orgID}
	where := `organization_id = $1 AND agent_id = ` + args.add(*f.AgentID) + f.conds(&args)
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM mcp_servers WHERE `+where, args...); err != nil {
		return nil, 0, err
	}
	servers := []Server{}
	if total == 0 || int64(f.Offset) >= total {
		return servers, total, nil
	}
	lim, off := args.add(f.Limit), args.add(f.Offset)
	err := s.db.SelectContext(ctx, &servers, `
		WITH page AS (
			SELECT id, risk_score, server_name FROM mcp_servers WHERE `+where+`
			ORDER BY risk_score DESC, server_name, id
			LIMIT `+lim+` OFFSET `+off+`
		)
		`+pageRows, args...)
	return servers, total, err
}

// compactServerCounts folds the server_counts deltas of organizations with more than minRows
// uncompacted rows into one compacted row per (status, risk_level, server_name, server_type),
// moving every delta exactly once as CompactRollups does. It runs with CompactRollups.
func (s *Storage) compactServerCounts(ctx context.Context, minRows int) (int, error) {
	var orgs []uuid.UUID
	if err := s.db.SelectContext(ctx, &orgs, `
		SELECT organization_id FROM server_counts WHERE NOT compacted
		GROUP BY organization_id HAVING count(*) > $1 LIMIT 100`, minRows); err != nil {
		return 0, err
	}
	for _, org := range orgs {
		if _, err := s.db.ExecContext(ctx, `
			WITH moved AS (
				DELETE FROM server_counts WHERE organization_id = $1
				RETURNING status, risk_level, server_name, server_type, n
			)
			INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n, compacted)
			SELECT $1, status, risk_level, server_name, server_type, sum(n), true FROM moved
			GROUP BY status, risk_level, server_name, server_type HAVING sum(n) <> 0`, org); err != nil {
			return 0, err
		}
	}
	return len(orgs), nil
}

// ServerByID returns one server, or ErrNotFound.
func (s *Storage) ServerByID(ctx context.Context, orgID, serverID uuid.UUID) (Server, error) {
	var srv Server
	err := s.db.GetContext(ctx, &srv, `
		SELECT `+serverColumns+`
		FROM mcp_servers s JOIN agents a ON a.organization_id = s.organization_id AND a.id = s.agent_id
		WHERE s.organization_id = $1 AND s.id = $2`, orgID, serverID)
	return srv, notFound(err)
}

// SetServerVerified records that a user verified the server's current configuration, or clears
// the verification. It returns ErrNotFound for an unknown id.
func (s *Storage) SetServerVerified(ctx context.Context, orgID, serverID uuid.UUID, verified bool, by uuid.UUID) error {
	var res string
	var err error
	if verified {
		err = s.db.GetContext(ctx, &res, `
			UPDATE mcp_servers SET is_verified = true, verified_at = now(), verified_by = $3,
				verified_config_hash = config_hash, updated_at = now()
			WHERE organization_id = $1 AND id = $2 RETURNING 'ok'`, orgID, serverID, by)
	} else {
		err = s.db.GetContext(ctx, &res, `
			UPDATE mcp_servers SET is_verified = false, verified_at = NULL, verified_by = NULL,
				verified_config_hash = NULL, updated_at = now()
			WHERE organization_id = $1 AND id = $2 RETURNING 'ok'`, orgID, serverID)
	}
	return notFound(err)
}

// ReportServer is one server of an agent's report, normalized, redacted and scored.
type ReportServer struct {
	ID          uuid.UUID       `json:"id"` // set by ApplyReport
	ServerName  string          `json:"server_name"`
	ServerType  string          `json:"server_type"`
	Command     string          `json:"command"`
	Scope       string          `json:"scope"`
	EnvVars     []string        `json:"env_vars"`
	Client      *string         `json:"client"`
	ConfigPath  *string         `json:"config_path"`
	Transport   *string         `json:"transport"`
	URL         *string         `json:"url"`
	Enabled     *bool           `json:"enabled"`
	ConfigHash  []byte          `json:"-"`
	RiskLevel   string          `json:"risk_level"`
	RiskScore   int             `json:"risk_score"`
	RiskFactors json.RawMessage `json:"risk_factors"`
}

// PreviousServer is the stored state of a server before a report is applied.
type PreviousServer struct {
	ID                 uuid.UUID      `db:"id"`
	ServerName         string         `db:"server_name"`
	ConfigHash         []byte         `db:"config_hash"`
	RiskLevel          string         `db:"risk_level"`
	Status             string         `db:"status"`
	IsVerified         bool           `db:"is_verified"`
	VerifiedConfigHash []byte         `db:"verified_config_hash"`
	FactorIDs          pq.StringArray `db:"factor_ids"`
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

// ApplyReport replaces an agent's inventory with a report, in one transaction that holds the
// agent's row lock: concurrent reports of one agent run one after the other, and one whose hash
// equals the stored report hash (a duplicate that lost the race) changes nothing. It returns
// ErrNotFound when the agent no longer exists.
func (s *Storage) ApplyReport(ctx context.Context, orgID, agentID uuid.UUID, reportHash []byte, servers []ReportServer, plan ReportPlan) (ReportOutcome, error) {
	var out ReportOutcome
	// The agent lock orders every writer of the agent's servers, so a deadlock needs a writer
	// outside that order; retrying keeps one from reaching the client.
	for attempt := 0; ; attempt++ {
		var err error
		out, err = s.applyReport(ctx, orgID, agentID, reportHash, servers, plan)
		if err == nil || !isRetryable(err) || attempt == 2 {
			return out, err
		}
	}
}

// The statements of a report, prepared (see Storage.prepared). A changed report costs five round
// trips: BEGIN, lockAgentSQL, previousServersSQL, applyReportSQL and COMMIT (plus one to queue
// webhook deliveries when it raised alerts and the organization has webhooks).
const (
	lockAgentSQL = `SELECT hostname, report_hash FROM agents WHERE organization_id = $1 AND id = $2 FOR UPDATE`

	previousServersSQL = `
		SELECT id, server_name, config_hash, risk_level, status, is_verified, verified_config_hash,
			ARRAY(SELECT f->>'id' FROM jsonb_array_elements(risk_factors) f) AS factor_ids
		FROM mcp_servers WHERE organization_id = $1 AND agent_id = $2`
)

var (
	// applyReportSQL writes a planned report in one statement: $1 organization, $2 agent, $3 the
	// servers (reportRow JSON), $4 their names, $5 the report hash, $6 the alerts (newAlertJSON).
	//   - upserted: rows whose content is unchanged are not rewritten; verification survives
	//     only while the configuration hash it was given for does.
	//   - dormant: the agent's servers missing from the report (disjoint from upserted's rows).
	//   - agent, announced: the report hash, and the announcement to other replicas, which cache
	//     it, in the same transaction, so that no crash can separate them.
	//   - raised, outbox (raiseAlertsSQL): the alerts the plan found.
	// Alerts may name servers this statement inserts: foreign keys are checked at its end.
	applyReportSQL = `
		WITH upserted AS (
			INSERT INTO mcp_servers AS m (organization_id, id, agent_id, server_name, server_type, command, scope, env_vars,
				client, config_path, transport, url, enabled, config_hash, risk_level, risk_score, risk_factors, status)
			SELECT $1, r.id, $2, r.server_name, r.server_type, r.command, r.scope, COALESCE(r.env_vars, '{}'),
				r.client, r.config_path, r.transport, r.url, r.enabled, decode(r.config_hash, 'hex'),
				r.risk_level, r.risk_score, r.risk_factors, 'active'
			FROM jsonb_to_recordset($3::jsonb) AS r(id uuid, server_name text, server_type text, command text, scope text,
				env_vars text[], client text, config_path text, transport text, url text, enabled boolean, config_hash text,
				risk_level text, risk_score integer, risk_factors jsonb)
			ON CONFLICT (organization_id, agent_id, server_name) DO UPDATE SET
				server_type = EXCLUDED.server_type, command = EXCLUDED.command, scope = EXCLUDED.scope,
				env_vars = EXCLUDED.env_vars, client = EXCLUDED.client, config_path = EXCLUDED.config_path,
				transport = EXCLUDED.transport, url = EXCLUDED.url, enabled = EXCLUDED.enabled,
				config_hash = EXCLUDED.config_hash, risk_level = EXCLUDED.risk_level, risk_score = EXCLUDED.risk_score,
				risk_factors = EXCLUDED.risk_factors, status = 'active',
				is_verified = m.is_verified AND COALESCE(m.verified_config_hash = EXCLUDED.config_hash, false),
				verified_at = CASE WHEN m.verified_config_hash = EXCLUDED.config_hash THEN m.verified_at END,
				verified_by = CASE WHEN m.verified_config_hash = EXCLUDED.config_hash THEN m.verified_by END,
				verified_config_hash = CASE WHEN m.verified_config_hash = EXCLUDED.config_hash THEN m.verified_config_hash END,
				last_seen_at = now(), updated_at = now()
			WHERE (m.server_type, m.command, m.scope, m.env_vars, m.client, m.config_path, m.transport, m.url, m.enabled,
					m.config_hash, m.risk_level, m.risk_score, m.risk_factors, m.status)
				IS DISTINCT FROM (EXCLUDED.server_type, EXCLUDED.command, EXCLUDED.scope, EXCLUDED.env_vars, EXCLUDED.client,
					EXCLUDED.config_path, EXCLUDED.transport, EXCLUDED.url, EXCLUDED.enabled, EXCLUDED.config_hash,
					EXCLUDED.risk_level, EXCLUDED.risk_score, EXCLUDED.risk_factors, 'active')
			RETURNING m.xmax = 0 AS created
		), dormant AS (
			UPDATE mcp_servers SET status = 'dormant', updated_at = now()
			WHERE organization_id = $1 AND agent_id = $2 AND status = 'active' AND server_name <> ALL($4::text[])
			RETURNING 1
		), agent AS (
			UPDATE agents SET report_hash = $5, last_seen_at = GREATEST(last_seen_at, now())
			WHERE organization_id = $1 AND id = $2
			RETURNING key_hash
		), announced AS (
			INSERT INTO agent_key_revocations AS k (key_hash, revoked_at)
			SELECT key_hash, clock_timestamp() FROM agent
			ON CONFLICT (key_hash) DO UPDATE SET revoked_at = clock_timestamp()
			RETURNING k.key_hash, k.revoked_at, k.xmax = 0 AS fresh
		), ` + alertInputSQL("$6") + `,` + raiseAlertsSQL + `
		SELECT
			(SELECT count(*) FROM upserted WHERE created) AS created,
			(SELECT count(*) FROM upserted WHERE NOT created) AS updated,
			(SELECT count(*) FROM dormant) AS dormant,
			(SELECT count(*) FROM raised) AS alerts,
			-- The created alerts, only when there are webhooks to deliver them to.
			CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE organization_id = $1)
				THEN (SELECT json_agg(raised) FROM raised) END AS webhook_alerts,
			a.key_hash, a.revoked_at, COALESCE(a.fresh, false) AS fresh
		FROM (SELECT 1) one LEFT JOIN announced a ON true`
)

// reportRow is how a ReportServer travels into applyReportSQL.
type reportRow struct {
	ReportServer
	ConfigHashHex string `json:"config_hash"`
}

func (s *Storage) applyReport(ctx context.Context, orgID, agentID uuid.UUID, reportHash []byte, servers []ReportServer, plan ReportPlan) (ReportOutcome, error) {
	var out ReportOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		lock := s.prepared(ctx, tx, lockAgentSQL)
		var agent struct {
			Hostname   *string `db:"hostname"`
			ReportHash []byte  `db:"report_hash"`
		}
		if err := lock.GetContext(ctx, &agent, orgID, agentID); err != nil {
			return notFound(err)
		}
		if string(agent.ReportHash) == string(reportHash) {
			out.Unchanged = true
			return nil
		}
		// Read under the agent lock, so no other report of this agent can change it meanwhile.
		prev := s.prepared(ctx, tx, previousServersSQL)
		var prevRows []PreviousServer
		if err := prev.SelectContext(ctx, &prevRows, orgID, agentID); err != nil {
			return err
		}
		previous := make(map[string]PreviousServer, len(prevRows))
		for _, p := range prevRows {
			previous[p.ServerName] = p
		}
		rows := make([]reportRow, len(servers))
		names := make([]string, len(servers))
		for i := range servers {
			if p, ok := previous[servers[i].ServerName]; ok {
				servers[i].ID = p.ID
			} else {
				// Time-ordered, so new servers append to the primary key's rightmost leaf.
				id, err := uuid.NewV7()
				if err != nil {
					return err
				}
				servers[i].ID = id
			}
			if servers[i].RiskFactors == nil {
				servers[i].RiskFactors = json.RawMessage("[]")
			}
			rows[i] = reportRow{servers[i], hex.EncodeToString(servers[i].ConfigHash)}
			names[i] = servers[i].ServerName
		}
		payload, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		var alerts []NewAlert
		if plan != nil {
			alerts = plan(agent.Hostname, previous, servers)
		}
		alertsJSON, err := alertInput(alerts)
		if err != nil {
			return err
		}
		apply := s.prepared(ctx, tx, applyReportSQL)
		var res struct {
			Created       int64      `db:"created"`
			Updated       int64      `db:"updated"`
			Dormant       int64      `db:"dormant"`
			Alerts        int        `db:"alerts"`
			WebhookAlerts []byte     `db:"webhook_alerts"`
			KeyHash       []byte     `db:"key_hash"`
			RevokedAt     *time.Time `db:"revoked_at"`
			Fresh         bool       `db:"fresh"`
		}
		if err := apply.GetContext(ctx, &res, orgID, agentID, string(payload), pq.Array(names), reportHash, alertsJSON); err != nil {
			return err
		}
		out.Created, out.Updated, out.Dormant, out.Alerts = res.Created, res.Updated, res.Dormant, res.Alerts
		if res.RevokedAt != nil {
			out.Announced = KeyInvalidation{KeyHash: res.KeyHash, At: *res.RevokedAt, Fresh: res.Fresh}
		}
		if res.WebhookAlerts == nil {
			return nil
		}
		var created []Alert
		if err := json.Unmarshal(res.WebhookAlerts, &created); err != nil {
			return fmt.Errorf("created alerts: %w", err)
		}
		return queueWebhookDeliveries(ctx, tx, orgID, created)
	})
	return out, err
}

// MarkSilentAgentsDormant marks dormant the active servers of up to batch agents last seen before
// cutoff, and forgets those agents' report hashes so that their next report is applied in full.
// It spans organizations: it is maintenance, not a tenant query. Agents are locked first, as a
// report does, and SKIP LOCKED leaves agents busy elsewhere (a report, another replica's sweep)
// to the next run, so replicas share the work without waiting or deadlocking. It returns how
// agents it handled and how many servers it marked.
func (s *Storage) MarkSilentAgentsDormant(ctx context.Context, cutoff time.Time, batch int) (agents []uuid.UUID, servers int64, err error) {
	var ids pq.StringArray
	err = s.db.QueryRowContext(ctx, `
		WITH silent AS (
			SELECT a.organization_id, a.id FROM agents a
			WHERE a.last_seen_at < $1
				AND EXISTS (SELECT 1 FROM mcp_servers s
					WHERE s.organization_id = a.organization_id AND s.agent_id = a.id AND s.status = 'active')
			LIMIT $2
			FOR UPDATE OF a SKIP LOCKED
		), dormant AS (
			UPDATE mcp_servers s SET status = 'dormant', updated_at = now()
			FROM silent a
			WHERE s.organization_id = a.organization_id AND s.agent_id = a.id AND s.status = 'active'
			RETURNING 1
		), forgotten AS (
			UPDATE agents a SET report_hash = NULL
			FROM silent x WHERE a.organization_id = x.organization_id AND a.id = x.id
			RETURNING a.id
		)
		SELECT ARRAY(SELECT id::text FROM forgotten), (SELECT count(*) FROM dormant)`, cutoff, batch).Scan(&ids, &servers)
	if err != nil {
		return nil, 0, err
	}
	agents = make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, 0, err
		}
		agents = append(agents, u)
	}
	return agents, servers, nil
}

// isRetryable reports a deadlock or serialization failure, which a retry resolves.
func isRetryable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40P01" || pqErr.Code == "40001")
}
