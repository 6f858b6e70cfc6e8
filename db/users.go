package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// ErrLastAdmin refuses a change that would leave an organization without an admin.
var ErrLastAdmin = fmt.Errorf("%w: the organization's last admin", ErrConflict)

// ErrEmailTaken refuses an email that another account (in any organization) already uses.
var ErrEmailTaken = fmt.Errorf("%w: email already registered", ErrConflict)

// UserAuth is what authentication needs to know about a user.
type UserAuth struct {
	ID             uuid.UUID `db:"id"`
	OrganizationID uuid.UUID `db:"organization_id"`
	Role           string    `db:"role"`
	TokenVersion   int       `db:"token_version"`
	Active         bool      `db:"active"`
	// SessionOpen: the login asked about has a refresh token that is not revoked (always true
	// when no login was asked about).
	SessionOpen bool `db:"session_open"`
	// ChangedLSN is the primary's WAL position after the user's last change (MarkChanged): their
	// reads go to a read replica only once it has replayed this far.
	ChangedLSN LSN `db:"changed_lsn"`
}

// UserAuthByID returns the user's role and token version, and whether the login session (the
// refresh-token family; uuid.Nil for none) is still open, or ErrNotFound.
func (s *Storage) UserAuthByID(ctx context.Context, orgID, userID, session uuid.UUID) (UserAuth, error) {
	var u UserAuth
	err := s.db.GetContext(ctx, &u, `
		SELECT id, organization_id, role, token_version, password_hash IS NOT NULL AS active, changed_lsn,
			$3 = '00000000-0000-0000-0000-000000000000'::uuid OR EXISTS (
				SELECT 1 FROM refresh_tokens r
				WHERE r.organization_id = $1 AND r.family_id = $3 AND r.user_id = $2 AND r.revoked_at IS NULL
			) AS session_open
		FROM users WHERE organization_id = $1 AND id = $2`, orgID, userID, session)
	return u, notFound(err)
}

// User is a user row. PasswordHash never leaves impl: handlers convert to the API's User, which
// has no such field.
type User struct {
	ID             uuid.UUID      `db:"id"`
	OrganizationID uuid.UUID      `db:"organization_id"`
	Email          string         `db:"email"`
	FullName       string         `db:"full_name"`
	Role           string         `db:"role"`
	PasswordHash   sql.NullString `db:"password_hash"`
	TokenVersion   int            `db:"token_version"`
	CreatedAt      time.Time      `db:"created_at"`
}

// Auth returns what access tokens are issued from.
func (u User) Auth() UserAuth {
	return UserAuth{ID: u.ID, OrganizationID: u.OrganizationID, Role: u.Role, TokenVersion: u.TokenVersion, Active: u.PasswordHash.Valid}
}

const userColumns = `id, organization_id, email, full_name, role, password_hash, token_version, created_at`

// NewUser is a user to insert. PasswordHash is empty for an invited member, who gets a setup
// token instead.
type NewUser struct {
	ID                  uuid.UUID
	Email               string
	FullName            string
	Role                string
	PasswordHash        string
	SetupTokenHash      []byte
	SetupTokenExpiresAt time.Time
}

// UserByEmail finds a user from an email alone, case-insensitively, for login. The global
// user_emails lookup gives the organization, so the users query still filters on it.
func (s *Storage) UserByEmail(ctx context.Context, email string) (User, error) {
	var ref struct {
		OrgID  uuid.UUID `db:"organization_id"`
		UserID uuid.UUID `db:"user_id"`
	}
	err := s.db.GetContext(ctx, &ref, `SELECT organization_id, user_id FROM user_emails WHERE email_lower = $1`, strings.ToLower(email))
	if err != nil {
		return User{}, notFound(err)
	}
	return s.UserByID(ctx, ref.OrgID, ref.UserID)
}

