package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// BulkAgent is one agent of a bulk load (mcpwarden seed), with the hash of its key.
type BulkAgent struct {
	ID           uuid.UUID
	Name         string
	KeyHash      []byte
	KeyPrefix    string
	Hostname     string
	OSType       string
	Username     string
	AgentVersion string
	LastSeenAt   time.Time
	// ReportHash is the hash of the report the agent's servers came from (nil: none).
	ReportHash []byte
}

// BulkServer is one server of a bulk load. RiskFactors is a JSON array.
type BulkServer struct {
	ID          uuid.UUID
	AgentID     uuid.UUID
	ServerName  string
	ServerType  string
	Command     string
	Scope       string
	EnvVars     []string
	Transport   string
	ConfigHash  []byte
	RiskLevel   string
	RiskScore   int
	RiskFactors string
	Status      string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
}

// CanBypassTriggers reports whether the connected role may set session_replication_role, which
// only superusers can.
func (s *Storage) CanBypassTriggers(ctx context.Context) (bool, error) {
	var super bool
	err := s.db.GetContext(ctx, &super, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)
	return super, err
}

// BulkLoadInventory inserts agents, their keys and their servers into an organization in one
// transaction, by COPY. It is for synthetic loads that can be re-run: the commit is not waited
// for (synchronous_commit off), so a crash may lose the last few seconds of batches.
//
// The counter deltas of the servers (server_counts, server_rollups) are aggregated here and written
// in the same transaction, as every statement that changes mcp_servers writes its own.
//
// With bypassTriggers (the role must be a superuser, see CanBypassTriggers) the load runs as
// pg_restore --disable-triggers does: session_replication_role = replica skips the foreign key
// checks (internal triggers). Foreign keys hold by construction: every server's agent is inserted in this
// transaction, and the organization row is locked FOR KEY SHARE, as the skipped check would have,
// so it cannot be deleted under the load.
func (s *Storage) BulkLoadInventory(ctx context.Context, orgID uuid.UUID, agents []BulkAgent, servers []BulkServer, bypassTriggers bool) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return err
	}
	if bypassTriggers {
		if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR KEY SHARE`, orgID).Scan(&one); err != nil {
			return fmt.Errorf("organization %s: %w", orgID, notFound(err))
		}
	}

	org := appendUUID(nil, orgID)
	err = copyRows(ctx, conn, `COPY agents (organization_id, id, name, key_hash, key_prefix, hostname, os_type, username,
		agent_version, last_seen_at, report_hash) FROM STDIN`, len(agents), func(line []byte, i int) []byte {
		a := &agents[i]
		line = append(line, org...)
		line = appendUUID(append(line, '\t'), a.ID)
		line = appendCopyText(append(line, '\t'), a.Name)
		line = appendCopyBytea(append(line, '\t'), a.KeyHash)
		line = appendCopyText(append(line, '\t'), a.KeyPrefix)
		line = appendCopyText(append(line, '\t'), a.Hostname)
		line = appendCopyText(append(line, '\t'), a.OSType)
		line = appendCopyText(append(line, '\t'), a.Username)
		line = appendCopyText(append(line, '\t'), a.AgentVersion)
		line = appendCopyTime(append(line, '\t'), a.LastSeenAt)
		if a.ReportHash == nil {
			return append(line, '\t', '\\', 'N')
		}
		return appendCopyBytea(append(line, '\t'), a.ReportHash)
	})
	if err != nil {
		return fmt.Errorf("copy agents: %w", err)
	}
	err = copyRows(ctx, conn, `COPY agent_keys (key_hash, organization_id, agent_id) FROM STDIN`, len(agents), func(line []byte, i int) []byte {
		line = appendCopyBytea(line, agents[i].KeyHash)
		line = append(append(line, '\t'), org...)
		return appendUUID(append(line, '\t'), agents[i].ID)
	})
	if err != nil {
		return fmt.Errorf("copy agent keys: %w", err)
	}
	err = copyRows(ctx, conn, `COPY mcp_servers (organization_id, id, agent_id, server_name, server_type, command, scope,
		env_vars, transport, config_hash, risk_level, risk_score, risk_factors, status, first_seen_at, last_seen_at) FROM STDIN`,
		len(servers), func(line []byte, i int) []byte {
			sv := &servers[i]
			line = append(line, org...)
			line = appendUUID(append(line, '\t'), sv.ID)
			line = appendUUID(append(line, '\t'), sv.AgentID)
			line = appendCopyText(append(line, '\t'), sv.ServerName)
			line = appendCopyText(append(line, '\t'), sv.ServerType)
			line = appendCopyText(append(line, '\t'), sv.Command)
			line = appendCopyText(append(line, '\t'), sv.Scope)
			line = appendCopyTextArray(append(line, '\t'), sv.EnvVars)
			line = appendCopyText(append(line, '\t'), sv.Transport)
			line = appendCopyBytea(append(line, '\t'), sv.ConfigHash)
			line = appendCopyText(append(line, '\t'), sv.RiskLevel)
			line = strconv.AppendInt(append(line, '\t'), int64(sv.RiskScore), 10)
			line = appendCopyText(append(line, '\t'), sv.RiskFactors)
			line = appendCopyText(append(line, '\t'), sv.Status)
			line = appendCopyTime(append(line, '\t'), sv.FirstSeenAt)
			return appendCopyTime(append(line, '\t'), sv.LastSeenAt)
		})
	if err != nil {
		return fmt.Errorf("copy servers: %w", err)
	}
	if err := insertCounterDeltas(ctx, tx, orgID, servers); err != nil {
		return err
	}
	return tx.Commit()
}

// copyRows runs a COPY ... FROM STDIN on conn (inside its open transaction), appending rows
// [0, n) as COPY text with row. The text goes to lib/pq's raw CopyData in large chunks: each row
// is encoded once, here, rather than value by value through database/sql.
func copyRows(ctx context.Context, conn *sql.Conn, copySQL string, n int, row func(line []byte, i int) []byte) error {
	return conn.Raw(func(dc any) error {
		stmt, err := dc.(driver.Conn).Prepare(copySQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		raw, ok := stmt.(interface {
			CopyData(ctx context.Context, line string) (driver.Result, error)
		})
		if !ok {
			return fmt.Errorf("the driver's COPY statement (%T) takes no raw lines", stmt)
		}
		// CopyData ends what it is given with a newline, so a chunk of rows goes without its last.
		const chunk = 256 << 10
		buf := make([]byte, 0, chunk+8<<10)
		for i := 0; i < n; i++ {
			buf = append(row(buf, i), '\n')
			if len(buf) >= chunk || i == n-1 {
				if _, err := raw.CopyData(ctx, string(buf[:len(buf)-1])); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		//lint:ignore SA1019 lib/pq ends a COPY with the driver statement's Exec, which has no context form
		_, err = stmt.Exec(nil)
		return err
	})
}

type countKey struct{ status, level, name, serverType string }
type rollupKey struct{ level, serverType string }

// insertCounterDeltas writes the counters' deltas of inserted servers (00005_server_list.sql,
// 00003_alerts.sql): one server_counts row per (status, risk_level, server_name, server_type) and
// one server_rollups row per (risk_level, server_type) of active servers.
func insertCounterDeltas(ctx context.Context, tx *sql.Tx, orgID uuid.UUID, servers []BulkServer) error {
	counts := map[countKey]int64{}
	rollups := map[rollupKey]int64{}
	for i := range servers {
		sv := &servers[i]
		counts[countKey{sv.Status, sv.RiskLevel, sv.ServerName, sv.ServerType}]++
		if sv.Status == "active" {
			rollups[rollupKey{sv.RiskLevel, sv.ServerType}]++
		}
	}
	var statuses, levels, names, types []string
	var ns []int64
	for k, n := range counts {
		statuses, levels, names, types = append(statuses, k.status), append(levels, k.level), append(names, k.name), append(types, k.serverType)
		ns = append(ns, n)
	}
	if len(ns) > 0 {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
			orgID, pq.Array(statuses), pq.Array(levels), pq.Array(names), pq.Array(types), pq.Array(ns)); err != nil {
			return fmt.Errorf("server counts: %w", err)
		}
	}
	levels, types, ns = levels[:0], types[:0], ns[:0]
	for k, n := range rollups {
		levels, types, ns = append(levels, k.level), append(types, k.serverType), append(ns, n)
	}
	if len(ns) > 0 {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])`,
			orgID, pq.Array(levels), pq.Array(types), pq.Array(ns)); err != nil {
			return fmt.Errorf("server rollups: %w", err)
		}
	}
	return nil
}

// COPY text format encoders (https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2).

// appendUUID appends id in its canonical form (also inside JSON: see appendJSONUUID).
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(b, s[:]...)
}

// appendCopyText escapes the characters COPY text treats specially.
func appendCopyText(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\n\r\t") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendCopyBytea writes bytea hex input, its backslash escaped for COPY.
func appendCopyBytea(b []byte, v []byte) []byte {
	b = append(b, '\\', '\\', 'x')
	return hex.AppendEncode(b, v)
}

// appendCopyTextArray writes a text[] literal with every element quoted. The backslashes the
// array syntax needs are escaped once more for COPY.
func appendCopyTextArray(b []byte, elems []string) []byte {
	b = append(b, '{')
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		for j := 0; j < len(e); j++ {
			if e[j] == '"' || e[j] == '\\' {
				b = append(b, '\\', '\\')
			}
			b = appendCopyText(b, e[j:j+1])
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendCopyTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999Z07:00")
}
