package db

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// NewAlert is an alert condition found while ingesting a report.
type NewAlert struct {
	Type          string
	Severity      string
	Title         string
	Message       string
	ServerID      *uuid.UUID
	ServerName    *string
	AgentID       *uuid.UUID
	AgentHostname *string
	// DedupKey names the condition (type, server and configuration hash); while an alert with
	// the same key is open, raising it again does nothing.
	DedupKey string
}

// Alert is an alert row. Its JSON form is exactly the API's Alert schema, so webhook payloads
// and API responses cannot drift apart.
type Alert struct {
	ID            uuid.UUID  `db:"id" json:"id"`
	Type          string     `db:"type" json:"type"`
	Severity      string     `db:"severity" json:"severity"`
	Title         string     `db:"title" json:"title"`
	Message       string     `db:"message" json:"message"`
	ServerID      *uuid.UUID `db:"server_id" json:"server_id"`
	ServerName    *string    `db:"server_name" json:"server_name"`
	AgentID       *uuid.UUID `db:"agent_id" json:"agent_id"`
	AgentHostname *string    `db:"agent_hostname" json:"agent_hostname"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	Dismissed     bool       `db:"dismissed" json:"dismissed"`
	DismissedAt   *time.Time `db:"dismissed_at" json:"dismissed_at"`
	DismissedBy   *uuid.UUID `db:"dismissed_by" json:"dismissed_by"`
}

const alertColumns = `id, type, severity, title, message, server_id, server_name, agent_id, agent_hostname,
	created_at, dismissed, dismissed_at, dismissed_by`

// newAlertJSON is how NewAlert travels into the batched INSERT (jsonb_to_recordset keeps NULLs
// NULL, which text arrays through lib/pq do not).
type newAlertJSON struct {
	Type          string     `json:"type"`
	Severity      string     `json:"severity"`
	Title         string     `json:"title"`
	Message       string     `json:"message"`
	ServerID      *uuid.UUID `json:"server_id"`
	ServerName    *string    `json:"server_name"`
	AgentID       *uuid.UUID `json:"agent_id"`
	AgentHostname *string    `json:"agent_hostname"`
	DedupKey      string     `json:"dedup_key"`
}

// raiseAlertsSQL is the part of a statement that raises alerts: given a CTE alert_input (the
// alerts as newAlertJSON rows), it adds the CTE raised (the alerts actually created, exactly once
// per open condition through the partial unique index alerts_open_dedup and ON CONFLICT, never
// check-then-insert), queues each created alert for email (alert_email_outbox) and counts it
// (alert_counts) in the same statement, so a crash can lose none of them. An organization
// without an alert address queues nothing: its alerts are not emailed, then or later. $1 is the
// organization.
var raiseAlertsSQL = `
	raised AS (
		INSERT INTO alerts (organization_id, id, type, severity, title, message, server_id, server_name, agent_id, agent_hostname, dedup_key)
		SELECT $1, gen_random_uuid(), type, severity, title, message, server_id, server_name, agent_id, agent_hostname, dedup_key
		FROM alert_input ORDER BY dedup_key
		ON CONFLICT (organization_id, dedup_key) WHERE NOT dismissed DO NOTHING
		RETURNING ` + alertColumns + `
	), outbox AS (
		INSERT INTO alert_email_outbox (organization_id, id, alert_id)
		SELECT $1, gen_random_uuid(), id FROM raised
		WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1 AND alert_email IS NOT NULL)
	), ` + alertCountedSQL("raised_counted", "count(*) FROM raised")

// alertCountedSQL is a CTE, named name, that adds to alert_counts (00027_alert_counts.sql) the
// change delta (an expression and its FROM, such as "-count(*) FROM dismissed") makes to the
// organization's ($1) open alerts. Every statement that opens or dismisses alerts includes one,
// so the count is exact in any snapshot; a change of zero writes nothing.
func alertCountedSQL(name, delta string) string {
	return name + ` AS (
		INSERT INTO alert_counts (organization_id, n)
		SELECT $1, n FROM (SELECT ` + delta + `) AS d (n) WHERE n <> 0
	)`
}

// alertInputSQL reads the alerts to raise from a jsonb parameter into the CTE alert_input.
func alertInputSQL(param string) string {
	return `alert_input AS (
		SELECT * FROM jsonb_to_recordset(` + param + `::jsonb) AS x(
			type text, severity text, title text, message text, server_id uuid, server_name text,
			agent_id uuid, agent_hostname text, dedup_key text)
	)`
}

// alertInput encodes alerts for alertInputSQL, sorted by dedup key: concurrent reports then
// insert in the same key order, so they wait on each other instead of deadlocking on the unique
// index.
func alertInput(alerts []NewAlert) (string, error) {
	rows := make([]newAlertJSON, len(alerts))
	for i, a := range alerts {
		rows[i] = newAlertJSON(a)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].DedupKey < rows[j].DedupKey })
	b, err := json.Marshal(rows)
	return string(b), err
}

// queueWebhookDeliveries queues, in the caller's transaction, a delivery of every created alert
// to every webhook of the organization (event alert.created, payload the alert as the API shows
// it). An organization without webhooks joins nothing and writes nothing.
func queueWebhookDeliveries(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, created []Alert) error {
	if len(created) == 0 {
		return nil
	}
	type delivery struct {
		AlertID uuid.UUID       `json:"alert_id"`
		Payload json.RawMessage `json:"payload"`
	}
	deliveries := make([]delivery, len(created))
	for i, a := range created {
		payload, err := json.Marshal(a)
		if err != nil {
			return err
		}
		deliveries[i] = delivery{a.ID, payload}
	}
	input, err := json.Marshal(deliveries)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO webhook_deliveries (organization_id, id, webhook_id, alert_id, event, payload, next_attempt_at)
		SELECT $1, gen_random_uuid(), w.id, d.alert_id, 'alert.created', d.payload, now()
		FROM webhooks w CROSS JOIN jsonb_to_recordset($2::jsonb) AS d(alert_id uuid, payload jsonb)
		WHERE w.organization_id = $1`, orgID, string(input)); err != nil {
		return fmt.Errorf("queue webhook deliveries: %w", err)
	}
	return nil
}

