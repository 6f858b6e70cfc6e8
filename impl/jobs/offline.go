package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
)

// offlineBatch is how many agents one statement of the offline and idle sweeps takes at most.
var offlineBatch = 1000

// OfflineSweep raises agent_offline for agents silent for longer than After, once per silence,
// and resolves it when they are heard from again. It goes organization by organization; several
// replicas may run it at once (see db.RaiseOfflineAlerts).
type OfflineSweep struct {
	Store *db.Storage
	After time.Duration
	Log   *slog.Logger
	Now   func() time.Time // time.Now when nil
}

// RunOnce sweeps every organization and returns the alerts raised and the agents back.
func (o *OfflineSweep) RunOnce(ctx context.Context) (raised int, back int64, err error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	orgs, err := o.Store.OrganizationIDs(ctx)
	if err != nil {
		return 0, 0, err
	}
	cutoff := now().Add(-o.After)
	for _, org := range orgs {
		for {
			b, err := o.Store.ResolveOfflineAlerts(ctx, org, offlineBatch)
			if err != nil {
				return raised, back, err
			}
			back += b
			if b < int64(offlineBatch) {
				break
			}
		}
		for {
			r, err := o.Store.RaiseOfflineAlerts(ctx, org, cutoff, offlineBatch)
			if err != nil {
				return raised, back, err
			}
			raised += r
			if r < offlineBatch {
				break
			}
		}
	}
	if raised > 0 || back > 0 {
		o.Log.Info("agent offline alerts", slog.Int("raised", raised), slog.Int64("agents_back", back))
	}
	return raised, back, nil
}
