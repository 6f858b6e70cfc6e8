package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
)

// dormantBatch is how many silent agents one statement handles, so that a large backlog (the
// first run after an outage) is worked through in short transactions.
const dormantBatch = 1000

// DormantSweep marks dormant the servers of agents silent for longer than After, organization by
// organization. Several replicas may run it at once: the query skips agents another transaction
// holds.
type DormantSweep struct {
	Store    *db.Storage
	Ingester *ingest.Ingester
	After    time.Duration
	Log      *slog.Logger
	Now      func() time.Time // time.Now when nil
}

// RunOnce runs one sweep and returns how many servers it marked dormant.
func (d *DormantSweep) RunOnce(ctx context.Context) (int64, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	cutoff := now().Add(-d.After)
	orgs, err := d.Store.OrganizationIDs(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, org := range orgs {
		for {
			agents, servers, err := d.Store.MarkSilentAgentsDormant(ctx, org, cutoff, dormantBatch)
			if err != nil {
				return total, err
			}
			total += servers
			// Their next report must be applied in full even if it equals the last one, on
			// every replica: the others learn it from the statement's announcement.
			d.Ingester.ReportsForgotten(agents)
			if len(agents) < dormantBatch {
				break
			}
		}
	}
	if total > 0 {
		d.Log.Info("marked silent agents' servers dormant", slog.Int64("servers", total))
	}
	return total, nil
}