// insertAlertsTx raises alerts inside the caller's transaction (raiseAlertsSQL), queues their
// webhook deliveries, and returns the ids of the alerts actually created.
func insertAlertsTx(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, alerts []NewAlert) ([]uuid.UUID, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	input, err := alertInput(alerts)
	if err != nil {
		return nil, err
	}
	var created []Alert
	if err := tx.SelectContext(ctx, &created, `WITH `+alertInputSQL("$2")+`,`+raiseAlertsSQL+`
		SELECT `+alertColumns+` FROM raised`, orgID, input); err != nil {
		return nil, fmt.Errorf("insert alerts: %w", err)
	}
	if err := queueWebhookDeliveries(ctx, tx, orgID, created); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(created))
	for i, a := range created {
		ids[i] = a.ID
	}
	return ids, nil
}

// InsertAlerts raises alerts in a transaction of their own (tools and tests; ingestion calls
// insertAlertsTx inside its report transaction).
func (s *Storage) InsertAlerts(ctx context.Context, orgID uuid.UUID, alerts []NewAlert) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		ids, err = insertAlertsTx(ctx, tx, orgID, alerts)
		return err
	})
	return ids, err
}

// AlertFilter narrows ListAlerts.
type AlertFilter struct {
	Dismissed *bool
	Severity  *string
	Limit     int
	Offset    int
}

