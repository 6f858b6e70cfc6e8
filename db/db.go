// Package db owns mcpwarden's SQL: the embedded migrations and the Storage type whose methods
// run plain, explicit queries through sqlx. Every method on tenant data takes the caller's
// organization id as its first argument after the context, so no query can forget it.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Domain errors. Storage returns these (wrapped or bare); impl maps them to HTTP problems in one
// place, so handlers never inspect driver errors.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Storage runs mcpwarden's queries against PostgreSQL.
type Storage struct {
	db *sqlx.DB
	// replica serves Read's reads when configured (UseReadReplica); nil otherwise.
	replica *readReplica
	// stmts holds the hot paths' prepared statements by query text (see prepared).
	stmts sync.Map
}

// Pool returns a connection pool to url as mcpwarden uses it (tests included). Every query with
// arguments costs one round trip instead of two: lib/pq's binary_parameters mode sends parse,
// bind and execute together, and []byte arguments travel as binary, so they must be bytea
// values (pass text and jsonb as string).
func Pool(url string) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	return sqlx.NewDb(sql.OpenDB(connector), "postgres"), nil
}

// connMaxLifetime closes pooled connections after an hour, at the latest, so a busy pool is
// not kept forever: PostgreSQL keeps a prepared statement's generic plan as long as the
// connection, and a plan made while an organization was small (a scan that was cheap then)
// would otherwise outlive the organization's growth. A new connection plans again.
const connMaxLifetime = time.Hour

// Open connects to PostgreSQL and checks that it answers and is a primary: a standby refuses
// every write, so the server would answer sign-ins and reports with errors.
func Open(ctx context.Context, url string, maxConns int) (*Storage, error) {
	conn, err := Pool(url)
	if err != nil {
		return nil, err
	}
	if maxConns <= 0 {
		maxConns = 20
	}
	conn.SetMaxOpenConns(maxConns)
	conn.SetMaxIdleConns(maxConns)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	conn.SetConnMaxLifetime(connMaxLifetime)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.PingContext(pingCtx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	var standby bool
	if err := conn.QueryRowContext(pingCtx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if standby {
		conn.Close()
		return nil, ErrStandby
	}
	return &Storage{db: conn}, nil
}

// New wraps an existing connection pool.
func New(conn *sqlx.DB) *Storage { return &Storage{db: conn} }

// DB exposes the pool for tests and tools that need raw SQL.
func (s *Storage) DB() *sqlx.DB { return s.db }

// ErrStandby refuses a primary database URL that points at a standby (a server in recovery).
var ErrStandby = errors.New("the database is a standby (read-only, in recovery): DATABASE_URL must point at the primary; a standby can serve reads as DATABASE_READ_URL")

// Close closes the pool, and the read replica's.
func (s *Storage) Close() error {
	if s.replica != nil {
		s.replica.store.db.Close()
	}
	return s.db.Close()
}

// prepared returns query to run in tx, as a prepared statement once one exists. A statement sent
// with its arguments is parsed, analysed and planned at every execution; for the ingestion path,
// which runs a few statements per report thousands of times a second, that was a quarter of
// PostgreSQL's time. database/sql prepares a statement once per pooled connection (again after a
// reconnect) and StmtxContext binds it to the transaction's connection.
//
// Preparing the pool-level statement needs a connection of its own, which a busy pool may only
// free when transactions like tx end: so it is prepared in the background, and until it is, the
// query runs unprepared.
func (s *Storage) prepared(ctx context.Context, tx *sqlx.Tx, query string) txQuery {
	if st := s.poolStmt(query); st != nil {
		return txQuery{stmt: tx.StmtxContext(ctx, st)}
	}
	return txQuery{tx: tx, query: query}
}

// poolStmt returns query's pool-level prepared statement, or nil while it is being prepared (in
// the background, the first time query is asked for): the caller then runs query unprepared.
func (s *Storage) poolStmt(query string) *sqlx.Stmt {
	v, loaded := s.stmts.LoadOrStore(query, (*sqlx.Stmt)(nil))
	if st := v.(*sqlx.Stmt); st != nil {
		return st
	}
	if !loaded {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st, err := s.db.PreparexContext(ctx, query)
			if err != nil {
				s.stmts.Delete(query) // the next use tries again
				return
			}
			s.stmts.Store(query, st)
		}()
	}
	return nil
}

// txQuery is a query of a transaction, prepared (stmt) or not (tx and query).
type txQuery struct {
	stmt  *sqlx.Stmt
	tx    *sqlx.Tx
	query string
}

func (q txQuery) SelectContext(ctx context.Context, dest any, args ...any) error {
	if q.stmt != nil {
		return q.stmt.SelectContext(ctx, dest, args...)
	}
	return q.tx.SelectContext(ctx, dest, q.query, args...)
}

// Ping reports whether the database answers within the context's deadline.
func (s *Storage) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Migrate applies every pending migration. A PostgreSQL session lock makes concurrent replicas
// starting at once apply them exactly once.
func Migrate(ctx context.Context, conn *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, conn, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Storage) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Unavailable reports whether err means PostgreSQL could not be reached or is shutting down or
// refusing connections: an outage, which the caller answers with "retry later", not a failure of
// the request itself.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		// Class 08: connection exceptions; 57P01-57P03: shutdown, crash, not yet accepting
		// connections; 53300: too many connections.
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" || pqErr.Code == "57P03" || pqErr.Code == "53300"
	}
	var netErr *net.OpError
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ENOENT)
}

// each runs query and calls fn with each row as the driver reads it off the connection, never
// collecting them, so an export's memory stays constant whatever the number of rows; fn's error
// (or the context's end) stops the read and is returned.
func each[T any](ctx context.Context, q sqlx.QueryerContext, fn func(T) error, query string, args ...any) error {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.StructScan(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
