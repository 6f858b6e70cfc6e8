package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// RiskSnapshot is one organization's active servers per risk level on one UTC day.
type RiskSnapshot struct {
	Day      time.Time `db:"day"`
	Critical int64     `db:"critical"`
	High     int64     `db:"high"`
	Medium   int64     `db:"medium"`
	Low      int64     `db:"low"`
}

// RiskTrend returns the organization's snapshots from the day since on (inclusive), oldest
// first: one range read of the primary key.
func (s *Storage) RiskTrend(ctx context.Context, orgID uuid.UUID, since time.Time) ([]RiskSnapshot, error) {
	rows := []RiskSnapshot{}
	err := s.db.SelectContext(ctx, &rows, `
		SELECT day, critical, high, medium, low
		FROM risk_snapshots
		WHERE organization_id = $1 AND day >= $2::date
		ORDER BY day`, orgID, since.Format(time.DateOnly))
	return rows, err
}

// OrganizationsDueForSnapshot returns up to limit organizations, by id after the one given,
// whose snapshot of day is missing or was taken before takenBefore.
func (s *Storage) OrganizationsDueForSnapshot(ctx context.Context, after uuid.UUID, day, takenBefore time.Time, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.db.SelectContext(ctx, &ids, `
		SELECT o.id FROM organizations o
		LEFT JOIN risk_snapshots r ON r.organization_id = o.id AND r.day = $2::date
		WHERE o.id > $1 AND (r.taken_at IS NULL OR r.taken_at < $3)
		ORDER BY o.id
		LIMIT $4`, after, day.Format(time.DateOnly), takenBefore, limit)
	return ids, err
}

// SnapshotRiskLevels writes the organization's current active servers per level (the sums of
// server_rollups, as DashboardStats reads them) as its snapshot of day, replacing an earlier
// one of the same day: replicas that snapshot the same organization at once write the same row.
func (s *Storage) SnapshotRiskLevels(ctx context.Context, orgID uuid.UUID, day, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO risk_snapshots (organization_id, day, critical, high, medium, low, taken_at)
		SELECT $1, $2::date,
			COALESCE(sum(n) FILTER (WHERE risk_level = 'critical'), 0),
			COALESCE(sum(n) FILTER (WHERE risk_level = 'high'), 0),
			COALESCE(sum(n) FILTER (WHERE risk_level = 'medium'), 0),
			COALESCE(sum(n) FILTER (WHERE risk_level = 'low'), 0),
			$3
		FROM server_rollups WHERE organization_id = $1
		ON CONFLICT (organization_id, day) DO UPDATE SET
			critical = EXCLUDED.critical, high = EXCLUDED.high, medium = EXCLUDED.medium,
			low = EXCLUDED.low, taken_at = EXCLUDED.taken_at`,
		orgID, day.Format(time.DateOnly), now)
	return err
}
