package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// APIToken is an API token row; only its hash is stored.
type APIToken struct {
	ID         uuid.UUID      `db:"id"`
	Name       string         `db:"name"`
	Prefix     string         `db:"token_prefix"`
	Scopes     pq.StringArray `db:"scopes"`
	CreatedBy  uuid.UUID      `db:"created_by"`
	ExpiresAt  *time.Time     `db:"expires_at"`
	RevokedAt  *time.Time     `db:"revoked_at"`
	LastUsedAt *time.Time     `db:"last_used_at"`
	CreatedAt  time.Time      `db:"created_at"`
}

const apiTokenColumns = `id, name, token_prefix, scopes, created_by, expires_at, revoked_at, last_used_at, created_at`

// CreateAPIToken stores a new token's hash for the admin who created it.
func (s *Storage) CreateAPIToken(ctx context.Context, orgID, createdBy uuid.UUID, name string, hash []byte, prefix string, scopes []string, expiresAt *time.Time) (APIToken, error) {
	var t APIToken
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &t, `
			INSERT INTO api_tokens (organization_id, id, name, token_hash, token_prefix, scopes, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING `+apiTokenColumns, orgID, uuid.New(), name, hash, prefix, pq.StringArray(scopes), createdBy, expiresAt); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "api_token.created", TargetType: "api_token", TargetID: t.ID.String(),
			Summary: map[string]any{"name": name, "scopes": scopes, "token_prefix": prefix, "expires_at": expiresAt}})
	})
	return t, err
}

// ListAPITokens returns a page of the organization's tokens, newest first, and their total.
func (s *Storage) ListAPITokens(ctx context.Context, orgID uuid.UUID, limit, offset int) ([]APIToken, int64, error) {
	return listCredentials[APIToken](ctx, s, apiTokensTable, orgID, limit, offset)
}

// RevokeAPIToken stops a token (ErrNotFound when there is no such token).
func (s *Storage) RevokeAPIToken(ctx context.Context, orgID, id uuid.UUID) error {
	return s.revokeCredential(ctx, apiTokensTable, orgID, id)
}

// UseAPIToken finds a live token by hash and returns it with its creator's current role; it
// records the use at most once a minute. ErrNotFound for an unknown, revoked or expired token.
func (s *Storage) UseAPIToken(ctx context.Context, orgID uuid.UUID, hash []byte) (APIToken, error) {
	var t APIToken
	err := s.db.GetContext(ctx, &t, `
		SELECT `+apiTokenColumns+` FROM api_tokens
		WHERE organization_id = $1 AND token_hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, orgID, hash)
	if err != nil {
		return t, notFound(err)
	}
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > time.Minute {
		if _, err := s.db.ExecContext(ctx, `
			UPDATE api_tokens SET last_used_at = now()
			WHERE organization_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, orgID, t.ID); err != nil {
			return t, err
		}
	}
	return t, nil
}
