// Package jobs runs the server's background work: email digests and webhook deliveries of new
// alerts, compaction of the dashboard rollups, the dormant sweep, agent-offline alerts, the
// marking of idle agents, the daily risk snapshots and the sweep of expired sign-in throttle
// counters. Every replica runs every job.
// The jobs on tenant data list the organizations and work within one at a time, so that every
// statement that locks or writes rows touches one organization's (as Citus needs); each claims
// its rows with FOR UPDATE SKIP LOCKED or an advisory lock, or writes idempotently, so replicas
// share the work and nothing is sent or marked twice.
package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/notify"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// Config is how often each job runs, and what it needs.
type Config struct {
	// SMTP, when set, turns on email digests of new alerts, sent every EmailDigestInterval.
	SMTP                *notify.SMTPConfig
	EmailDigestInterval time.Duration
	// WebhookPollInterval is how often due webhook deliveries are looked for; WebhookRetryBase
	// is the first retry's delay, doubling up to an hour, for 24 hours.
	WebhookPollInterval time.Duration
	WebhookRetryBase    time.Duration
	// WebhookAllowPrivate lets webhooks reach loopback, private, link-local and metadata
	// addresses, which are refused by default (SSRF).
	WebhookAllowPrivate   bool
	RollupCompactInterval time.Duration
	// DormantAfter is how long an agent may stay silent before its servers become dormant;
	// DormantSweepInterval is how often that is checked.
	DormantAfter         time.Duration
	DormantSweepInterval time.Duration
	// AgentOfflineAfter is how long an agent may stay silent before agent_offline is raised
	// (checked every DormantSweepInterval); 0 turns the alert off.
	AgentOfflineAfter time.Duration
	// AuditRetention is how long audit events are kept (0 keeps them forever).
	AuditRetention time.Duration
	// TrendSnapshotInterval is the most a day's risk snapshot may lag the live counts.
	TrendSnapshotInterval time.Duration
	Logger                *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Run runs every job until ctx ends, and returns when they have stopped.
func Run(ctx context.Context, cfg Config, store *db.Storage, in *ingest.Ingester) {
	log := cfg.Logger
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	var wg sync.WaitGroup
	run := func(name string, interval time.Duration, fn func(context.Context) (bool, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx, interval, log, name, fn)
		}()
	}
	if cfg.SMTP != nil {
		digest := &notify.DigestWorker{Store: store, Log: log, Mailer: &notify.SMTPMailer{Config: *cfg.SMTP}}
		run("email digests", cfg.EmailDigestInterval, func(ctx context.Context) (bool, error) {
			// Run again at once only when a digest was cut at its cap; otherwise alerts
			// gather for one interval, which is what makes a burst one email.
			_, more, err := digest.RunOnce(ctx)
			return more, err
		})
	}
	hooks := &notify.WebhookWorker{
		Store:     store,
		Client:    notify.NewHTTPClient(cfg.WebhookAllowPrivate),
		Log:       log,
		RetryBase: cfg.WebhookRetryBase,
	}
	run("webhook deliveries", cfg.WebhookPollInterval, func(ctx context.Context) (bool, error) {
		n, err := hooks.RunOnce(ctx)
		return n >= 50, err
	})
	run("rollup compaction", cfg.RollupCompactInterval, func(ctx context.Context) (bool, error) {
		_, err := store.CompactRollups(ctx, 64)
		return false, err
	})
	run("sign-in throttle sweep", security.ThrottleWindow, func(ctx context.Context) (bool, error) {
		_, err := store.DeleteExpiredAttempts(ctx, now().Add(-security.ThrottleWindow))
		return false, err
	})
	if cfg.AgentOfflineAfter > 0 {
		offline := &OfflineSweep{Store: store, After: cfg.AgentOfflineAfter, Log: log, Now: cfg.Now}
		run("agent offline alerts", cfg.DormantSweepInterval, func(ctx context.Context) (bool, error) {
			_, _, err := offline.RunOnce(ctx)
			return false, err
		})
	}
	if cfg.AuditRetention > 0 {
		run("audit retention", time.Hour, func(ctx context.Context) (bool, error) {
			orgs, err := store.OrganizationIDs(ctx)
			if err != nil {
				return false, err
			}
			cutoff := now().Add(-cfg.AuditRetention)
			for _, org := range orgs {
				if _, err := store.DeleteAuditEventsBefore(ctx, org, cutoff); err != nil {
					return false, err
				}
			}
			return false, nil
		})
	}
	run("idle agents", cfg.DormantSweepInterval, func(ctx context.Context) (bool, error) {
		orgs, err := store.OrganizationIDs(ctx)
		if err != nil {
			return false, err
		}
		for _, org := range orgs {
			for {
				n, err := store.MarkIdleAgents(ctx, org, offlineBatch)
				if err != nil {
					return false, err
				}
				if n < int64(offlineBatch) {
					break
				}
			}
		}
		return false, nil
	})
	sweep := &DormantSweep{Store: store, Ingester: in, After: cfg.DormantAfter, Log: log, Now: cfg.Now}
	run("dormant sweep", cfg.DormantSweepInterval, func(ctx context.Context) (bool, error) {
		_, err := sweep.RunOnce(ctx)
		return false, err
	})
	snapshots := &RiskSnapshots{Store: store, Every: cfg.TrendSnapshotInterval, Log: log, Now: cfg.Now}
	// Looked for every minute (at most), so that a new day or organization gets its point soon.
	run("risk snapshots", min(cfg.TrendSnapshotInterval, time.Minute), func(ctx context.Context) (bool, error) {
		_, err := snapshots.RunOnce(ctx)
		return false, err
	})
	wg.Wait()
}

// loop calls fn at once, then every interval until ctx ends; fn returning more = true runs it
// again at once, so a backlog larger than one batch drains without waiting for the next tick.
func loop(ctx context.Context, interval time.Duration, log *slog.Logger, name string, fn func(context.Context) (more bool, err error)) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		more, err := fn(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error(name+" failed", "error", err)
		}
		next := interval
		if err == nil && more {
			next = 0
		}
		t.Reset(next)
	}
}