// UserByID returns one user of the organization, or ErrNotFound.
func (s *Storage) UserByID(ctx context.Context, orgID, userID uuid.UUID) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users WHERE organization_id = $1 AND id = $2`, orgID, userID)
	return u, notFound(err)
}

// insertUser claims the email globally, then inserts the user; a taken email is ErrEmailTaken.
func insertUser(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, u NewUser) (User, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_emails (email_lower, organization_id, user_id) VALUES ($1, $2, $3)`,
		strings.ToLower(u.Email), orgID, u.ID); err != nil {
		if isUniqueViolation(err) {
			return User{}, ErrEmailTaken
		}
		return User{}, err
	}
	// NULLs, not empty values, for what the user does not have.
	var (
		out                         User
		hash, setupHash, setupUntil any
	)
	if u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	if u.SetupTokenHash != nil {
		setupHash, setupUntil = u.SetupTokenHash, u.SetupTokenExpiresAt
	}
	err := tx.GetContext(ctx, &out, `
		INSERT INTO users (organization_id, id, email, full_name, role, password_hash, setup_token_hash, setup_token_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+userColumns, orgID, u.ID, u.Email, u.FullName, u.Role, hash, setupHash, setupUntil)
	return out, err
}

// CreateMember adds a user to the organization.
func (s *Storage) CreateMember(ctx context.Context, orgID uuid.UUID, u NewUser) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = insertUser(ctx, tx, orgID, u); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "member.invited", TargetType: "user", TargetID: out.ID.String(),
			Summary: map[string]any{"email": out.Email, "role": out.Role}})
	})
	return out, err
}

// UpdateProfile changes the user's name and/or email. A new email is claimed in user_emails in
// the same transaction, so two accounts can never end up sharing one.
func (s *Storage) UpdateProfile(ctx context.Context, orgID, userID uuid.UUID, fullName, email *string) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var cur User
		if err := tx.GetContext(ctx, &cur, `SELECT `+userColumns+` FROM users WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, userID); err != nil {
			return notFound(err)
		}
		if email != nil && !strings.EqualFold(*email, cur.Email) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM user_emails WHERE email_lower = $1 AND organization_id = $2 AND user_id = $3`,
				strings.ToLower(cur.Email), orgID, userID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_emails (email_lower, organization_id, user_id) VALUES ($1, $2, $3)`,
				strings.ToLower(*email), orgID, userID); err != nil {
				if isUniqueViolation(err) {
					return ErrEmailTaken
				}
				return err
			}
		}
		if err := tx.GetContext(ctx, &out, `
			UPDATE users SET full_name = COALESCE($3, full_name), email = COALESCE($4, email), updated_at = now()
			WHERE organization_id = $1 AND id = $2
			RETURNING `+userColumns, orgID, userID, fullName, email); err != nil {
			return err
		}
		before, after := map[string]any{}, map[string]any{}
		if cur.FullName != out.FullName {
			before["full_name"], after["full_name"] = cur.FullName, out.FullName
		}
		if cur.Email != out.Email {
			before["email"], after["email"] = cur.Email, out.Email
		}
		if len(after) == 0 {
			return nil
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "user.profile_changed", TargetType: "user", TargetID: userID.String(),
			Summary: map[string]any{"before": before, "after": after}})
	})
	return out, err
}

// RehashPassword replaces the hash with one at current parameters, unless the password changed
// in the meantime (the old hash no longer matches).
func (s *Storage) RehashPassword(ctx context.Context, orgID, userID uuid.UUID, oldHash, newHash string) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE users SET password_hash = $4 WHERE organization_id = $1 AND id = $2 AND password_hash = $3`,
		orgID, userID, oldHash, newHash)
	return err
}

// ChangePassword sets a new hash, bumps token_version so that every access token issued before
// dies, and revokes every refresh token of the user, all at once. It fails with ErrConflict when
// the hash is no longer oldHash (a concurrent change won).
func (s *Storage) ChangePassword(ctx context.Context, orgID, userID uuid.UUID, oldHash, newHash string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE users SET password_hash = $4, token_version = token_version + 1, updated_at = now()
			WHERE organization_id = $1 AND id = $2 AND password_hash = $3`, orgID, userID, oldHash, newHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrConflict
		}
		if err := audit(ctx, tx, orgID, AuditEvent{Action: "user.password_changed", TargetType: "user", TargetID: userID.String()}); err != nil {
			return err
		}
		return revokeUserRefreshTokens(ctx, tx, orgID, userID)
	})
}

// InvitedUser returns the not-yet-active user a live setup token belongs to, or ErrNotFound.
func (s *Storage) InvitedUser(ctx context.Context, orgID uuid.UUID, setupTokenHash []byte) (User, error) {
	var u User
	err := s.db.GetContext(ctx, &u, `
		SELECT `+userColumns+` FROM users
		WHERE organization_id = $1 AND setup_token_hash = $2 AND setup_token_expires_at > now() AND password_hash IS NULL`,
		orgID, setupTokenHash)
	return u, notFound(err)
}

