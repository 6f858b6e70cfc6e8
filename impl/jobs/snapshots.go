package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// snapshotBatch is how many organizations one query hands the snapshot job.
const snapshotBatch = 500

// RiskSnapshots writes each organization's active servers per risk level as its point of the
// day for the dashboard's trend, organization by organization. An organization is due when
// today's (UTC) snapshot is missing or older than Every. Several replicas may run it at once:
// each write is an upsert of the organization's row for the day, so a second replica's write
// replaces the first's with the same or newer counts and nothing is counted twice.
type RiskSnapshots struct {
	Store *db.Storage
	Every time.Duration
	Log   *slog.Logger
	Now   func() time.Time // time.Now when nil
}

// RunOnce snapshots every due organization and returns how many it wrote.
func (r *RiskSnapshots) RunOnce(ctx context.Context) (int, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	start := now().UTC()
	day := start.Truncate(24 * time.Hour)
	var after uuid.UUID
	written := 0
	for {
		orgs, err := r.Store.OrganizationsDueForSnapshot(ctx, after, day, start.Add(-r.Every), snapshotBatch)
		if err != nil {
			return written, err
		}
		for _, org := range orgs {
			if err := r.Store.SnapshotRiskLevels(ctx, org, day, now()); err != nil {
				return written, err
			}
			written++
		}
		if len(orgs) < snapshotBatch {
			return written, nil
		}
		after = orgs[len(orgs)-1]
	}
}
