package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db/citus"
)

// PartitionedEnv, set to 1, makes every test database a copy of a migrated schema whose tenant
// tables are PARTITION BY HASH (organization_id), as Partition leaves them: CI runs the database
// tests a second time that way, so that a statement that reads or writes more than one
// organization's rows where it should not shows up (see impl's plan test).
const PartitionedEnv = "MCPWARDEN_TEST_PARTITIONED"

// Partitions is how many hash partitions Partition gives each tenant table.
const Partitions = 4

func partitionedMode() bool { return os.Getenv(PartitionedEnv) == "1" }

// Partition rewrites every tenant table (see citus.Tenant) of the database conn is connected to
// into a table PARTITION BY HASH (organization_id) with n partitions named <table>_p<i>, keeping
// its columns, defaults, checks, constraint and index names, storage parameters (on the
// partitions), sequences and foreign keys, and its rows. It does nothing to a database whose
// tenant tables are partitioned already. It is what Citus does to a distributed table, on one
// node: each partition stands for a shard.
func Partition(ctx context.Context, conn *sqlx.DB, n int) error {
	var done bool
	if err := conn.GetContext(ctx, &done, `SELECT EXISTS (SELECT 1 FROM pg_partitioned_table)`); err != nil {
		return err
	}
	if done {
		return nil
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var all []string
	if err := tx.SelectContext(ctx, &all, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`); err != nil {
		return err
	}
	var tenants []string
	for _, t := range all {
		if citus.Tenant(t) {
			tenants = append(tenants, t)
		}
	}

	// Foreign keys from or to tenant tables go first, and come back last.
	var fks []struct {
		Table string `db:"table_name"`
		Name  string `db:"name"`
		Def   string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &fks, `
		SELECT c.conrelid::regclass::text AS table_name, c.conname AS name, pg_get_constraintdef(c.oid) AS def
		FROM pg_constraint c
		WHERE c.contype = 'f' AND (c.conrelid::regclass::text = ANY($1) OR c.confrelid::regclass::text = ANY($1))
		ORDER BY 1, 2`, pq.Array(tenants)); err != nil {
		return err
	}
	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(fk.Table)+` DROP CONSTRAINT `+pq.QuoteIdentifier(fk.Name)); err != nil {
			return fmt.Errorf("drop %s: %w", fk.Name, err)
		}
	}

	for _, table := range tenants {
		if err := partitionTable(ctx, tx, table, n); err != nil {
			return fmt.Errorf("partition %s: %w", table, err)
		}
	}

	for _, fk := range fks {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pq.QuoteIdentifier(fk.Table)+` ADD CONSTRAINT `+pq.QuoteIdentifier(fk.Name)+` `+fk.Def); err != nil {
			return fmt.Errorf("restore %s: %w", fk.Name, err)
		}
	}
	return tx.Commit()
}

func partitionTable(ctx context.Context, tx *sqlx.Tx, table string, n int) error {
	q := pq.QuoteIdentifier(table)
	old := pq.QuoteIdentifier(table + "_unpartitioned")
	var keys []struct {
		Name string `db:"name"`
		Def  string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &keys, `
		SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
		WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY contype, conname`, table); err != nil {
		return err
	}
	var indexes []string
	if err := tx.SelectContext(ctx, &indexes, `
		SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x
		WHERE x.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
		ORDER BY x.indexrelid`, table); err != nil {
		return err
	}
	var options pq.StringArray
	if err := tx.GetContext(ctx, &options, `SELECT COALESCE(reloptions, '{}') FROM pg_class WHERE oid = $1::regclass`, table); err != nil {
		return err
	}
	var owned []struct {
		Sequence string `db:"sequence"`
		Column   string `db:"column_name"`
	}
	if err := tx.SelectContext(ctx, &owned, `
		SELECT s.relname AS sequence, a.attname AS column_name
		FROM pg_depend d
		JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
		JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.refobjid = $1::regclass AND d.deptype = 'a'`, table); err != nil {
		return err
	}
	stmts := []string{`ALTER TABLE ` + q + ` RENAME TO ` + old}
	for _, o := range owned {
		stmts = append(stmts, `ALTER SEQUENCE `+pq.QuoteIdentifier(o.Sequence)+` OWNED BY NONE`)
	}
	stmts = append(stmts, `CREATE TABLE `+q+` (LIKE `+old+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)
		PARTITION BY HASH (organization_id)`)
	for i := 0; i < n; i++ {
		part := pq.QuoteIdentifier(fmt.Sprintf("%s_p%d", table, i))
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES WITH (MODULUS %d, REMAINDER %d)`, part, q, n, i))
		for _, opt := range options {
			stmts = append(stmts, `ALTER TABLE `+part+` SET (`+opt+`)`)
		}
	}
	stmts = append(stmts, `INSERT INTO `+q+` SELECT * FROM `+old, `DROP TABLE `+old)
	for _, k := range keys {
		stmts = append(stmts, `ALTER TABLE `+q+` ADD CONSTRAINT `+pq.QuoteIdentifier(k.Name)+` `+k.Def)
	}
	stmts = append(stmts, indexes...)
	for _, o := range owned {
		stmts = append(stmts, `ALTER SEQUENCE `+pq.QuoteIdentifier(o.Sequence)+` OWNED BY `+q+`.`+pq.QuoteIdentifier(o.Column))
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// PoolWithNotices is db.Pool with notice called for every notice PostgreSQL sends the client
// (such as auto_explain's plans at log_level notice).
func PoolWithNotices(url string, notice func(*pq.Error)) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.BinaryParameters = true
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	return sqlx.NewDb(sql.OpenDB(pq.ConnectorWithNoticeHandler(c, notice)), "postgres"), nil
}
