package impl

import (
	"context"
	"errors"
	"io"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
)

// The list, detail, dashboard and export reads run through these, so that a read replica serves
// them when it may (db.Storage.Read): it is in use, and has replayed the caller's own last
// change. Everything else (authentication, sign-ins, ingestion, throttles, every write and the
// reads inside it) stays on the primary.

// readOne runs q for the caller, on the read replica when it may serve them.
func readOne[T any](ctx context.Context, s *Server, q func(*db.Storage) (T, error)) (T, error) {
	var v T
	err := s.store.Read(ctx, httpapi.PrincipalFrom(ctx).ChangedLSN, func(st *db.Storage) (err error) {
		v, err = q(st)
		return err
	})
	return v, err
}

// readDetail is readOne for one row by id: a row the read replica does not have yet (created by
// someone else within the lag, and linked to from an alert) is looked for on the primary, so
// that a link to it answers 404 only when the row does not exist.
func readDetail[T any](ctx context.Context, s *Server, q func(*db.Storage) (T, error)) (T, error) {
	v, err := readOne(ctx, s, q)
	if errors.Is(err, db.ErrNotFound) && s.store.HasReadReplica() {
		return q(s.store)
	}
	return v, err
}

// readTwo is readOne for queries of two results (a page and its total).
func readTwo[T, U any](ctx context.Context, s *Server, q func(*db.Storage) (T, U, error)) (T, U, error) {
	var (
		v T
		u U
	)
	err := s.store.Read(ctx, httpapi.PrincipalFrom(ctx).ChangedLSN, func(st *db.Storage) (err error) {
		v, u, err = q(st)
		return err
	})
	return v, u, err
}

// readStream is exportStream for an export read on the read replica when it may serve the
// caller. When the replica fails before write has passed any byte on, write starts again on the
// primary (what it buffered itself is dropped with it); after that, the export ends with the error.
func (s *Server) readStream(ctx context.Context, write func(st *db.Storage, w io.Writer) error) io.ReadCloser {
	after := httpapi.PrincipalFrom(ctx).ChangedLSN
	return exportStream(func(w io.Writer) error {
		out := &countingWriter{w: w}
		var err error
		return s.store.Read(ctx, after, func(st *db.Storage) error {
			if out.n > 0 {
				return err // too late to start over
			}
			err = write(st, out)
			return err
		})
	})
}

// markChanged is what the edge does after an authenticated change (httpapi.Options.Changed), for
// the changes made before there is a principal (registration, accepting an invitation): the
// user's first reads then wait for a read replica to have them.
func (s *Server) markChanged(ctx context.Context, orgID, userID uuid.UUID) {
	if err := s.store.MarkChanged(ctx, orgID, userID); err != nil {
		s.log.WarnContext(ctx, "a change may not be visible at once to its author on the read replica", "request_id", httpapi.RequestIDFrom(ctx), "error", err)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
