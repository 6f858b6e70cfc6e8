package apitest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// SeedUser inserts a new organization with one user of the given role directly in the database
// and returns the user and an access token, for tests whose subject is not accounts.
func (e *Env) SeedUser(t testing.TB, role string) (db.UserAuth, string) {
	t.Helper()
	u := db.UserAuth{ID: uuid.New(), OrganizationID: uuid.New(), Role: role, Active: true}
	conn := e.Store.DB()
	conn.MustExec(`INSERT INTO organizations (id, name) VALUES ($1, $2)`, u.OrganizationID, "Org "+u.OrganizationID.String()[:8])
	e.addUser(t, u)
	token, err := e.AccessToken(u)
	if err != nil {
		t.Fatal(err)
	}
	return u, token
}

// SeedMember adds a user of the given role to an existing organization and returns a token.
func (e *Env) SeedMember(t testing.TB, orgID uuid.UUID, role string) (db.UserAuth, string) {
	t.Helper()
	u := db.UserAuth{ID: uuid.New(), OrganizationID: orgID, Role: role, Active: true}
	e.addUser(t, u)
	token, err := e.AccessToken(u)
	if err != nil {
		t.Fatal(err)
	}
	return u, token
}

func (e *Env) addUser(t testing.TB, u db.UserAuth) {
	email := u.ID.String() + "@example.com"
	conn := e.Store.DB()
	conn.MustExec(`INSERT INTO users (organization_id, id, email, full_name, role, password_hash)
		VALUES ($1, $2, $3, 'Test User', $4, 'unusable')`, u.OrganizationID, u.ID, email, u.Role)
	conn.MustExec(`INSERT INTO user_emails (email_lower, organization_id, user_id) VALUES ($1, $2, $3)`, email, u.OrganizationID, u.ID)
}
