package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// ErrTokenReused reports a refresh token presented after it was used or revoked; its whole
// family has been revoked by the time this is returned.
var ErrTokenReused = errors.New("refresh token reused")

// RefreshToken is a refresh token row; only the SHA-256 of the token is ever stored.
type RefreshToken struct {
	ID        uuid.UUID `db:"id"`
	UserID    uuid.UUID `db:"user_id"`
	FamilyID  uuid.UUID `db:"family_id"`
	Hash      []byte    `db:"token_hash"`
	ExpiresAt time.Time `db:"expires_at"`
}

func insertRefreshToken(ctx context.Context, ex sqlx.ExecerContext, orgID uuid.UUID, t RefreshToken) error {
	_, err := ex.ExecContext(ctx, `
		INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, orgID, t.ID, t.UserID, t.FamilyID, t.Hash, t.ExpiresAt)
	return err
}

// CreateRefreshToken stores the first token of a new family (a login).
func (s *Storage) CreateRefreshToken(ctx context.Context, orgID uuid.UUID, t RefreshToken) error {
	return insertRefreshToken(ctx, s.db, orgID, t)
}

// RotateRefreshToken spends the token whose hash is oldHash and stores next in its family, in
// one transaction. The conditional UPDATE lets exactly one of any number of concurrent callers
// spend a token: the others block on the row, then find used_at set. A token that exists but was
// already used or revoked is a replay: the whole family is revoked and ErrTokenReused returned.
// An unknown or expired token is ErrNotFound. next.UserID and next.FamilyID are filled in here;
// the family (the login session) is returned with the user.
func (s *Storage) RotateRefreshToken(ctx context.Context, orgID uuid.UUID, oldHash []byte, next RefreshToken) (UserAuth, uuid.UUID, error) {
	var (
		user   UserAuth
		reused bool
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var spent RefreshToken
		err := tx.GetContext(ctx, &spent, `
			UPDATE refresh_tokens SET used_at = now()
			WHERE organization_id = $1 AND token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
			RETURNING id, user_id, family_id, token_hash, expires_at`, orgID, oldHash)
		if err == nil {
			next.UserID, next.FamilyID = spent.UserID, spent.FamilyID
			if err := insertRefreshToken(ctx, tx, orgID, next); err != nil {
				return err
			}
			return tx.GetContext(ctx, &user, `
				SELECT id, organization_id, role, token_version, password_hash IS NOT NULL AS active
				FROM users WHERE organization_id = $1 AND id = $2`, orgID, spent.UserID)
		}
		if err := notFound(err); !errors.Is(err, ErrNotFound) {
			return err
		}
		var family uuid.UUID
		err = tx.GetContext(ctx, &family, `
			SELECT family_id FROM refresh_tokens
			WHERE organization_id = $1 AND token_hash = $2 AND (used_at IS NOT NULL OR revoked_at IS NOT NULL)`, orgID, oldHash)
		if err != nil {
			return notFound(err) // unknown or merely expired: nothing to revoke
		}
		reused = true
		_, err = tx.ExecContext(ctx, `
			UPDATE refresh_tokens SET revoked_at = now()
			WHERE organization_id = $1 AND family_id = $2 AND revoked_at IS NULL`, orgID, family)
		return err
	})
	if err == nil && reused {
		return UserAuth{}, uuid.Nil, ErrTokenReused
	}
	return user, next.FamilyID, err
}

// RevokeRefreshFamily revokes every token of the login the token belongs to (logout). An
// unknown token revokes nothing and is not an error.
func (s *Storage) RevokeRefreshFamily(ctx context.Context, orgID uuid.UUID, hash []byte) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE refresh_tokens SET revoked_at = now()
		WHERE organization_id = $1 AND revoked_at IS NULL
		  AND family_id = (SELECT family_id FROM refresh_tokens WHERE organization_id = $1 AND token_hash = $2)`, orgID, hash)
	return err
}

func revokeUserRefreshTokens(ctx context.Context, tx *sqlx.Tx, orgID, userID uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `
		UPDATE refresh_tokens SET revoked_at = now()
		WHERE organization_id = $1 AND user_id = $2 AND revoked_at IS NULL`, orgID, userID)
	return err
}
