package citus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db/citus"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// badMigration breaks each rule of citus.Lint once, as a careless migration might.
const badMigration = `
CREATE TABLE bad_notes (
    organization_id uuid REFERENCES organizations (id),
    id              integer GENERATED ALWAYS AS IDENTITY,
    seq             integer NOT NULL DEFAULT nextval('bad_notes_seq'),
    server_id       uuid,
    key_hash        bytea REFERENCES agent_keys (key_hash),
    body            text,
    PRIMARY KEY (id),
    FOREIGN KEY (organization_id, server_id) REFERENCES mcp_servers (organization_id, id) ON DELETE SET NULL (server_id)
);
CREATE UNIQUE INDEX bad_notes_body ON bad_notes (body);
CREATE FUNCTION bad_notes_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER bad_notes_touch AFTER INSERT ON mcp_servers FOR EACH STATEMENT EXECUTE FUNCTION bad_notes_touch();
ALTER TABLE alerts ADD FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE SET NULL;
ALTER TABLE user_emails ADD FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);
`

// TestLintReportsEachRuleABadMigrationBreaks applies a deliberately bad migration to a
// throwaway copy of the migrated schema: Lint, clean on the migrations, names every breach.
func TestLintReportsEachRuleABadMigrationBreaks(t *testing.T) {
	ctx := context.Background()
	conn := dbtest.New(t)
	if problems, err := citus.Lint(ctx, conn); err != nil || len(problems) > 0 {
		t.Fatalf("the migrations themselves: %v\n%s", err, strings.Join(problems, "\n"))
	}
	if _, err := conn.Exec(`CREATE SEQUENCE bad_notes_seq AS integer`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(badMigration); err != nil {
		t.Fatalf("apply the bad migration: %v", err)
	}
	problems, err := citus.Lint(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Join(problems, "\n")
	for _, want := range []string{
		"bad_notes: a tenant table needs organization_id NOT NULL",
		"bad_notes: unique index bad_notes_pkey (id) lacks the distribution column organization_id",
		"bad_notes: unique index bad_notes_body (body) lacks the distribution column organization_id",
		"bad_notes: column id is an identity column",
		"bad_notes: column seq (integer) defaults to a sequence",
		"bad_notes: foreign key bad_notes_key_hash_fkey points from a tenant table to global table agent_keys",
		"bad_notes: foreign key bad_notes_organization_id_server_id_fkey sets columns to NULL or their default on delete",
		"mcp_servers: trigger bad_notes_touch",
		"alerts: foreign key alerts_organization_id_agent_id_fkey sets columns to NULL or their default on delete",
		"user_emails: foreign key user_emails_organization_id_user_id_fkey points from a global table to tenant table users",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("Lint did not report %q; it reported:\n%s", want, report)
		}
	}
	if len(problems) != 10 {
		t.Errorf("Lint reported %d problems, want the 10 the bad migration makes:\n%s", len(problems), report)
	}
}

// TestEveryTableHasAPlaceOnCitus: the migrations create every global table citus.GlobalTables
// names (a renamed or dropped one would leave a stale entry).
func TestEveryTableHasAPlaceOnCitus(t *testing.T) {
	conn := dbtest.New(t)
	for table := range citus.GlobalTables {
		var exists bool
		if err := conn.Get(&exists, `SELECT to_regclass($1) IS NOT NULL`, "public."+table); err != nil || !exists {
			t.Errorf("global table %s: not in the migrated schema (%v)", table, err)
		}
	}
}
