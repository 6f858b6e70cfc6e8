package db

import (
	"context"

	"github.com/google/uuid"
)

// UserAuth is what authentication needs to know about a user.
type UserAuth struct {
	ID             uuid.UUID `db:"id"`
	OrganizationID uuid.UUID `db:"organization_id"`
	Role           string    `db:"role"`
	TokenVersion   int       `db:"token_version"`
	Active         bool      `db:"active"`
}

// UserAuthByID returns the user's role and token version, or ErrNotFound.
func (s *Storage) UserAuthByID(ctx context.Context, orgID, userID uuid.UUID) (UserAuth, error) {
	var u UserAuth
	err := s.db.GetContext(ctx, &u, `
		SELECT id, organization_id, role, token_version, password_hash IS NOT NULL AS active
		FROM users WHERE organization_id = $1 AND id = $2`, orgID, userID)
	return u, notFound(err)
}
