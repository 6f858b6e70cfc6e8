package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Agent is an enrolled machine with its server counts.
type Agent struct {
	ID                uuid.UUID  `db:"id"`
	Name              string     `db:"name"`
	Hostname          *string    `db:"hostname"`
	OSType            *string    `db:"os_type"`
	Username          *string    `db:"username"`
	AgentVersion      *string    `db:"agent_version"`
	KeyPrefix         string     `db:"key_prefix"`
	LastSeenAt        *time.Time `db:"last_seen_at"`
	CreatedAt         time.Time  `db:"created_at"`
	ServerCount       int64      `db:"server_count"`
	ActiveServerCount int64      `db:"active_server_count"`
}

// AgentMeta is what a heartbeat reports about the machine.
type AgentMeta struct {
	Hostname     *string `db:"hostname"`
	OSType       *string `db:"os_type"`
	Username     *string `db:"username"`
	AgentVersion *string `db:"agent_version"`
}

// AgentKey is what authenticating an agent key yields: the agent, and the state the hot paths
// compare against to avoid writing (its last heartbeat metadata and last report hash).
type AgentKey struct {
	OrganizationID uuid.UUID `db:"organization_id"`
	KeyHash        []byte    `db:"key_hash"`
	AgentState
}

// AgentsByKeyHashes finds the agents holding some keys; an unknown key is absent from the
// result. One statement on the keys, then one per organization on its agents: agent_keys is
// keyed by the key's hash (distributed by it on Citus), agents by organization, and a join of
// the two would touch every shard. The key cache makes this a miss path (once per agent and
// replica every few hours), and groups the misses of concurrent requests into one call.
func (s *Storage) AgentsByKeyHashes(ctx context.Context, keyHashes [][]byte) ([]AgentKey, error) {
	var refs []struct {
		OrganizationID uuid.UUID `db:"organization_id"`
		AgentID        uuid.UUID `db:"agent_id"`
	}
	if err := s.selectPrepared(ctx, &refs, keyLookupSQL, pq.ByteaArray(keyHashes)); err != nil {
		return nil, err
	}
	byOrg := map[uuid.UUID][]string{}
	for _, r := range refs {
		byOrg[r.OrganizationID] = append(byOrg[r.OrganizationID], r.AgentID.String())
	}
	var out []AgentKey
	for org, ids := range byOrg {
		if err := s.selectPrepared(ctx, &out, agentsByKeySQL, org, pq.Array(ids), pq.ByteaArray(keyHashes)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// selectPrepared runs a query, prepared (see poolStmt): every agent misses the key cache once
// after a replica starts, and planning the lookups cost more than running them. It appends to
// dest.
func (s *Storage) selectPrepared(ctx context.Context, dest any, query string, args ...any) error {
	if st := s.poolStmt(query); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return s.db.SelectContext(ctx, dest, query, args...)
}

// keyLookupSQL finds keys' agents; agentsByKeySQL reads them, and its agents.key_hash check makes
// a half-rotated key (never committed that way, but cheap to rule out) useless.
const (
	keyLookupSQL   = `SELECT organization_id, agent_id FROM agent_keys WHERE key_hash = ANY($1::bytea[])`
	agentsByKeySQL = `SELECT organization_id, key_hash, id, report_hash, hostname, os_type, username, agent_version,
			machine_id, key_shared_at, last_seen_at
		FROM agents WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND key_hash = ANY($3::bytea[])`
)

// CreateAgent enrols an agent with the hash and display prefix of its key, unless the
// organization already has maxAgents (ErrAgentLimit).
func (s *Storage) CreateAgent(ctx context.Context, orgID uuid.UUID, name string, keyHash []byte, keyPrefix string, maxAgents int) (Agent, error) {
	var a Agent
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if a, err = createAgentTx(ctx, tx, orgID, newAgent{Name: name, KeyHash: keyHash, KeyPrefix: keyPrefix}, maxAgents); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "agent.created", TargetType: "agent", TargetID: a.ID.String(),
			Summary: map[string]any{"name": name, "key_prefix": keyPrefix}})
	})
	return a, err
}

// newAgent is an agent to create: its name and key, and for an enrolled machine its identity,
// details and the secret it enrolled with.
type newAgent struct {
	Name      string
	KeyHash   []byte
	KeyPrefix string
	MachineID *string
	SecretID  *uuid.UUID
	Meta      AgentMeta
}

