package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// MaxWebhooks is how many endpoints an organization may have (the list has no paging).
const MaxWebhooks = 100

// ErrTooManyWebhooks is returned by CreateWebhook when the organization has MaxWebhooks.
var ErrTooManyWebhooks = errors.New("too many webhooks")

// Webhook is an endpoint; Secret is only read where it is needed (creation, delivery).
type Webhook struct {
	ID          uuid.UUID `db:"id"`
	URL         string    `db:"url"`
	Description string    `db:"description"`
	Secret      string    `db:"secret"`
	Format      string    `db:"format"` // generic or slack
	CreatedAt   time.Time `db:"created_at"`
}

// WebhookDelivery is one row of an endpoint's delivery log.
type WebhookDelivery struct {
	ID             uuid.UUID  `db:"id"`
	WebhookID      uuid.UUID  `db:"webhook_id"`
	AlertID        *uuid.UUID `db:"alert_id"`
	Event          string     `db:"event"`
	Status         string     `db:"status"`
	Attempts       int        `db:"attempts"`
	NextAttemptAt  *time.Time `db:"next_attempt_at"`
	LastStatusCode *int       `db:"last_status_code"`
	LastError      *string    `db:"last_error"`
	DeliveredAt    *time.Time `db:"delivered_at"`
	CreatedAt      time.Time  `db:"created_at"`
}

const deliveryColumns = `id, webhook_id, alert_id, event, status, attempts, next_attempt_at, last_status_code, last_error, delivered_at, created_at`

// CreateWebhook stores an endpoint. The count check and the insert run under a lock on the
// organization row so that concurrent creations cannot pass MaxWebhooks.
func (s *Storage) CreateWebhook(ctx context.Context, orgID uuid.UUID, url, description, secret, format string) (Webhook, error) {
	w := Webhook{ID: uuid.New(), URL: url, Description: description, Secret: secret, Format: format}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
			return notFound(err)
		}
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM webhooks WHERE organization_id = $1`, orgID); err != nil {
			return err
		}
		if n >= MaxWebhooks {
			return ErrTooManyWebhooks
		}
		if err := tx.GetContext(ctx, &w.CreatedAt, `
			INSERT INTO webhooks (organization_id, id, url, description, secret, format) VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING created_at`, orgID, w.ID, url, description, secret, format); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "webhook.created", TargetType: "webhook", TargetID: w.ID.String(),
			Summary: map[string]any{"url": url, "description": description, "format": format}})
	})
	return w, err
}

// ListWebhooks returns the organization's endpoints, oldest first, without their secrets.
func (s *Storage) ListWebhooks(ctx context.Context, orgID uuid.UUID) ([]Webhook, error) {
	items := []Webhook{}
	err := s.db.SelectContext(ctx, &items, `
		SELECT id, url, description, '' AS secret, format, created_at FROM webhooks
		WHERE organization_id = $1 ORDER BY created_at, id LIMIT $2`, orgID, MaxWebhooks)
	return items, err
}

// DeleteWebhook removes an endpoint and (by cascade) its deliveries, or returns ErrNotFound.
func (s *Storage) DeleteWebhook(ctx context.Context, orgID, webhookID uuid.UUID) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var url string
		if err := tx.GetContext(ctx, &url, `DELETE FROM webhooks WHERE organization_id = $1 AND id = $2 RETURNING url`, orgID, webhookID); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "webhook.deleted", TargetType: "webhook", TargetID: webhookID.String(),
			Summary: map[string]any{"url": url}})
	})
}

// QueueTestDelivery queues a webhook.test delivery, due now, or returns ErrNotFound.
func (s *Storage) QueueTestDelivery(ctx context.Context, orgID, webhookID uuid.UUID, payload json.RawMessage) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.db.GetContext(ctx, &d, `
		INSERT INTO webhook_deliveries (organization_id, id, webhook_id, event, payload, next_attempt_at)
		SELECT organization_id, gen_random_uuid(), id, 'webhook.test', $3, now()
		FROM webhooks WHERE organization_id = $1 AND id = $2
		RETURNING `+deliveryColumns, orgID, webhookID, string(payload))
	return d, notFound(err)
}

// ListDeliveries returns a page of an endpoint's delivery log, newest first, and the total;
// ErrNotFound when the organization has no such endpoint.
func (s *Storage) ListDeliveries(ctx context.Context, orgID, webhookID uuid.UUID, limit, offset int) ([]WebhookDelivery, int64, error) {
	var exists bool
	if err := s.db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE organization_id = $1 AND id = $2)`, orgID, webhookID); err != nil {
		return nil, 0, err
	}
	if !exists {
		return nil, 0, ErrNotFound
	}
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM webhook_deliveries WHERE organization_id = $1 AND webhook_id = $2`, orgID, webhookID); err != nil {
		return nil, 0, err
	}
	items := []WebhookDelivery{}
	if total > int64(offset) {
		if err := s.db.SelectContext(ctx, &items, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE organization_id = $1 AND webhook_id = $2
			ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4`, orgID, webhookID, limit, offset); err != nil {
			return nil, 0, err
		}
	}
	return items, total, nil
}

