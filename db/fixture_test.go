package db_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// reportFixture makes organizations and agents on a store.
type reportFixture struct {
	t     *testing.T
	store *db.Storage
}

func (f reportFixture) org(name string) uuid.UUID {
	id := uuid.New()
	if _, err := f.store.CreateOrganization(context.Background(), id, name, db.NewUser{
		ID: uuid.New(), Email: uuid.NewString() + "@example.com", FullName: "Admin", Role: "admin", PasswordHash: "unused",
	}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f reportFixture) agent(org uuid.UUID) uuid.UUID {
	key := sha256.Sum256([]byte(uuid.NewString()))
	a, err := f.store.CreateAgent(context.Background(), org, "laptop", key[:], "mcp_sk_test")
	if err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}
