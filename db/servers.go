package db

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// where builds the filter's conditions on s, with arguments numbered after orgID ($1).
func (f ServerFilter) where() (string, []any) {
	conds := []string{"s.organization_id = $1"}
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args)+1)))
	}
	if f.RiskLevel != nil {
		add("s.risk_level = $?", *f.RiskLevel)
	}
	if f.Status != nil {
		add("s.status = $?", *f.Status)
	}
	if f.AgentID != nil {
		add("s.agent_id = $?", *f.AgentID)
	}
	if f.Search != nil && *f.Search != "" {
		// lower(...) LIKE matches the trigram indexes on lower(server_name) and lower(server_type).
		add(`(lower(s.server_name) LIKE $? ESCAPE '\' OR lower(s.server_type) LIKE $? ESCAPE '\')`, "%"+escapeLike(strings.ToLower(*f.Search))+"%")
	}
	return strings.Join(conds, " AND "), args
}

// escapeLike makes %, _ and \ match themselves in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListServers returns a page of the organization's servers, riskiest first, and how many match.
func (s *Storage) ListServers(ctx context.Context, orgID uuid.UUID, f ServerFilter) ([]Server, int64, error) {
	where, args := f.where()
	args = append([]any{orgID}, args...)
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM mcp_servers s WHERE `+where, args...); err != nil {
		return nil, 0, err
	}
	servers := []Server{}
	if total == 0 || int64(f.Offset) >= total {
		return servers, total, nil
	}
	n := len(args)
	// The page is chosen on mcp_servers alone, walking a (organization_id, [filter,] risk_score
	// DESC, server_name, id) index; only its rows are then joined and read whole, so deep pages
	// do not drag 25,000 joined rows through the sort.
	err := s.db.SelectContext(ctx, &servers, `
		WITH page AS (
			SELECT s.id, s.risk_score, s.server_name FROM mcp_servers s
			WHERE `+where+`
			ORDER BY s.risk_score DESC, s.server_name, s.id
			LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2)+`
		)
		SELECT `+serverColumns+`
		FROM page p
		JOIN mcp_servers s ON s.organization_id = $1 AND s.id = p.id
		JOIN agents a ON a.organization_id = s.organization_id AND a.id = s.agent_id
		ORDER BY p.risk_score DESC, p.server_name, p.id`, append(args, f.Limit, f.Offset)...)
	return servers, total, err
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

func (s *Storage) applyReport(ctx context.Context, orgID, agentID uuid.UUID, reportHash []byte, servers []ReportServer, plan ReportPlan) (ReportOutcome, error) {
	var out ReportOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var agent struct {
			Hostname   *string `db:"hostname"`
			ReportHash []byte  `db:"report_hash"`
		}
		if err := tx.GetContext(ctx, &agent, `
			SELECT hostname, report_hash FROM agents WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, agentID); err != nil {
			return notFound(err)
		}
		if string(agent.ReportHash) == string(reportHash) {
			out.Unchanged = true
			return nil
		}
		var prevRows []PreviousServer
		if err := tx.SelectContext(ctx, &prevRows, `
			SELECT id, server_name, config_hash, risk_level, status, is_verified, verified_config_hash,
				ARRAY(SELECT f->>'id' FROM jsonb_array_elements(risk_factors) f) AS factor_ids
			FROM mcp_servers WHERE organization_id = $1 AND agent_id = $2`, orgID, agentID); err != nil {
			return err
		}
		previous := make(map[string]PreviousServer, len(prevRows))
		for _, p := range prevRows {
			previous[p.ServerName] = p
		}
		type row struct {
			ReportServer
			ConfigHashHex string `json:"config_hash"`
		}
		rows := make([]row, len(servers))
		names := make([]string, len(servers))
		for i := range servers {
			if p, ok := previous[servers[i].ServerName]; ok {
				servers[i].ID = p.ID
			} else {
				servers[i].ID = uuid.New()
			}
			if servers[i].RiskFactors == nil {
				servers[i].RiskFactors = json.RawMessage("[]")
			}
			rows[i] = row{servers[i], hex.EncodeToString(servers[i].ConfigHash)}
			names[i] = servers[i].ServerName
		}
		payload, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		// One statement upserts the whole report; rows whose content is unchanged are not
		// rewritten. Verification survives only while the configuration hash it was given for does.
		var written []bool
		if err := tx.SelectContext(ctx, &written, `
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
			RETURNING m.xmax = 0`, orgID, agentID, string(payload)); err != nil {
			return err
		}
		for _, created := range written {
			if created {
				out.Created++
			} else {
				out.Updated++
			}
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE mcp_servers SET status = 'dormant', updated_at = now()
			WHERE organization_id = $1 AND agent_id = $2 AND status = 'active' AND server_name <> ALL($3::text[])`,
			orgID, agentID, pq.Array(names))
		if err != nil {
			return err
		}
		out.Dormant, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `
			UPDATE agents SET report_hash = $3, last_seen_at = GREATEST(last_seen_at, now())
			WHERE organization_id = $1 AND id = $2`, orgID, agentID, reportHash); err != nil {
			return err
		}
		if plan != nil {
			alerts := plan(agent.Hostname, previous, servers)
			created, err := insertAlertsTx(ctx, tx, orgID, alerts)
			if err != nil {
				return err
			}
			out.Alerts = len(created)
		}
		return nil
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
