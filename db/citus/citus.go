// Package citus holds what running mcpwarden on Citus depends on: where each table goes (every
// tenant table distributed by organization_id and co-located, the global ones as reference
// tables or distributed by their own key) and the catalog rules a schema must follow for Citus
// to take it, checked by Lint on any database.
package citus

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Placement is where a global table goes on Citus.
type Placement struct {
	// Reference: one copy on every node (small, read by tenant statements, rarely written).
	Reference bool
	// DistributedBy is the column a lookup table is distributed by: every statement on it names
	// one value of that key, so it touches one shard, not co-located with the tenants.
	DistributedBy string
	// Local: a table of the coordinator only (migration bookkeeping).
	Local bool
	// Why, in a line, for deploy/citus/README.md.
	Why string
}

// GlobalTables are the tables that belong to no organization. Every other table is a tenant
// table: distributed by organization_id and co-located with the others.
var GlobalTables = map[string]Placement{
	"organizations":    {Reference: true, Why: "the tenants themselves: tenant tables reference it and tenant statements join it"},
	"user_emails":      {DistributedBy: "email_lower", Why: "sign-in starts from an email alone; one row per email"},
	"agent_keys":       {DistributedBy: "key_hash", Why: "an agent presents only its key; one row per key"},
	"auth_throttles":   {DistributedBy: "key", Why: "failed sign-ins are counted before the caller has an organization; one row per throttle key"},
	"goose_db_version": {Local: true, Why: "migration bookkeeping, read and written by the migration runner on the coordinator"},
}

// Tenant reports whether a table is a tenant table.
func Tenant(table string) bool {
	_, global := GlobalTables[table]
	return !global
}