// AcceptInvitation sets the invited user's password and burns the setup token in one statement,
// so a token works once even when presented concurrently; ErrNotFound when it no longer works.
func (s *Storage) AcceptInvitation(ctx context.Context, orgID uuid.UUID, setupTokenHash []byte, passwordHash string) (User, error) {
	var u User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &u, `
			UPDATE users SET password_hash = $3, setup_token_hash = NULL, setup_token_expires_at = NULL,
				token_version = token_version + 1, updated_at = now()
			WHERE organization_id = $1 AND setup_token_hash = $2 AND setup_token_expires_at > now() AND password_hash IS NULL
			RETURNING `+userColumns, orgID, setupTokenHash, passwordHash); err != nil {
			return notFound(err)
		}
		a := actorFrom(ctx)
		a.Type, a.ID = "user", u.ID
		return audit(WithActor(ctx, a), tx, orgID, AuditEvent{Action: "member.invitation_accepted", TargetType: "user", TargetID: u.ID.String(),
			Summary: map[string]any{"email": u.Email}})
	})
	return u, err
}

// ListMembers returns a page of the organization's users, oldest first, and their total.
func (s *Storage) ListMembers(ctx context.Context, orgID uuid.UUID, limit, offset int) ([]User, int64, error) {
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM users WHERE organization_id = $1`, orgID); err != nil {
		return nil, 0, err
	}
	users := []User{}
	err := s.db.SelectContext(ctx, &users, `
		SELECT `+userColumns+` FROM users WHERE organization_id = $1
		ORDER BY created_at, id LIMIT $2 OFFSET $3`, orgID, limit, offset)
	return users, total, err
}

// lockAdmins locks the organization's admin rows and returns their ids. Every change that can
// remove an admin takes these locks first, so two concurrent demotions or removals cannot both
// see "another admin remains" and leave none.
func lockAdmins(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tx.SelectContext(ctx, &ids, `SELECT id FROM users WHERE organization_id = $1 AND role = 'admin' ORDER BY id FOR UPDATE`, orgID)
	return ids, err
}

func wouldRemoveLastAdmin(admins []uuid.UUID, userID uuid.UUID) bool {
	return len(admins) == 1 && admins[0] == userID
}

// UpdateMemberRole changes a user's role; demoting the last admin is ErrLastAdmin. The role is
// read from the database on every request, so the change applies to existing tokens at once.
func (s *Storage) UpdateMemberRole(ctx context.Context, orgID, userID uuid.UUID, role string) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		admins, err := lockAdmins(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if role != "admin" && wouldRemoveLastAdmin(admins, userID) {
			return ErrLastAdmin
		}
		var before string
		if err := tx.GetContext(ctx, &before, `SELECT role FROM users WHERE organization_id = $1 AND id = $2`, orgID, userID); err != nil {
			return notFound(err)
		}
		if err := tx.GetContext(ctx, &out, `
			UPDATE users SET role = $3, updated_at = now() WHERE organization_id = $1 AND id = $2
			RETURNING `+userColumns, orgID, userID, role); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "member.role_changed", TargetType: "user", TargetID: userID.String(),
			Summary: map[string]any{"email": out.Email, "before": before, "after": role}})
	})
	return out, err
}

// DeleteMember removes a user, their email claim and (by cascade) their refresh tokens; their
// access tokens fail from then on because the user no longer exists. Removing the last admin is
// ErrLastAdmin.
func (s *Storage) DeleteMember(ctx context.Context, orgID, userID uuid.UUID) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		admins, err := lockAdmins(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if wouldRemoveLastAdmin(admins, userID) {
			return ErrLastAdmin
		}
		var gone struct {
			Email string `db:"email"`
			Role  string `db:"role"`
		}
		err = tx.GetContext(ctx, &gone, `DELETE FROM users WHERE organization_id = $1 AND id = $2 RETURNING email, role`, orgID, userID)
		if err != nil {
			return notFound(err)
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM user_emails WHERE email_lower = $1 AND organization_id = $2 AND user_id = $3`,
			strings.ToLower(gone.Email), orgID, userID); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "member.removed", TargetType: "user", TargetID: userID.String(),
			Summary: map[string]any{"email": gone.Email, "role": gone.Role}})
	})
}