func createAgentTx(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, n newAgent, maxAgents int) (Agent, error) {
	a := Agent{ID: uuid.New(), Name: n.Name, KeyPrefix: n.KeyPrefix,
		Hostname: n.Meta.Hostname, OSType: n.Meta.OSType, Username: n.Meta.Username, AgentVersion: n.Meta.AgentVersion}
	// The organization's row lock makes concurrent enrolments count one after the other. The
	// count is a statement of its own: under READ COMMITTED a statement sees the rows committed
	// before it began, so a count in the locking statement would miss the enrolment that held
	// the lock it waited for.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
		return a, err
	}
	var agents int
	if err := tx.GetContext(ctx, &agents, `SELECT count(*) FROM agents WHERE organization_id = $1`, orgID); err != nil {
		return a, err
	}
	if agents >= maxAgents {
		return a, ErrAgentLimit
	}
	if err := tx.GetContext(ctx, &a.CreatedAt, `
		INSERT INTO agents (organization_id, id, name, key_hash, key_prefix, machine_id, enrollment_secret_id, hostname, os_type, username, agent_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at`,
		orgID, a.ID, n.Name, n.KeyHash, n.KeyPrefix, n.MachineID, n.SecretID, n.Meta.Hostname, n.Meta.OSType, n.Meta.Username, n.Meta.AgentVersion); err != nil {
		return a, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO agent_keys (key_hash, organization_id, agent_id) VALUES ($1, $2, $3)`, n.KeyHash, orgID, a.ID)
	return a, err
}

// ErrAgentLimit is an enrolment past the organization's limit of agents.
var ErrAgentLimit = fmt.Errorf("%w: the organization has as many agents as it may", ErrConflict)

// agentColumns reads an agent (a) with its server counts; $1 is the organization, named in the
// subqueries too: a correlation (s.organization_id = a.organization_id) is known only as each row
// is read, so the plan would cover every organization's partition (on Citus, every shard).
const agentColumns = `a.id, a.name, a.hostname, a.os_type, a.username, a.agent_version, a.key_prefix, a.last_seen_at, a.created_at,
	(SELECT count(*) FROM mcp_servers s WHERE s.organization_id = $1 AND s.agent_id = a.id) AS server_count,
	(SELECT count(*) FROM mcp_servers s WHERE s.organization_id = $1 AND s.agent_id = a.id AND s.status = 'active') AS active_server_count`

// ListAgents returns a page of the organization's agents by name, and how many there are; status
// "online" or "offline" keeps those seen within AgentOnlineWindow or not.
func (s *Storage) ListAgents(ctx context.Context, orgID uuid.UUID, status *string, limit, offset int) ([]Agent, int64, error) {
	args := sqlArgs{orgID}
	where := `a.organization_id = $1`
	if status != nil {
		seen := `a.last_seen_at > now() - ` + args.add(AgentOnlineWindow.Seconds()) + ` * interval '1 second'`
		if *status == "online" {
			where += ` AND ` + seen
		} else {
			where += ` AND NOT COALESCE(` + seen + `, false)`
		}
	}
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM agents a WHERE `+where, args...); err != nil {
		return nil, 0, err
	}
	agents := []Agent{}
	lim, off := args.add(limit), args.add(offset)
	err := s.db.SelectContext(ctx, &agents, `
		SELECT `+agentColumns+`
		FROM agents a
		WHERE `+where+`
		ORDER BY a.name, a.id
		LIMIT `+lim+` OFFSET `+off, args...)
	return agents, total, err
}

// AgentByID returns one agent, or ErrNotFound.
func (s *Storage) AgentByID(ctx context.Context, orgID, agentID uuid.UUID) (Agent, error) {
	var a Agent
	err := s.db.GetContext(ctx, &a, `SELECT `+agentColumns+` FROM agents a WHERE a.organization_id = $1 AND a.id = $2`, orgID, agentID)
	return a, notFound(err)
}

