package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// EnrollmentSecret is an enrolment secret row; only its hash is stored.
type EnrollmentSecret struct {
	ID         uuid.UUID  `db:"id"`
	Name       string     `db:"name"`
	Prefix     string     `db:"secret_prefix"`
	ExpiresAt  *time.Time `db:"expires_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	Uses       int64      `db:"uses"`
	LastUsedAt *time.Time `db:"last_used_at"`
	CreatedAt  time.Time  `db:"created_at"`
}

const enrollmentSecretColumns = `id, name, secret_prefix, expires_at, revoked_at, uses, last_used_at, created_at`

// CreateEnrollmentSecret stores a new secret's hash and display prefix.
func (s *Storage) CreateEnrollmentSecret(ctx context.Context, orgID uuid.UUID, name string, hash []byte, prefix string, expiresAt *time.Time) (EnrollmentSecret, error) {
	var e EnrollmentSecret
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &e, `
			INSERT INTO enrollment_secrets (organization_id, id, name, secret_hash, secret_prefix, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+enrollmentSecretColumns, orgID, uuid.New(), name, hash, prefix, expiresAt); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "enrollment_secret.created", TargetType: "enrollment_secret", TargetID: e.ID.String(),
			Summary: map[string]any{"name": name, "secret_prefix": prefix, "expires_at": expiresAt}})
	})
	return e, err
}

// ListEnrollmentSecrets returns a page of the organization's secrets, newest first, and their total.
func (s *Storage) ListEnrollmentSecrets(ctx context.Context, orgID uuid.UUID, limit, offset int) ([]EnrollmentSecret, int64, error) {
	return listCredentials[EnrollmentSecret](ctx, s, enrollmentSecretsTable, orgID, limit, offset)
}

// RevokeEnrollmentSecret stops a secret from enrolling machines (ErrNotFound when there is no
// such secret). Revoking a revoked secret keeps its first revocation time.
func (s *Storage) RevokeEnrollmentSecret(ctx context.Context, orgID, id uuid.UUID) error {
	return s.revokeCredential(ctx, enrollmentSecretsTable, orgID, id)
}

// RotateEnrollmentSecret replaces a secret's value (ErrNotFound when there is no such secret or
// it is revoked).
func (s *Storage) RotateEnrollmentSecret(ctx context.Context, orgID, id uuid.UUID, hash []byte, prefix string) (EnrollmentSecret, error) {
	var e EnrollmentSecret
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &e, `
			UPDATE enrollment_secrets SET secret_hash = $3, secret_prefix = $4
			WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL
			RETURNING `+enrollmentSecretColumns, orgID, id, hash, prefix); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "enrollment_secret.rotated", TargetType: "enrollment_secret", TargetID: id.String(),
			Summary: map[string]any{"name": e.Name, "secret_prefix": prefix}})
	})
	return e, err
}

// Enrolment is a machine enrolling itself with a secret.
type Enrolment struct {
	SecretHash []byte
	MachineID  string
	Name       string
	Meta       AgentMeta
	// The agent key the machine receives.
	KeyHash   []byte
	KeyPrefix string
}

// ErrBadEnrollmentSecret is an unknown, revoked or expired enrolment secret.
var ErrBadEnrollmentSecret = errors.New("unknown, revoked or expired enrolment secret")

// Enroll counts a use of the secret and gives the machine its agent: the agent already bound to
// the machine, with a new key (replacedKey is the old key's hash), or a new agent within the
// organization's limit (ErrAgentLimit). Enrolments of one machine are serialized by a lock on
// its identity, so concurrent ones never create two agents.
func (s *Storage) Enroll(ctx context.Context, orgID uuid.UUID, e Enrolment, maxAgents int) (a Agent, created bool, replacedKey []byte, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var secretID uuid.UUID
		if err := tx.GetContext(ctx, &secretID, `
			UPDATE enrollment_secrets SET uses = uses + 1, last_used_at = now()
			WHERE organization_id = $1 AND secret_hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
			RETURNING id`, orgID, e.SecretHash); err != nil {
			if errors.Is(notFound(err), ErrNotFound) {
				return ErrBadEnrollmentSecret
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0))`, orgID, e.MachineID); err != nil {
			return err
		}
		var existing []uuid.UUID
		if err := tx.SelectContext(ctx, &existing, `
			SELECT id FROM agents WHERE organization_id = $1 AND machine_id = $2
			ORDER BY last_seen_at DESC NULLS LAST, created_at LIMIT 1`, orgID, e.MachineID); err != nil {
			return err
		}
		enrolled := func(a Agent, created bool) error {
			actor := actorFrom(ctx)
			actor.Type, actor.ID = "agent", a.ID
			return audit(WithActor(ctx, actor), tx, orgID, AuditEvent{Action: "agent.enrolled", TargetType: "agent", TargetID: a.ID.String(),
				Summary: map[string]any{"enrollment_secret_id": secretID, "hostname": e.Meta.Hostname, "new_agent": created}})
		}
		if len(existing) == 0 {
			var err error
			if a, err = createAgentTx(ctx, tx, orgID, newAgent{
				Name: e.Name, KeyHash: e.KeyHash, KeyPrefix: e.KeyPrefix, MachineID: &e.MachineID, SecretID: &secretID, Meta: e.Meta,
			}, maxAgents); err != nil {
				return err
			}
			created = true
			return enrolled(a, true)
		}
		var err error
		if replacedKey, err = rotateKeyTx(ctx, tx, orgID, existing[0], e.KeyHash, e.KeyPrefix); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE agents SET hostname = $3, os_type = coalesce($4, os_type), username = coalesce($5, username),
				agent_version = coalesce($6, agent_version), enrollment_secret_id = $7, key_shared_at = NULL
			WHERE organization_id = $1 AND id = $2`,
			orgID, existing[0], e.Meta.Hostname, e.Meta.OSType, e.Meta.Username, e.Meta.AgentVersion, secretID); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &a, `SELECT `+agentColumns+` FROM agents a WHERE a.organization_id = $1 AND a.id = $2`, orgID, existing[0]); err != nil {
			return err
		}
		return enrolled(a, false)
	})
	return a, created, replacedKey, err
}