// DueDelivery is a delivery claimed by a worker, with what it needs to send it.
type DueDelivery struct {
	OrganizationID uuid.UUID       `db:"organization_id"`
	ID             uuid.UUID       `db:"id"`
	WebhookID      uuid.UUID       `db:"webhook_id"`
	Event          string          `db:"event"`
	Payload        json.RawMessage `db:"payload"`
	Attempts       int             `db:"attempts"` // including the claimed attempt
	CreatedAt      time.Time       `db:"created_at"`
	URL            string          `db:"url"`
	Secret         string          `db:"secret"`
	Format         string          `db:"format"` // the endpoint's: generic or slack
}

// ClaimDueDeliveries leases up to limit due deliveries for lease: it counts the attempt and moves
// next_attempt_at past the lease in a short transaction (FOR UPDATE SKIP LOCKED, so replicas
// claim disjoint rows), and the worker posts outside any transaction. A worker that dies
// mid-post leaves the row to be claimed again once the lease runs out. It lists the
// organizations with due deliveries, then claims within one organization at a time, so that
// every statement that locks rows touches one organization's (Citus takes row locks only in
// statements on one shard).
func (s *Storage) ClaimDueDeliveries(ctx context.Context, limit int, lease time.Duration) ([]DueDelivery, error) {
	var orgs []uuid.UUID
	if err := s.db.SelectContext(ctx, &orgs, `
		SELECT DISTINCT organization_id FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt_at <= now() LIMIT $1`, limit); err != nil {
		return nil, err
	}
	var out []DueDelivery
	for _, org := range orgs {
		if len(out) >= limit {
			break
		}
		var claimed []DueDelivery
		if err := s.db.SelectContext(ctx, &claimed, `
			WITH due AS (
				SELECT id FROM webhook_deliveries
				WHERE organization_id = $1 AND status = 'pending' AND next_attempt_at <= now()
				ORDER BY next_attempt_at
				LIMIT $2
				FOR UPDATE SKIP LOCKED
			), claimed AS (
				UPDATE webhook_deliveries d
				SET attempts = d.attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond'
				FROM due WHERE d.organization_id = $1 AND d.id = due.id
				RETURNING d.organization_id, d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at
			)
			SELECT c.organization_id, c.id, c.webhook_id, c.event, c.payload, c.attempts, c.created_at, w.url, w.secret, w.format
			FROM claimed c JOIN webhooks w ON w.organization_id = $1 AND w.id = c.webhook_id`,
			org, limit-len(out), lease.Milliseconds()); err != nil {
			return out, err
		}
		out = append(out, claimed...)
	}
	return out, nil
}

// DeliveryResult is the outcome of one attempt.
type DeliveryResult struct {
	Succeeded  bool
	StatusCode int // 0 when no response arrived
	Error      string
	// RetryAt is when to try again; zero means give up (status failed).
	RetryAt time.Time
}

// FinishDelivery records an attempt. It only touches the row if the attempt is still the latest
// claim, so a worker whose lease expired cannot overwrite a newer attempt's outcome.
func (s *Storage) FinishDelivery(ctx context.Context, d DueDelivery, r DeliveryResult) error {
	var code *int
	if r.StatusCode != 0 {
		code = &r.StatusCode
	}
	var lastErr *string
	if r.Error != "" {
		e := truncateString(r.Error, 2000)
		lastErr = &e
	}
	status := "pending"
	var next *time.Time
	switch {
	case r.Succeeded:
		status = "succeeded"
	case r.RetryAt.IsZero():
		status = "failed"
	default:
		next = &r.RetryAt
	}
	_, err := s.db.ExecContext(ctx, `
		UPDATE webhook_deliveries SET
			status = $4, last_status_code = $5, last_error = $6, next_attempt_at = $7,
			delivered_at = CASE WHEN $4 = 'succeeded' THEN now() END
		WHERE organization_id = $1 AND id = $2 AND attempts = $3 AND status = 'pending'`,
		d.OrganizationID, d.ID, d.Attempts, status, code, lastErr, next)
	return err
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the column stays valid UTF-8.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