// DeleteAgent removes an agent, its servers and its key, returning the key's hash so the caller
// can forget it at once. Its alerts stay, without the ids of the agent and its servers.
func (s *Storage) DeleteAgent(ctx context.Context, orgID, agentID uuid.UUID) ([]byte, error) {
	var keyHash []byte
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var gone struct {
			KeyHash []byte  `db:"key_hash"`
			Name    string  `db:"name"`
			Host    *string `db:"hostname"`
		}
		// The agent's lock first, as every writer of its servers takes it: the statement below
		// then sees all of them, as they are.
		if err := tx.GetContext(ctx, &gone, `SELECT key_hash, name, hostname FROM agents WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, agentID); err != nil {
			return notFound(err)
		}
		keyHash = gone.KeyHash
		if _, err := tx.ExecContext(ctx, deleteAgentSQL, orgID, agentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_keys WHERE key_hash = $1 AND organization_id = $2`, keyHash, orgID); err != nil {
			return err
		}
		if err := audit(ctx, tx, orgID, AuditEvent{Action: "agent.deleted", TargetType: "agent", TargetID: agentID.String(),
			Summary: map[string]any{"name": gone.Name, "hostname": gone.Host}}); err != nil {
			return err
		}
		return revokeKeyTx(ctx, tx, orgID, keyHash)
	})
	return keyHash, err
}

// deleteAgentSQL deletes a locked agent ($2) of the organization ($1) with its servers, counting
// the servers out of the counters, and clears the ids of the agent and its servers from the
// alerts that name them (which keep the names).
var deleteAgentSQL = `
	WITH gone AS (
		DELETE FROM mcp_servers WHERE organization_id = $1 AND agent_id = $2
		RETURNING id, status, risk_level, server_name, server_type
	), ` + counterDeltasSQL(`SELECT status, risk_level, server_name, server_type, -1 FROM gone`) + `, cleared AS (
		UPDATE alerts SET
			agent_id = NULLIF(agent_id, $2),
			server_id = CASE WHEN server_id IN (SELECT id FROM gone) THEN NULL ELSE server_id END
		WHERE organization_id = $1 AND (agent_id = $2 OR server_id IN (SELECT id FROM gone))
	)
	DELETE FROM agents WHERE organization_id = $1 AND id = $2`

// RotateAgentKey replaces an agent's key in one transaction and returns the old key's hash.
func (s *Storage) RotateAgentKey(ctx context.Context, orgID, agentID uuid.UUID, keyHash []byte, keyPrefix string) ([]byte, error) {
	var old []byte
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if old, err = rotateKeyTx(ctx, tx, orgID, agentID, keyHash, keyPrefix); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "agent.key_rotated", TargetType: "agent", TargetID: agentID.String(),
			Summary: map[string]any{"key_prefix": keyPrefix}})
	})
	return old, err
}

// rotateKeyTx replaces an agent's key and announces the old one's end; it returns the old hash.
func rotateKeyTx(ctx context.Context, tx *sqlx.Tx, orgID, agentID uuid.UUID, keyHash []byte, keyPrefix string) ([]byte, error) {
	var old []byte
	if err := tx.GetContext(ctx, &old, `SELECT key_hash FROM agents WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, agentID); err != nil {
		return nil, notFound(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_keys WHERE key_hash = $1 AND organization_id = $2`, old, orgID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO agent_keys (key_hash, organization_id, agent_id) VALUES ($1, $2, $3)`, keyHash, orgID, agentID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE agents SET key_hash = $3, key_prefix = $4 WHERE organization_id = $1 AND id = $2`, orgID, agentID, keyHash, keyPrefix); err != nil {
		return nil, err
	}
	return old, revokeKeyTx(ctx, tx, orgID, old)
}

