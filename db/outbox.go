package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// EmailDigest is what one digest email needs: the organization's address and the alerts.
type EmailDigest struct {
	OrganizationID   uuid.UUID
	OrganizationName string
	To               string // empty when the organization has no alert_email
	Alerts           []Alert
	Attempts         int // the highest attempt count among the rows, before this attempt
	Oldest           time.Time
}

// OrgsWithPendingEmail lists organizations that have outbox rows due now (at most limit).
func (s *Storage) OrgsWithPendingEmail(ctx context.Context, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	// Cross-tenant by design: the digest worker serves every organization.
	err := s.db.SelectContext(ctx, &ids, `
		SELECT DISTINCT organization_id FROM alert_email_outbox
		WHERE sent_at IS NULL AND next_attempt_at <= now() LIMIT $1`, limit)
	return ids, err
}

// ErrNothingToSend is returned by ClaimEmailDigest when another worker is claiming the
// organization's rows, or none are due.
var ErrNothingToSend = errors.New("nothing to send")

// ClaimEmailDigest claims the organization's due outbox rows (up to max, oldest first) for
// lease, in a short transaction, and returns them as one digest with the ids to pass to
// FinishEmailDigest. Claims are per organization: the transaction holds the organization's
// advisory lock, so of several workers (in several replicas) one claims every due row and the
// others get ErrNothingToSend, and a burst is one email. The claimed rows are not due again
// until the lease ends, so the email is sent outside any transaction; a worker that dies while
// sending leaves them to be retried when the lease ends. Rows of an organization without an
// alert_email are marked handled, saying why, and ErrNothingToSend is returned.
func (s *Storage) ClaimEmailDigest(ctx context.Context, orgID uuid.UUID, max int, lease time.Duration) (EmailDigest, []uuid.UUID, error) {
	var d EmailDigest
	var ids []uuid.UUID
	handled := false // the rows were marked handled, without an email
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var mine bool
		if err := tx.GetContext(ctx, &mine, `SELECT pg_try_advisory_xact_lock(hashtextextended('email-digest:' || $1::text, 0))`, orgID); err != nil {
			return err
		}
		if !mine {
			return ErrNothingToSend
		}
		var rows []struct {
			OutboxID uuid.UUID `db:"outbox_id"`
			Attempts int       `db:"attempts"`
			QueuedAt time.Time `db:"queued_at"`
			Alert
		}
		if err := tx.SelectContext(ctx, &rows, `
			SELECT o.id AS outbox_id, o.attempts, o.created_at AS queued_at,
				a.id, a.type, a.severity, a.title, a.message, a.server_id, a.server_name, a.agent_id, a.agent_hostname,
				a.created_at, a.dismissed, a.dismissed_at, a.dismissed_by
			FROM alert_email_outbox o
			JOIN alerts a ON a.organization_id = o.organization_id AND a.id = o.alert_id
			WHERE o.organization_id = $1 AND o.sent_at IS NULL AND o.next_attempt_at <= now()
			ORDER BY o.created_at, o.id
			LIMIT $2`, orgID, max); err != nil {
			return err
		}
		if len(rows) == 0 {
			return ErrNothingToSend
		}
		d = EmailDigest{OrganizationID: orgID, Oldest: rows[0].QueuedAt}
		ids = make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.OutboxID
			d.Alerts = append(d.Alerts, r.Alert)
			if r.Attempts > d.Attempts {
				d.Attempts = r.Attempts
			}
		}
		var org struct {
			Name  string         `db:"name"`
			Email sql.NullString `db:"alert_email"`
		}
		if err := tx.GetContext(ctx, &org, `SELECT name, alert_email FROM organizations WHERE id = $1`, orgID); err != nil {
			return err
		}
		d.OrganizationName, d.To = org.Name, org.Email.String
		idList := pqArray(uuidArray(ids))
		if d.To == "" {
			// Nobody to tell: mark the rows handled so they do not pile up, saying why.
			handled = true
			_, err := tx.ExecContext(ctx, `UPDATE alert_email_outbox SET sent_at = now(), last_error = 'no alert_email'
				WHERE organization_id = $1 AND id = ANY($2::uuid[])`, orgID, idList)
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE alert_email_outbox SET next_attempt_at = now() + $3 * interval '1 millisecond'
			WHERE organization_id = $1 AND id = ANY($2::uuid[])`, orgID, idList, lease.Milliseconds())
		return err
	})
	if err == nil && handled {
		return EmailDigest{}, nil, ErrNothingToSend
	}
	return d, ids, err
}

// FinishEmailDigest records how sending a claimed digest went: sent when sendErr is nil;
// otherwise the error, and the rows are due again at retryAt, or given up (marked sent with the
// error) when retryAt is zero.
func (s *Storage) FinishEmailDigest(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, sendErr error, retryAt time.Time) error {
	idList := pqArray(uuidArray(ids))
	var err error
	switch {
	case sendErr == nil:
		_, err = s.db.ExecContext(ctx, `UPDATE alert_email_outbox SET attempts = attempts + 1, sent_at = now(), last_error = NULL
			WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND sent_at IS NULL`, orgID, idList)
	case retryAt.IsZero():
		_, err = s.db.ExecContext(ctx, `UPDATE alert_email_outbox SET attempts = attempts + 1, sent_at = now(), last_error = 'gave up: ' || $3
			WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND sent_at IS NULL`, orgID, idList, truncateString(sendErr.Error(), 2000))
	default:
		_, err = s.db.ExecContext(ctx, `UPDATE alert_email_outbox SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4
			WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND sent_at IS NULL`, orgID, idList, retryAt, truncateString(sendErr.Error(), 2000))
	}
	return err
}

// SkipPendingEmail marks every due outbox row handled with the given reason, for servers that
// have no SMTP settings: otherwise the outbox would grow with every alert, forever.
func (s *Storage) SkipPendingEmail(ctx context.Context, reason string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE alert_email_outbox SET sent_at = now(), last_error = $1
		WHERE sent_at IS NULL AND next_attempt_at <= now()`, reason)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func uuidArray(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func pqArray(a []string) interface {
	driver.Valuer
} {
	return pq.Array(a).(driver.Valuer)
}

// QueueDepths is how much notification work waits, across every organization: unsent digest
// rows and pending webhook deliveries, each with the age of its oldest (zero when none waits).
type QueueDepths struct {
	EmailPending       int64   `db:"email_pending"`
	EmailOldestSeconds float64 `db:"email_oldest_seconds"`
	WebhookPending     int64   `db:"webhook_pending"`
	WebhookOldest      float64 `db:"webhook_oldest_seconds"`
}

// NotificationQueues measures the email outbox and the webhook queue, for the metrics. Both
// counts are over the partial indexes of unsent rows.
func (s *Storage) NotificationQueues(ctx context.Context) (QueueDepths, error) {
	var q QueueDepths
	// Cross-tenant by design: operators' metrics cover the whole server.
	err := s.db.GetContext(ctx, &q, `
		SELECT e.n AS email_pending, e.oldest AS email_oldest_seconds,
		       w.n AS webhook_pending, w.oldest AS webhook_oldest_seconds
		FROM (SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
		      FROM alert_email_outbox WHERE sent_at IS NULL) e,
		     (SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
		      FROM webhook_deliveries WHERE status = 'pending') w`)
	return q, err
}
