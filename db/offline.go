package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// OrganizationIDs lists every organization, for background work that goes organization by
// organization (each statement then touches one organization's rows).
func (s *Storage) OrganizationIDs(ctx context.Context) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.db.SelectContext(ctx, &ids, `SELECT id FROM organizations ORDER BY id`)
	return ids, err
}

// RaiseOfflineAlerts raises agent_offline for at most limit of the organization's agents last
// seen before cutoff, once per silence: the statement that marks an agent alerted is the one that
// finds it unmarked, so replicas running this at once raise each alert once. It returns how many
// it raised; the caller calls again while that is limit, so that a fleet gone silent at once (a
// restored backup, a seeded organization) is alerted in bounded transactions and memory. Rows
// that a heartbeat flush or a report holds are skipped, not waited for (see ResolveOfflineAlerts).
func (s *Storage) RaiseOfflineAlerts(ctx context.Context, orgID uuid.UUID, cutoff time.Time, limit int) (int, error) {
	var raised int
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var silent []struct {
			ID       uuid.UUID `db:"id"`
			Name     string    `db:"name"`
			Hostname *string   `db:"hostname"`
			LastSeen time.Time `db:"last_seen_at"`
		}
		if err := tx.SelectContext(ctx, &silent, `
			WITH picked AS (
				SELECT id FROM agents WHERE organization_id = $1 AND last_seen_at < $2 AND offline_alerted_at IS NULL
				LIMIT $3 FOR UPDATE SKIP LOCKED
			)
			UPDATE agents a SET offline_alerted_at = now() FROM picked
			WHERE a.organization_id = $1 AND a.id = picked.id
			RETURNING a.id, a.name, a.hostname, a.last_seen_at`, orgID, cutoff, limit); err != nil {
			return err
		}
		alerts := make([]NewAlert, len(silent))
		for i, a := range silent {
			id := a.ID
			alerts[i] = NewAlert{
				Type: "agent_offline", Severity: "medium", Title: fmt.Sprintf("Agent %q is offline", a.Name),
				Message: fmt.Sprintf("Agent %q has not been heard from since %s UTC. Its inventory is as it last reported it; "+
					"the machine may be off or away, or the agent stopped or uninstalled. The alert resolves itself when the agent reports again.",
					a.Name, a.LastSeen.UTC().Format("2006-01-02 15:04")),
				AgentID: &id, AgentHostname: a.Hostname, DedupKey: "agent_offline:" + a.ID.String(),
			}
		}
		ids, err := insertAlertsTx(ctx, tx, orgID, alerts)
		raised = len(ids)
		return err
	})
	return raised, err
}

// ResolveOfflineAlerts dismisses the agent_offline alerts of at most limit of the organization's
// agents heard from since they were raised, and readies their next silence to raise a new one.
// It returns how many agents came back; the caller calls again while that is limit.
//
// Like the other sweeps of agents (RaiseOfflineAlerts, MarkIdleAgents), it takes at most limit
// rows per statement and skips rows that others hold (FOR UPDATE SKIP LOCKED): it never holds
// thousands of agents' rows for long, nor waits behind a heartbeat flush or a report batch, nor
// makes them wait behind it. A skipped row is taken by the next sweep, a minute later. (Agents
// coming back after an outage all at once were resolved in one statement, which held 200,000
// rows for over 45 s while every flush and report of the organization waited.)
func (s *Storage) ResolveOfflineAlerts(ctx context.Context, orgID uuid.UUID, limit int) (int64, error) {
	var back int64
	err := s.db.GetContext(ctx, &back, `
		WITH picked AS (
			SELECT id FROM agents WHERE organization_id = $1 AND offline_alerted_at IS NOT NULL AND last_seen_at > offline_alerted_at
			LIMIT $2 FOR UPDATE SKIP LOCKED
		), back AS (
			UPDATE agents a SET offline_alerted_at = NULL FROM picked
			WHERE a.organization_id = $1 AND a.id = picked.id
			RETURNING a.id
		), resolved AS (
			UPDATE alerts SET dismissed = true, dismissed_at = now()
			WHERE organization_id = $1 AND type = 'agent_offline' AND NOT dismissed AND agent_id IN (SELECT id FROM back)
			RETURNING 1
		), `+alertCountedSQL("counted", "-count(*) FROM resolved")+`
		SELECT count(*) FROM back`, orgID, limit)
	return back, err
}

// AgentIdleAfter is how long an agent must have been silent for MarkIdleAgents to mark it idle:
// the online window and a minute, so that a reader whose transaction started up to a minute
// before the mark still finds the agent offline.
const AgentIdleAfter = AgentOnlineWindow + time.Minute

// MarkIdleAgents marks idle (00028_agents_idle.sql) at most limit of the organization's agents
// silent for longer than AgentIdleAfter, or never seen, and returns how many it marked; the
// caller calls again while that is limit. Every writer of last_seen_at clears the mark, and the
// mark is made on the agent's current row (the conditions are checked again on a row a
// heartbeat flush changed meanwhile), so an idle agent is always offline. Rows others hold are
// skipped (see ResolveOfflineAlerts).
func (s *Storage) MarkIdleAgents(ctx context.Context, orgID uuid.UUID, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		WITH picked AS (
			SELECT id FROM agents WHERE organization_id = $1 AND NOT idle
				AND (last_seen_at IS NULL OR last_seen_at < now() - $2 * interval '1 second')
			LIMIT $3 FOR UPDATE SKIP LOCKED
		)
		UPDATE agents a SET idle = true FROM picked WHERE a.organization_id = $1 AND a.id = picked.id`,
		orgID, AgentIdleAfter.Seconds(), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