// revokeKeyTx announces, in the transaction that deletes or replaces a key, that replicas must
// forget it. clock_timestamp() rather than now(): the row's time is close to its commit, which
// is when pollers can first see it.
func revokeKeyTx(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, keyHash []byte) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO agent_key_revocations AS r (organization_id, key_hash, revoked_at) VALUES ($1, $2, clock_timestamp())
		ON CONFLICT (organization_id, key_hash) DO UPDATE SET revoked_at = clock_timestamp(), replaced_at = r.revoked_at`, orgID, keyHash)
	return err
}

// KeyInvalidation is a row this replica wrote to agent_key_revocations: replicas holding the
// key forget it (and the agent state cached with it) when they next poll. The writer may keep
// its own, already updated, cache entry only if no other replica's announcement hides behind
// this one: when no row for the key existed (Fresh), or when the row it replaced (Prior, where
// the writer reports it) is one the writer has already taken in.
type KeyInvalidation struct {
	KeyHash []byte     `db:"key_hash"`
	At      time.Time  `db:"revoked_at"`
	Fresh   bool       `db:"fresh"`
	Prior   *time.Time `db:"prior_at"`
}

// UpdateAgentMeta writes what a heartbeat reported when it differs from what is stored; it is
// rare (a new hostname or agent version), so it is written at once rather than buffered. The same
// statement announces the change to other replicas, whose cached copy is now stale. The
// invalidation is empty when the agent no longer exists.
func (s *Storage) UpdateAgentMeta(ctx context.Context, orgID, agentID uuid.UUID, m AgentMeta, machineID *string, seen time.Time) (KeyInvalidation, error) {
	var inv KeyInvalidation
	err := s.db.GetContext(ctx, &inv, `
		WITH u AS (
			UPDATE agents SET hostname = $3, os_type = $4, username = $5, agent_version = $6,
				last_seen_at = GREATEST(last_seen_at, $7), machine_id = coalesce($8, machine_id), idle = false
			WHERE organization_id = $1 AND id = $2
			RETURNING key_hash
		)`+announceKeySQL, orgID, agentID, m.Hostname, m.OSType, m.Username, m.AgentVersion, seen, machineID)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyInvalidation{}, nil
	}
	return inv, err
}

// announceKeySQL follows a CTE u that changed an agent's row (RETURNING key_hash): it writes
// the key's announcement (see KeyInvalidation), in the organization $1.
const announceKeySQL = `
		INSERT INTO agent_key_revocations AS r (organization_id, key_hash, revoked_at)
		SELECT $1, key_hash, clock_timestamp() FROM u
		ON CONFLICT (organization_id, key_hash) DO UPDATE SET revoked_at = clock_timestamp(), replaced_at = r.revoked_at
		RETURNING r.key_hash, r.revoked_at, r.replaced_at IS NULL AS fresh`

// KeyRevocation is one row of agent_key_revocations.
type KeyRevocation struct {
	KeyHash   []byte    `db:"key_hash"`
	RevokedAt time.Time `db:"revoked_at"`
}

// KeyRevocationsSince returns the keys announced after since, in every organization (every
// replica polls this: one read, across shards on Citus, and no locks).
func (s *Storage) KeyRevocationsSince(ctx context.Context, since time.Time) ([]KeyRevocation, error) {
	var out []KeyRevocation
	err := s.db.SelectContext(ctx, &out, `SELECT key_hash, revoked_at FROM agent_key_revocations WHERE revoked_at > $1`, since)
	return out, err
}

// PruneKeyRevocations deletes announcements older than age, which every replica has read; any
// replica may run it at any time. It spans organizations (on Citus, a delete on every shard,
// which takes no lock a request waits for: no request writes rows that old).
func (s *Storage) PruneKeyRevocations(ctx context.Context, age time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM agent_key_revocations WHERE revoked_at < now() - $1 * interval '1 microsecond'`, age.Microseconds())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AgentSeen is one buffered last-seen time, with the machine details the heartbeat sent (nil
// when the agent was last seen by a report, which sends none).
type AgentSeen struct {
	OrganizationID uuid.UUID
	AgentID        uuid.UUID
	SeenAt         time.Time
	Meta           *AgentMeta
}

// TouchAgents writes a batch of last-seen times, one statement per organization (each on that
// organization's rows only). It never moves a time backwards, so flushes from several replicas
// can land in any order; a row's machine details are written with its time, so the newest
// heartbeat's details are the ones stored (UpdateAgentMeta moves the time on too).
func (s *Storage) TouchAgents(ctx context.Context, seen []AgentSeen) error {
	byOrg := map[uuid.UUID][]AgentSeen{}
	for _, a := range seen {
		byOrg[a.OrganizationID] = append(byOrg[a.OrganizationID], a)
	}
	for org, all := range byOrg {
		// In key order, so that flushes from several replicas lock rows in the same order, and in
		// transactions of at most touchChunk rows, so that a report of one of those agents waits
		// at most for one chunk's update, not for the whole flush's.
		slices.SortFunc(all, func(a, b AgentSeen) int { return bytes.Compare(a.AgentID[:], b.AgentID[:]) })
		for agents := range slices.Chunk(all, touchChunk) {
			if err := s.touchAgents(ctx, org, agents); err != nil {
				return err
			}
		}
	}
	return nil
}

// touchChunk is the most agents one transaction of TouchAgents updates.
const touchChunk = 1000

// touchAgents writes some of an organization's last-seen times (see TouchAgents).
func (s *Storage) touchAgents(ctx context.Context, org uuid.UUID, agents []AgentSeen) error {
	n := len(agents)
	ids, times := make([]string, n), make([]string, n)
	hasMeta := make(pq.BoolArray, n)
	host, osType, user, version := make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n), make([]sql.NullString, n)
	for i, a := range agents {
		ids[i], times[i] = a.AgentID.String(), a.SeenAt.UTC().Format(time.RFC3339Nano)
		if m := a.Meta; m != nil {
			hasMeta[i] = true
			host[i], osType[i], user[i], version[i] = nullString(m.Hostname), nullString(m.OSType), nullString(m.Username), nullString(m.AgentVersion)
		}
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// A flush updates a few thousand of the organization's agents by key. Costed as a hash
		// join it would read and hash every agent of the organization instead (235 ms at
		// 200,000 agents, growing with the fleet, against 105 ms through the primary key).
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
		UPDATE agents a SET last_seen_at = h.seen, idle = false,
			hostname = CASE WHEN h.has_meta THEN h.hostname ELSE a.hostname END,
			os_type = CASE WHEN h.has_meta THEN h.os_type ELSE a.os_type END,
			username = CASE WHEN h.has_meta THEN h.username ELSE a.username END,
			agent_version = CASE WHEN h.has_meta THEN h.agent_version ELSE a.agent_version END
		FROM unnest($2::uuid[], $3::timestamptz[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS h(id, seen, has_meta, hostname, os_type, username, agent_version)
		WHERE a.organization_id = $1 AND a.id = h.id
			AND (a.last_seen_at IS NULL OR a.last_seen_at < h.seen)`,
			org, pq.Array(ids), pq.Array(times), hasMeta, pq.Array(host), pq.Array(osType), pq.Array(user), pq.Array(version))
		return err
	})
	return err
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// AgentState is the stored state the hot paths compare with to avoid writing: an agent's last
// report hash and heartbeat details.
type AgentState struct {
	AgentID    uuid.UUID `db:"id"`
	ReportHash []byte    `db:"report_hash"`
	AgentMeta
	// MachineID is the machine the key is bound to; KeySharedAt when another machine was last
	// caught using it; LastSeenAt as last flushed.
	MachineID   *string    `db:"machine_id"`
	KeySharedAt *time.Time `db:"key_shared_at"`
	LastSeenAt  *time.Time `db:"last_seen_at"`
}

// AgentStates reads the stored state of some of an organization's agents; a deleted agent is
// absent from the result.
func (s *Storage) AgentStates(ctx context.Context, orgID uuid.UUID, agentIDs []uuid.UUID) ([]AgentState, error) {
	ids := make([]string, len(agentIDs))
	for i, id := range agentIDs {
		ids[i] = id.String()
	}
	var out []AgentState
	err := s.db.SelectContext(ctx, &out, `
		SELECT id, report_hash, hostname, os_type, username, agent_version, machine_id, key_shared_at, last_seen_at
		FROM agents WHERE organization_id = $1 AND id = ANY($2::uuid[])`, orgID, pq.Array(ids))
	return out, err
}

// BindMachine binds an agent's key to the machine that reported with it, and announces the
// change to the other replicas (their cached copies decide heartbeats without reading).
func (s *Storage) BindMachine(ctx context.Context, orgID, agentID uuid.UUID, machineID string) (KeyInvalidation, error) {
	var inv KeyInvalidation
	err := s.db.GetContext(ctx, &inv, `
		WITH u AS (
			UPDATE agents SET machine_id = $3 WHERE organization_id = $1 AND id = $2 RETURNING key_hash
		)`+announceKeySQL, orgID, agentID, machineID)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyInvalidation{}, nil
	}
	return inv, err
}

// MarkKeyShared records that a second machine used the agent's key, announces it to the other
// replicas, and raises the alert (once while it is open).
func (s *Storage) MarkKeyShared(ctx context.Context, orgID, agentID uuid.UUID, alert NewAlert) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			WITH u AS (
				UPDATE agents SET key_shared_at = now() WHERE organization_id = $1 AND id = $2 RETURNING key_hash
			)`+announceKeySQL, orgID, agentID); err != nil {
			return err
		}
		_, err := insertAlertsTx(ctx, tx, orgID, []NewAlert{alert})
		return err
	})
}
