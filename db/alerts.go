package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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

// insertAlertsTx raises alerts inside the caller's transaction, exactly once per open condition
// (the partial unique index alerts_open_dedup and ON CONFLICT, never check-then-insert), and
// queues each new alert for email in the same transaction (the outbox). It returns the ids of
// the alerts actually created.
func insertAlertsTx(ctx context.Context, tx *sqlx.Tx, orgID uuid.UUID, alerts []NewAlert) ([]uuid.UUID, error) {
	var created []uuid.UUID
	for _, a := range alerts {
		var id uuid.UUID
		err := tx.QueryRowxContext(ctx, `
			INSERT INTO alerts (organization_id, id, type, severity, title, message, server_id, server_name, agent_id, agent_hostname, dedup_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (organization_id, dedup_key) WHERE NOT dismissed DO NOTHING
			RETURNING id`,
			orgID, uuid.New(), a.Type, a.Severity, a.Title, a.Message, a.ServerID, a.ServerName, a.AgentID, a.AgentHostname, a.DedupKey,
		).Scan(&id)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue // already open
			}
			return nil, err
		}
		created = append(created, id)
	}
	if len(created) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO alert_email_outbox (organization_id, id, alert_id)
		SELECT $1, gen_random_uuid(), a FROM unnest($2::uuid[]) AS a`, orgID, pq.Array(uuidArray(created))); err != nil {
		return nil, err
	}
	return created, nil
}

func uuidArray(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
