package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db/citus"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestTenantTablesFollowCitusRules reads the migrated catalog and fails on anything that would
// keep a table from going onto Citus as citus.GlobalTables says (see citus.Lint: distribution
// column in every key, foreign keys and their actions, triggers, identity columns).
func TestTenantTablesFollowCitusRules(t *testing.T) {
	conn := dbtest.New(t)
	problems, err := citus.Lint(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("the schema breaks %d Citus rules:\n%s", len(problems), strings.Join(problems, "\n"))
	}
}
