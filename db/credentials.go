package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// API tokens and enrolment secrets are both an organization's named credentials, stored hashed
// and revoked by a timestamp; their tables share the shape these helpers rely on
// (organization_id, id, name, created_at, revoked_at).

// credentialTable is one of those tables: its name, the columns its rows are read with, and its
// rows' type in the audit log.
type credentialTable struct{ table, columns, kind string }

var (
	apiTokensTable         = credentialTable{"api_tokens", apiTokenColumns, "api_token"}
	enrollmentSecretsTable = credentialTable{"enrollment_secrets", enrollmentSecretColumns, "enrollment_secret"}
)

// listCredentials returns a page of the organization's credentials, newest first, and their
// total.
func listCredentials[T any](ctx context.Context, s *Storage, c credentialTable, orgID uuid.UUID, limit, offset int) ([]T, int64, error) {
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM `+c.table+` WHERE organization_id = $1`, orgID); err != nil {
		return nil, 0, err
	}
	out := []T{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT `+c.columns+` FROM `+c.table+`
		WHERE organization_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, orgID, limit, offset)
	return out, total, err
}

// revokeCredential stops a credential and records it in the audit log (ErrNotFound when there is
// no such credential). Revoking a revoked one keeps its first revocation time.
func (s *Storage) revokeCredential(ctx context.Context, c credentialTable, orgID, id uuid.UUID) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var name string
		if err := tx.GetContext(ctx, &name, `
			UPDATE `+c.table+` SET revoked_at = coalesce(revoked_at, now())
			WHERE organization_id = $1 AND id = $2 RETURNING name`, orgID, id); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: c.kind + ".revoked", TargetType: c.kind, TargetID: id.String(),
			Summary: map[string]any{"name": name}})
	})
}
