package citus_test

import (
	"context"
	"os"
	"regexp"
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

// TestDistributeScriptPlacesEveryTable checks deploy/citus/distribute.sql against the migrated
// schema: every table but the coordinator's own placed exactly once, as citus.GlobalTables says
// (reference, distributed by its key, or a tenant table by organization_id), agents first of the
// tenant tables (the others are co-located with it), and every table a foreign key points to
// placed before the table that holds the key, as Citus requires.
func TestDistributeScriptPlacesEveryTable(t *testing.T) {
	script, err := os.ReadFile("../../deploy/citus/distribute.sql")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`(?m)^SELECT pg_temp\.distribute_once\('(\w+)', '(\w+)'(?:, '(\w+)')?\);$`)
	order := map[string]int{}
	firstTenant := ""
	for i, m := range call.FindAllStringSubmatch(string(script), -1) {
		table, how, column := m[1], m[2], m[3]
		if _, dup := order[table]; dup {
			t.Errorf("%s is placed twice", table)
		}
		order[table] = i
		place, global := citus.GlobalTables[table]
		switch {
		case !global && how != "tenant":
			t.Errorf("%s is a tenant table, placed as %q", table, how)
		case !global && firstTenant == "":
			firstTenant = table
		case global && place.Reference && how != "reference":
			t.Errorf("%s is a reference table, placed as %q", table, how)
		case global && place.DistributedBy != "" && (how != "key" || column != place.DistributedBy):
			t.Errorf("%s is distributed by %s, placed as %q by %q", table, place.DistributedBy, how, column)
		case global && place.Local:
			t.Errorf("%s stays on the coordinator, yet is placed", table)
		}
	}
	if firstTenant != "agents" {
		t.Errorf("the first tenant table is %q; the script co-locates the others with agents, so it must come first", firstTenant)
	}

	conn := dbtest.New(t)
	var tables []string
	if err := conn.Select(&tables, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, placed := order[table]; !placed && !citus.GlobalTables[table].Local {
			t.Errorf("%s: not placed by deploy/citus/distribute.sql", table)
		}
	}
	var fks []struct {
		From string `db:"from_table"`
		To   string `db:"to_table"`
	}
	if err := conn.Select(&fks, `SELECT DISTINCT c.conrelid::regclass::text AS from_table, c.confrelid::regclass::text AS to_table
		FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
		WHERE c.contype = 'f' AND NOT r.relispartition`); err != nil {
		t.Fatal(err)
	}
	if len(fks) == 0 {
		t.Fatal("no foreign keys found")
	}
	for _, fk := range fks {
		if fk.From != fk.To && order[fk.To] > order[fk.From] {
			t.Errorf("%s references %s, which the script places after it", fk.From, fk.To)
		}
	}
}
