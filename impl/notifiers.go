package impl

import (
	"context"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/impl/notify"
)

// startNotifiers starts the background workers that take alerts out of the database (email
// digests, webhook deliveries) and keep the dashboard rollups small. It returns the function that
// stops them and waits for them, for s.closers. Every replica runs them: rows are claimed with
// FOR UPDATE SKIP LOCKED, so replicas share the work without sending anything twice.
func (s *Server) startNotifiers() func() {
	c := &s.cfg
	if c.EmailDigestInterval <= 0 {
		c.EmailDigestInterval = 30 * time.Second
	}
	if c.WebhookPollInterval <= 0 {
		c.WebhookPollInterval = 2 * time.Second
	}
	if c.WebhookRetryBase <= 0 {
		c.WebhookRetryBase = 30 * time.Second
	}
	if c.RollupCompactInterval <= 0 {
		c.RollupCompactInterval = 30 * time.Second
	}

	digest := &notify.DigestWorker{Store: s.store, Log: s.log}
	if c.SMTPURL != "" {
		smtp, err := notify.ParseSMTPURL(c.SMTPURL)
		if err != nil {
			// cmd/mcpwarden refuses to start with a bad URL; a library caller gets a log line
			// and no email worker, so pending digests wait rather than being skipped.
			s.log.Error("email digests disabled", "error", err)
			digest = nil
		} else {
			digest.Mailer = &notify.SMTPMailer{Config: smtp}
		}
	}
	hooks := &notify.WebhookWorker{
		Store:     s.store,
		Client:    notify.NewHTTPClient(c.WebhookAllowPrivate),
		Log:       s.log,
		RetryBase: c.WebhookRetryBase,
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, interval time.Duration, fn func(context.Context) (bool, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			notify.Loop(ctx, interval, s.log, name, fn)
		}()
	}
	if digest != nil {
		run("email digests", c.EmailDigestInterval, func(ctx context.Context) (bool, error) {
			// Run again at once only when a digest was cut at its cap; otherwise alerts
			// gather for one interval, which is what makes a burst one email.
			_, more, err := digest.RunOnce(ctx)
			return more, err
		})
	}
	run("webhook deliveries", c.WebhookPollInterval, func(ctx context.Context) (bool, error) {
		n, err := hooks.RunOnce(ctx)
		return n >= 50, err
	})
	run("rollup compaction", c.RollupCompactInterval, func(ctx context.Context) (bool, error) {
		_, err := s.store.CompactRollups(ctx, 64)
		return false, err
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
