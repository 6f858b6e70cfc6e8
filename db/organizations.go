package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Organization is a tenant.
type Organization struct {
	ID         uuid.UUID `db:"id"`
	Name       string    `db:"name"`
	AlertEmail *string   `db:"alert_email"`
	CreatedAt  time.Time `db:"created_at"`
}

const organizationColumns = `id, name, alert_email, created_at`

// CreateOrganization creates an organization and its first user in one transaction, so a taken
// email (ErrEmailTaken) leaves no orphan organization behind.
func (s *Storage) CreateOrganization(ctx context.Context, orgID uuid.UUID, name string, admin NewUser) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, orgID, name); err != nil {
			return err
		}
		var err error
		if out, err = insertUser(ctx, tx, orgID, admin); err != nil {
			return err
		}
		a := actorFrom(ctx)
		a.Type, a.ID = "user", out.ID
		return audit(WithActor(ctx, a), tx, orgID, AuditEvent{Action: "organization.registered", TargetType: "organization", TargetID: orgID.String(),
			Summary: map[string]any{"name": name, "admin_email": out.Email}})
	})
	return out, err
}

// OrganizationByID returns the organization, or ErrNotFound.
func (s *Storage) OrganizationByID(ctx context.Context, orgID uuid.UUID) (Organization, error) {
	var o Organization
	err := s.db.GetContext(ctx, &o, `SELECT `+organizationColumns+` FROM organizations WHERE id = $1`, orgID)
	return o, notFound(err)
}

// OrganizationUpdate lists the fields to change; nil fields stay as they are.
type OrganizationUpdate struct {
	Name *string
	// AlertEmail is set when SetAlertEmail is true; nil then clears it.
	SetAlertEmail bool
	AlertEmail    *string
}

// UpdateOrganization applies the update and returns the organization.
func (s *Storage) UpdateOrganization(ctx context.Context, orgID uuid.UUID, up OrganizationUpdate) (Organization, error) {
	var o Organization
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var before Organization
		if err := tx.GetContext(ctx, &before, `SELECT `+organizationColumns+` FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
			return notFound(err)
		}
		if err := tx.GetContext(ctx, &o, `
			UPDATE organizations SET
				name = COALESCE($2, name),
				alert_email = CASE WHEN $3 THEN $4 ELSE alert_email END,
				updated_at = now()
			WHERE id = $1
			RETURNING `+organizationColumns, orgID, up.Name, up.SetAlertEmail, up.AlertEmail); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "organization.updated", TargetType: "organization", TargetID: orgID.String(),
			Summary: map[string]any{
				"before": map[string]any{"name": before.Name, "alert_email": before.AlertEmail},
				"after":  map[string]any{"name": o.Name, "alert_email": o.AlertEmail},
			}})
	})
	return o, err
}