// Lint reads the catalog of the database conn is connected to (schema public) and returns every
// way its tables would not go onto Citus as GlobalTables and Tenant say, one line each:
//   - a tenant table needs organization_id NOT NULL, a primary key, and organization_id in every
//     unique index and in both sides of every foreign key to another tenant table;
//   - no foreign key from a tenant table to a global table other than the reference table
//     organizations, nor from a global table to a tenant table;
//   - no foreign key action Citus refuses: SET NULL or SET DEFAULT on delete or update, or
//     CASCADE on update, where the key includes organization_id (citusdata/citus#7132);
//   - no trigger (other than the ones PostgreSQL makes for foreign keys) on a distributed or
//     reference table: Citus refuses them by default, and their writes would escape the
//     statement Citus routes;
//   - no identity column on a distributed or reference table (citusdata/citus#6808: the
//     sequence's state is lost on a metadata resync, and it cannot be altered), and a column
//     defaulting to a sequence must be bigint (nextval of a smaller sequence fails on workers).
//
// Partitions are checked through their parent table.
func Lint(ctx context.Context, conn sqlx.QueryerContext) ([]string, error) {
	var tables []struct {
		Name      string `db:"name"`
		OrgColumn *bool  `db:"org_not_null"`
	}
	if err := sqlx.SelectContext(ctx, conn, &tables, `
		SELECT c.relname AS name,
			(SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped) AS org_not_null
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY 1`); err != nil {
		return nil, err
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	tenants := 0
	for _, t := range tables {
		place, global := GlobalTables[t.Name]
		if global && place.Local {
			continue
		}
		if !global {
			tenants++
			if t.OrgColumn == nil || !*t.OrgColumn {
				add("%s: a tenant table needs organization_id NOT NULL (or list it in citus.GlobalTables)", t.Name)
			}
		}
		key := "organization_id"
		if global {
			key = place.DistributedBy
		}

		var uniques []struct {
			Name    string `db:"name"`
			Columns string `db:"columns"`
			Primary bool   `db:"is_primary"`
		}
		if err := sqlx.SelectContext(ctx, conn, &uniques, `
			SELECT i.relname AS name, x.indisprimary AS is_primary,
				string_agg(COALESCE(a.attname, '<expr>'), ',' ORDER BY k.ord) AS columns
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
			LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
			WHERE x.indrelid = $1::regclass AND (x.indisunique OR x.indisprimary)
			GROUP BY i.relname, x.indisprimary ORDER BY 1`, t.Name); err != nil {
			return nil, err
		}
		hasPrimary := false
		for _, u := range uniques {
			hasPrimary = hasPrimary || u.Primary
			if key != "" && !has(u.Columns, key) {
				add("%s: unique index %s (%s) lacks the distribution column %s", t.Name, u.Name, u.Columns, key)
			}
		}
		if !hasPrimary {
			add("%s: no primary key", t.Name)
		}

		var fks []struct {
			Name       string `db:"name"`
			Target     string `db:"target"`
			Columns    string `db:"columns"`
			RefColumns string `db:"ref_columns"`
			OnDelete   string `db:"on_delete"`
			OnUpdate   string `db:"on_update"`
		}
		if err := sqlx.SelectContext(ctx, conn, &fks, `
			SELECT c.conname AS name, t.relname AS target,
				(SELECT string_agg(a.attname, ',') FROM unnest(c.conkey) k JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS columns,
				(SELECT string_agg(a.attname, ',') FROM unnest(c.confkey) k JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k) AS ref_columns,
				c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update
			FROM pg_constraint c JOIN pg_class t ON t.oid = c.confrelid
			WHERE c.conrelid = $1::regclass AND c.contype = 'f' AND c.conparentid = 0
			ORDER BY 1`, t.Name); err != nil {
			return nil, err
		}
		for _, fk := range fks {
			target, targetGlobal := GlobalTables[fk.Target]
			switch {
			case global && !targetGlobal:
				add("%s: foreign key %s points from a global table to tenant table %s (Citus allows keys only to reference tables and between co-located tables)", t.Name, fk.Name, fk.Target)
			case global && !target.Reference:
				add("%s: foreign key %s points to %s, which is not a reference table", t.Name, fk.Name, fk.Target)
			case !global && targetGlobal && !target.Reference:
				add("%s: foreign key %s points from a tenant table to global table %s, which is not a reference table", t.Name, fk.Name, fk.Target)
			case !global && !targetGlobal && (!has(fk.Columns, "organization_id") || !has(fk.RefColumns, "organization_id")):
				add("%s: foreign key %s (%s) -> %s(%s) lacks organization_id", t.Name, fk.Name, fk.Columns, fk.Target, fk.RefColumns)
			}
			if !global && has(fk.Columns, "organization_id") {
				for _, action := range []struct{ when, code string }{{"delete", fk.OnDelete}, {"update", fk.OnUpdate}} {
					switch {
					case action.code == "n" || action.code == "d":
						add("%s: foreign key %s sets columns to NULL or their default on %s, and includes organization_id: Citus refuses it (citusdata/citus#7132)", t.Name, fk.Name, action.when)
					case action.code == "c" && action.when == "update":
						add("%s: foreign key %s cascades updates of organization_id, the distribution column", t.Name, fk.Name)
					}
				}
			}
		}

		var triggers []string
		if err := sqlx.SelectContext(ctx, conn, &triggers, `
			SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY 1`, t.Name); err != nil {
			return nil, err
		}
		for _, tg := range triggers {
			add("%s: trigger %s: Citus refuses triggers on distributed and reference tables; write what it writes in the statements that change the table", t.Name, tg)
		}

		var columns []struct {
			Name     string `db:"name"`
			Type     string `db:"type"`
			Identity bool   `db:"is_identity"`
			Sequence bool   `db:"from_sequence"`
		}
		if err := sqlx.SelectContext(ctx, conn, &columns, `
			SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity <> '' AS is_identity,
				COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false) AS from_sequence
			FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attnum`, t.Name); err != nil {
			return nil, err
		}
		for _, c := range columns {
			switch {
			case c.Identity:
				add("%s: column %s is an identity column: use bigint DEFAULT nextval(a sequence), or a uuid (citusdata/citus#6808)", t.Name, c.Name)
			case c.Sequence && c.Type != "bigint":
				add("%s: column %s (%s) defaults to a sequence: make it bigint (smaller sequences cannot be drawn on Citus workers)", t.Name, c.Name, c.Type)
			}
		}
	}
	if tenants == 0 {
		add("no tenant tables: have the migrations run?")
	}
	sort.Strings(problems)
	return problems, nil
}

func has(csv, column string) bool {
	for _, c := range strings.Split(csv, ",") {
		if c == column {
			return true
		}
	}
	return false
}
