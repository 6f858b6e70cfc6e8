package dbtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mcpwarden/mcpwarden/db/citus"
)

func TestMain(m *testing.M) { Main(m) }

// schemaShape is what partitioning must keep of a schema: for each table, its columns with
// their types, defaults and nullability, and the names of its constraints and of the indexes of
// the parent tables.
func schemaShape(t *testing.T, conn *sqlx.DB) []string {
	t.Helper()
	var shape []string
	if err := conn.Select(&shape, `
		SELECT c.relname || ' column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' ||
			a.attnotnull || ' ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		UNION ALL
		SELECT r.relname || ' constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		-- A key referencing a partitioned table has a clone per partition (conparentid set).
		WHERE n.nspname = 'public' AND NOT r.relispartition AND k.conparentid = 0
		UNION ALL
		SELECT r.relname || ' index ' || i.relname
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE n.nspname = 'public' AND NOT r.relispartition
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return shape
}

// TestPartitionKeepsTheSchemaAndSplitsEveryTenantTable: after Partition every tenant table is
// hash-partitioned by organization_id into Partitions partitions and no other table is, while
// columns, defaults, constraints (foreign keys included) and index names stay as the migrations
// made them, and citus.Lint still finds nothing. Under MCPWARDEN_TEST_PARTITIONED=1 every test
// database starts that way.
func TestPartitionKeepsTheSchemaAndSplitsEveryTenantTable(t *testing.T) {
	ctx := context.Background()
	conn := New(t)
	var partitioned int
	if err := conn.Get(&partitioned, `SELECT count(*) FROM pg_partitioned_table`); err != nil {
		t.Fatal(err)
	}
	if partitionedMode() != (partitioned > 0) {
		t.Fatalf("partitioned mode (%s) is %v, and the test database has %d partitioned tables", PartitionedEnv, partitionedMode(), partitioned)
	}
	if partitioned == 0 {
		before := schemaShape(t, conn)
		if err := Partition(ctx, conn, Partitions); err != nil {
			t.Fatal(err)
		}
		if after := schemaShape(t, conn); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Fatalf("partitioning changed the schema:\nbefore:\n%s\n\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
		}
	}
	var tables []struct {
		Name       string  `db:"name"`
		Key        *string `db:"key"`
		Partitions int     `db:"partitions"`
	}
	if err := conn.Select(&tables, `
		SELECT c.relname AS name,
			(SELECT pg_get_partkeydef(c.oid)) AS key,
			(SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) AS partitions
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	tenants := 0
	for _, tb := range tables {
		if !citus.Tenant(tb.Name) {
			if tb.Key != nil {
				t.Errorf("global table %s is partitioned (%s)", tb.Name, *tb.Key)
			}
			continue
		}
		tenants++
		if tb.Key == nil || *tb.Key != "HASH (organization_id)" || tb.Partitions != Partitions {
			t.Errorf("tenant table %s: partition key %v, %d partitions; want HASH (organization_id) and %d", tb.Name, tb.Key, tb.Partitions, Partitions)
		}
	}
	if tenants < 10 {
		t.Fatalf("%d tenant tables", tenants)
	}
	problems, err := citus.Lint(ctx, conn)
	if err != nil || len(problems) > 0 {
		t.Fatalf("citus.Lint on the partitioned schema: %v\n%s", err, strings.Join(problems, "\n"))
	}
}
