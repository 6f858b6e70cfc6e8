package db_test

import (
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// globalTables belong to no organization: organizations themselves, the lookups that find a
// tenant from a credential, the sign-in throttles (counted before a caller has a tenant), and
// the migration bookkeeping.
var globalTables = map[string]bool{
	"organizations":         true,
	"user_emails":           true,
	"agent_keys":            true,
	"agent_key_revocations": true,
	"auth_throttles":        true,
	"goose_db_version":      true,
}

// TestTenantTablesFollowCitusRules reads the catalog and fails when a tenant table could not be
// distributed by organization_id: the column must be NOT NULL and part of the primary key, of
// every unique index and of every foreign key to another tenant table.
func TestTenantTablesFollowCitusRules(t *testing.T) {
	conn := dbtest.New(t)

	var tables []string
	if err := conn.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	tenantTables := 0
	for _, table := range tables {
		if globalTables[table] {
			continue
		}
		tenantTables++
		t.Run(table, func(t *testing.T) {
			var notNull []bool
			if err := conn.Select(&notNull, `SELECT a.attnotnull FROM pg_attribute a
				WHERE a.attrelid = $1::regclass AND a.attname = 'organization_id' AND NOT a.attisdropped`, table); err != nil {
				t.Fatal(err)
			}
			if len(notNull) != 1 || !notNull[0] {
				t.Fatalf("%s: tenant table needs organization_id NOT NULL (or list it as global)", table)
			}

			var uniques []struct {
				Name    string `db:"name"`
				Columns string `db:"columns"`
			}
			if err := conn.Select(&uniques, `SELECT i.relname AS name,
					string_agg(COALESCE(a.attname, '<expr>'), ',' ORDER BY k.ord) AS columns
				FROM pg_index x
				JOIN pg_class i ON i.oid = x.indexrelid
				CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
				LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
				WHERE x.indrelid = $1::regclass AND (x.indisunique OR x.indisprimary)
				GROUP BY i.relname`, table); err != nil {
				t.Fatal(err)
			}
			if len(uniques) == 0 {
				t.Fatalf("%s: no primary key", table)
			}
			for _, u := range uniques {
				if !contains(u.Columns, "organization_id") {
					t.Errorf("%s: unique index %s (%s) lacks organization_id", table, u.Name, u.Columns)
				}
			}

			var fks []struct {
				Name       string `db:"name"`
				Target     string `db:"target"`
				Columns    string `db:"columns"`
				RefColumns string `db:"ref_columns"`
			}
			if err := conn.Select(&fks, `SELECT c.conname AS name, c.confrelid::regclass::text AS target,
					(SELECT string_agg(a.attname, ',') FROM unnest(c.conkey) k JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS columns,
					(SELECT string_agg(a.attname, ',') FROM unnest(c.confkey) k JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k) AS ref_columns
				FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'f'`, table); err != nil {
				t.Fatal(err)
			}
			for _, fk := range fks {
				if fk.Target == "organizations" {
					continue
				}
				if globalTables[fk.Target] {
					t.Errorf("%s: foreign key %s points from a tenant table to global table %s", table, fk.Name, fk.Target)
				}
				if !contains(fk.Columns, "organization_id") || !contains(fk.RefColumns, "organization_id") {
					t.Errorf("%s: foreign key %s (%s) -> %s(%s) lacks organization_id", table, fk.Name, fk.Columns, fk.Target, fk.RefColumns)
				}
			}
		})
	}
	if tenantTables == 0 {
		t.Fatal("found no tenant tables: the migrations did not run")
	}
}

func contains(csv, column string) bool {
	for _, c := range strings.Split(csv, ",") {
		if c == column {
			return true
		}
	}
	return false
}
