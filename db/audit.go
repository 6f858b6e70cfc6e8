package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Actor is who makes a change, for the audit log: set in the request context by the HTTP edge
// once the caller is authenticated, or by the handler that authenticates the caller itself
// (sign-in, registration, invitation, enrolment).
type Actor struct {
	// Type is user, token (an API token, acting for UserID), agent or system.
	Type   string
	ID     uuid.UUID // the user, token or agent
	UserID uuid.UUID // for a token, the admin it acts for
	IP     string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Type: "system"}
}

// AuditEvent is one recorded change: what was done to what, and a summary of the change without
// secrets.
type AuditEvent struct {
	Action     string
	TargetType string
	TargetID   string
	Summary    map[string]any
}

// audit records ev, by the context's actor, in the caller's transaction (or statement context):
// the change and its record commit together or not at all.
func audit(ctx context.Context, ex sqlx.ExecerContext, orgID uuid.UUID, ev AuditEvent) error {
	a := actorFrom(ctx)
	summary := ev.Summary
	if summary == nil {
		summary = map[string]any{}
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, `
		INSERT INTO audit_events (organization_id, id, actor_type, actor_id, actor_user_id, source_ip, action, target_type, target_id, summary)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, nullif($9, ''), $10)`,
		orgID, uuid.New(), a.Type, nilUUID(a.ID), nilUUID(a.UserID), a.IP, ev.Action, ev.TargetType, ev.TargetID, string(b))
	return err
}

func nilUUID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// RecordEvent records an event that changes nothing else (a sign-in, a failed one).
func (s *Storage) RecordEvent(ctx context.Context, orgID uuid.UUID, ev AuditEvent) error {
	return audit(ctx, s.db, orgID, ev)
}

// AuditRecord is a stored event.
type AuditRecord struct {
	ID          uuid.UUID       `db:"id"`
	At          time.Time       `db:"at"`
	ActorType   string          `db:"actor_type"`
	ActorID     *uuid.UUID      `db:"actor_id"`
	ActorUserID *uuid.UUID      `db:"actor_user_id"`
	SourceIP    *string         `db:"source_ip"`
	Action      string          `db:"action"`
	TargetType  string          `db:"target_type"`
	TargetID    *string         `db:"target_id"`
	Summary     json.RawMessage `db:"summary"`
}

// AuditFilter narrows ListAuditEvents; After is the cursor (the last event of the previous page).
type AuditFilter struct {
	ActorID      *uuid.UUID
	Action       *string
	TargetID     *string
	Since, Until *time.Time
	AfterAt      *time.Time
	AfterID      *uuid.UUID
	Limit        int
}

// ListAuditEvents returns the organization's events, newest first, after the cursor.
func (s *Storage) ListAuditEvents(ctx context.Context, orgID uuid.UUID, f AuditFilter) ([]AuditRecord, error) {
	out := []AuditRecord{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT id, at, actor_type, actor_id, actor_user_id, source_ip, action, target_type, target_id, summary
		FROM audit_events
		WHERE organization_id = $1
		  AND ($2::uuid IS NULL OR actor_id = $2 OR actor_user_id = $2)
		  AND ($3::text IS NULL OR action = $3)
		  AND ($4::text IS NULL OR target_id = $4)
		  AND ($5::timestamptz IS NULL OR at >= $5)
		  AND ($6::timestamptz IS NULL OR at < $6)
		  AND ($7::timestamptz IS NULL OR (at, id) < ($7, $8::uuid))
		ORDER BY at DESC, id DESC
		LIMIT $9`, orgID, f.ActorID, f.Action, f.TargetID, f.Since, f.Until, f.AfterAt, f.AfterID, f.Limit)
	return out, err
}

// DeleteAuditEventsBefore deletes an organization's events older than cutoff (the retention).
func (s *Storage) DeleteAuditEventsBefore(ctx context.Context, orgID uuid.UUID, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_events WHERE organization_id = $1 AND at < $2`, orgID, cutoff)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// EachAuditEvent calls fn with every event ListAuditEvents would list for f (cursor and Limit
// aside), newest first (see each).
func (s *Storage) EachAuditEvent(ctx context.Context, orgID uuid.UUID, f AuditFilter, fn func(AuditRecord) error) error {
	return each(ctx, s.db, fn, `
		SELECT id, at, actor_type, actor_id, actor_user_id, source_ip, action, target_type, target_id, summary
		FROM audit_events
		WHERE organization_id = $1
		  AND ($2::uuid IS NULL OR actor_id = $2 OR actor_user_id = $2)
		  AND ($3::text IS NULL OR action = $3)
		  AND ($4::text IS NULL OR target_id = $4)
		  AND ($5::timestamptz IS NULL OR at >= $5)
		  AND ($6::timestamptz IS NULL OR at < $6)
		ORDER BY at DESC, id DESC`, orgID, f.ActorID, f.Action, f.TargetID, f.Since, f.Until)
}
