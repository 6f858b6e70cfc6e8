package db

import (
	"context"
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
	// ByName lists by name, then riskiest first, instead of riskiest first, then by name.
	ByName bool
	Limit  int
	Offset int
}

// order is the list's ORDER BY, its columns prefixed (an alias and a dot, or nothing).
func (f ServerFilter) order(prefix string) string {
	if f.ByName {
		return prefix + "server_name, " + prefix + "risk_score DESC, " + prefix + "id"
	}
	return prefix + "risk_score DESC, " + prefix + "server_name, " + prefix + "id"
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
//     maxNameBranches names (mcp_servers_name_list), in either order, otherwise one per
//     (status, risk_level) slice (mcp_servers_list), the search evaluated on the index entries.
//     Page 1,000 reads about 25,000 entries (divided by the share of matching entries when a
//     search matches many names) instead of sorting every match;
//   - a name-ordered page without such a search walks mcp_servers_name_list once (namePage).
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
	switch {
	case f.searching() && len(counts.Names) <= maxNameBranches:
		for _, name := range counts.Names {
			b := branch{filter: f}
			if name[0] == '1' {
				b.filter.Search = nil
			}
			name = name[1:]
			b.name = &name
			branches = append(branches, b)
		}
	case f.ByName:
		servers, err := s.namePage(ctx, orgID, f)
		return servers, counts.Total, err
	default:
		for _, sl := range counts.Slices {
			status, level, _ := strings.Cut(sl, "/")
			branches = append(branches, branch{status: &status, level: &level, filter: ServerFilter{Search: f.Search}})
		}
	}
	servers, err := s.rankPage(ctx, orgID, branches, f.ByName, f.Limit, f.Offset)
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
// (risk_score DESC, server_name, id) or, byName, in name order. Each branch is in that order
// already, so PostgreSQL merges them (Merge Append) and stops after offset+limit rows; only the
// page's rows are then joined and read whole.
func (s *Storage) rankPage(ctx context.Context, orgID uuid.UUID, branches []branch, byName bool, limit, offset int) ([]Server, error) {
	servers := []Server{}
	if len(branches) == 0 {
		return servers, nil
	}
	args := sqlArgs{orgID}
	parts := make([]string, len(branches))
	for i, b := range branches {
		q := `SELECT id, risk_score, server_name FROM mcp_servers WHERE organization_id = $1`
		switch {
		case b.name != nil && byName:
			// A range, not =: a column equal to a constant drops out of a branch's order, and
			// the outer query then sorts every branch's rows instead of merging them.
			name := args.add(*b.name)
			q += ` AND server_name >= ` + name + ` AND server_name <= ` + name
		case b.name != nil:
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
	order := ServerFilter{ByName: byName}
	lim, off, upTo := args.add(limit), args.add(offset), args.add(offset+limit)
	for i := range parts {
		parts[i] = "(" + parts[i] + " ORDER BY " + order.order("") + " LIMIT " + upTo + ")"
	}
	err := s.db.SelectContext(ctx, &servers, `
		WITH page AS (
			SELECT id, risk_score, server_name FROM (`+strings.Join(parts, "\n\t\t\tUNION ALL ")+`) u
			ORDER BY `+order.order("")+`
			LIMIT `+lim+` OFFSET `+off+`
		)
		`+pageRows(order), args...)
	return servers, err
}

// namePage returns rows [offset, offset+limit) in name order: one ordered index-only walk of
// mcp_servers_name_list (organization_id, server_name, risk_score DESC, id), which includes the
// columns every filter but agent_id reads, stopping after offset+limit matches.
func (s *Storage) namePage(ctx context.Context, orgID uuid.UUID, f ServerFilter) ([]Server, error) {
	args := sqlArgs{orgID}
	conds := f.conds(&args)
	lim, off := args.add(f.Limit), args.add(f.Offset)
	servers := []Server{}
	err := s.db.SelectContext(ctx, &servers, `
		WITH page AS (
			SELECT id, risk_score, server_name FROM mcp_servers WHERE organization_id = $1`+conds+`
			ORDER BY `+f.order("")+`
			LIMIT `+lim+` OFFSET `+off+`
		)
		`+pageRows(f), args...)
	return servers, err
}

// pageRows turns a page of (id, risk_score, server_name), chosen on mcp_servers alone in a CTE
// named page, into full rows with the agent's hostname, in f's order. $1 is the organization.
func pageRows(f ServerFilter) string {
	return `SELECT ` + serverColumns + `
		FROM page p
		JOIN mcp_servers s ON s.organization_id = $1 AND s.id = p.id
		JOIN agents a ON a.organization_id = s.organization_id AND a.id = s.agent_id
		ORDER BY ` + f.order("p.")
}

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
			ORDER BY `+f.order("")+`
			LIMIT `+lim+` OFFSET `+off+`
		)
		`+pageRows(f), args...)
	return servers, total, err
}

// compactServerCounts folds the server_counts deltas of organizations with more than minRows
// uncompacted rows into one compacted row per (status, risk_level, server_name, server_type),
// moving every delta exactly once as CompactRollups does. It runs with CompactRollups.
func (s *Storage) compactServerCounts(ctx context.Context, minRows int) (int, error) {
	return s.compactDeltas(ctx, minRows, `SELECT organization_id FROM server_counts WHERE NOT compacted`, `
		WITH moved AS (
			DELETE FROM server_counts WHERE organization_id = $1
			RETURNING status, risk_level, server_name, server_type, n
		)
		INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n, compacted)
		SELECT $1, status, risk_level, server_name, server_type, sum(n), true FROM moved
		GROUP BY status, risk_level, server_name, server_type HAVING sum(n) <> 0`)
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
func (s *Storage) SetServerVerified(ctx context.Context, orgID, serverID uuid.UUID, verified bool, by uuid.UUID, reason *string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var name string
		var err error
		action := "server.verified"
		if verified {
			err = tx.GetContext(ctx, &name, `
				UPDATE mcp_servers SET is_verified = true, verified_at = now(), verified_by = $3,
					verified_config_hash = config_hash, updated_at = now()
				WHERE organization_id = $1 AND id = $2 RETURNING server_name`, orgID, serverID, by)
		} else {
			action = "server.unverified"
			err = tx.GetContext(ctx, &name, `
				UPDATE mcp_servers SET is_verified = false, verified_at = NULL, verified_by = NULL,
					verified_config_hash = NULL, updated_at = now()
				WHERE organization_id = $1 AND id = $2 RETURNING server_name`, orgID, serverID)
		}
		if err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: action, TargetType: "server", TargetID: serverID.String(),
			Summary: withReason(map[string]any{"server_name": name}, reason)})
	})
}

// MarkSilentAgentsDormant marks dormant the active servers of up to batch of the organization's
// agents last seen before cutoff, and forgets those agents' report hashes so that their next
// report is applied in full, announcing that to every replica (agent_key_revocations) in the
// same statement. Agents are locked first, as a report does, and SKIP LOCKED leaves
// agents busy elsewhere (a report, another replica's sweep) to the next run, so replicas share
// the work without waiting or deadlocking. It returns the agents it handled and how many
// servers it marked.
func (s *Storage) MarkSilentAgentsDormant(ctx context.Context, orgID uuid.UUID, cutoff time.Time, batch int) (agents []uuid.UUID, servers int64, err error) {
	var ids pq.StringArray
	err = s.db.QueryRowContext(ctx, `
		WITH silent AS (
			SELECT a.id FROM agents a
			WHERE a.organization_id = $1 AND a.last_seen_at < $2
				AND EXISTS (SELECT 1 FROM mcp_servers s
					WHERE s.organization_id = $1 AND s.agent_id = a.id AND s.status = 'active')
			LIMIT $3
			FOR UPDATE OF a SKIP LOCKED
		), dormant AS (
			UPDATE mcp_servers s SET status = 'dormant', updated_at = now()
			FROM silent a
			WHERE s.organization_id = $1 AND s.agent_id = a.id AND s.status = 'active'
			RETURNING s.server_name, s.risk_level, s.server_type
		), `+counterDeltasSQL(`
			SELECT 'dormant', risk_level, server_name, server_type, 1 FROM dormant
			UNION ALL SELECT 'active', risk_level, server_name, server_type, -1 FROM dormant`)+`, forgotten AS (
			UPDATE agents a SET report_hash = NULL
			FROM silent x WHERE a.organization_id = $1 AND a.id = x.id
			RETURNING a.id, a.key_hash
		), announced AS (
			INSERT INTO agent_key_revocations AS r (organization_id, key_hash, revoked_at)
			SELECT $1, key_hash, clock_timestamp() FROM forgotten ORDER BY key_hash
			ON CONFLICT (organization_id, key_hash) DO UPDATE SET revoked_at = clock_timestamp(), replaced_at = r.revoked_at
		)
		SELECT ARRAY(SELECT id::text FROM forgotten), (SELECT count(*) FROM dormant)`, orgID, cutoff, batch).Scan(&ids, &servers)
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

// IsRetryable reports a deadlock or serialization failure, which a retry resolves.
func IsRetryable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40P01" || pqErr.Code == "40001")
}

// EachServer calls fn with every server ListServers would list for f (Limit and Offset aside), in
// list order (see each).
func (s *Storage) EachServer(ctx context.Context, orgID uuid.UUID, f ServerFilter, fn func(Server) error) error {
	args := sqlArgs{orgID}
	where := `organization_id = $1`
	if f.AgentID != nil {
		where += ` AND agent_id = ` + args.add(*f.AgentID)
	}
	where += f.conds(&args)
	return each(ctx, s.db, fn, `
		SELECT `+serverColumns+`
		FROM mcp_servers s JOIN agents a ON a.organization_id = s.organization_id AND a.id = s.agent_id
		WHERE s.organization_id = $1 AND s.id IN (SELECT id FROM mcp_servers WHERE `+where+`)
		ORDER BY `+f.order("s."), args...)
}