// ListAlerts returns a page of the organization's alerts, newest first, and how many match.
func (s *Storage) ListAlerts(ctx context.Context, orgID uuid.UUID, f AlertFilter) ([]Alert, int64, error) {
	where := `organization_id = $1 AND ($2::boolean IS NULL OR dismissed = $2) AND ($3::text IS NULL OR severity = $3)`
	var total int64
	if err := s.db.GetContext(ctx, &total, `SELECT count(*) FROM alerts WHERE `+where, orgID, f.Dismissed, f.Severity); err != nil {
		return nil, 0, err
	}
	items := []Alert{}
	if total > int64(f.Offset) {
		if err := s.db.SelectContext(ctx, &items, `SELECT `+alertColumns+` FROM alerts WHERE `+where+`
			ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`, orgID, f.Dismissed, f.Severity, f.Limit, f.Offset); err != nil {
			return nil, 0, err
		}
	}
	return items, total, nil
}

// DismissAlert dismisses one alert (again dismissing a dismissed alert keeps the first time and
// person) and returns it, or ErrNotFound when the organization has no such alert.
func (s *Storage) DismissAlert(ctx context.Context, orgID, alertID, userID uuid.UUID, reason *string) (Alert, error) {
	var a Alert
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// The locked read (before) gives the state the update changes, so concurrent dismissals
		// of the same alert count it out once. The update reads it, so that it is read first:
		// a row this statement has updated already is not locked again.
		if err := tx.GetContext(ctx, &a, `
			WITH before AS (
				SELECT id, dismissed FROM alerts WHERE organization_id = $1 AND id = $2 FOR UPDATE
			), `+alertCountedSQL("counted", "-count(*) FROM before WHERE NOT dismissed")+`
			UPDATE alerts SET
				dismissed = true,
				dismissed_at = COALESCE(dismissed_at, now()),
				dismissed_by = CASE WHEN dismissed THEN dismissed_by ELSE $3 END
			WHERE organization_id = $1 AND id IN (SELECT id FROM before)
			RETURNING `+alertColumns, orgID, alertID, userID); err != nil {
			return notFound(err)
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "alert.dismissed", TargetType: "alert", TargetID: alertID.String(),
			Summary: withReason(map[string]any{"type": a.Type, "severity": a.Severity, "title": a.Title}, reason)})
	})
	return a, err
}

func withReason(summary map[string]any, reason *string) map[string]any {
	if reason != nil {
		summary["reason"] = *reason
	}
	return summary
}

// DismissAllAlerts dismisses every open alert (of one severity when given) and says how many.
func (s *Storage) DismissAllAlerts(ctx context.Context, orgID, userID uuid.UUID, severity, reason *string) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &n, `
			WITH dismissed AS (
				UPDATE alerts SET dismissed = true, dismissed_at = now(), dismissed_by = $2
				WHERE organization_id = $1 AND NOT dismissed AND ($3::text IS NULL OR severity = $3)
				RETURNING 1
			), `+alertCountedSQL("counted", "-count(*) FROM dismissed")+`
			SELECT count(*) FROM dismissed`, orgID, userID, severity); err != nil {
			return err
		}
		filter := map[string]any{}
		if severity != nil {
			filter["severity"] = *severity
		}
		return audit(ctx, tx, orgID, AuditEvent{Action: "alert.dismissed_all", TargetType: "alert",
			Summary: withReason(map[string]any{"filter": filter, "dismissed": n}, reason)})
	})
	return n, err
}

// EachAlert calls fn with every alert ListAlerts would list for f (Limit and Offset aside), in
// list order (see each).
func (s *Storage) EachAlert(ctx context.Context, orgID uuid.UUID, f AlertFilter, fn func(Alert) error) error {
	return each(ctx, s.db, fn, `SELECT `+alertColumns+` FROM alerts
		WHERE organization_id = $1 AND ($2::boolean IS NULL OR dismissed = $2) AND ($3::text IS NULL OR severity = $3)
		ORDER BY created_at DESC, id`, orgID, f.Dismissed, f.Severity)
}
