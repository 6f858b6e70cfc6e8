package impl

import (
	"context"
	"log/slog"
	"time"
)

// dormantBatch is how many silent agents one statement handles, so that a large backlog (the
// first run after an outage) is worked through in short transactions.
const dormantBatch = 1000

// startDormantSweeper marks dormant, every interval, the servers of agents silent for longer
// than cfg.DormantAfter. Several replicas may run it at once: the query skips agents another
// transaction holds. It returns a function that stops it.
func (s *Server) startDormantSweeper(interval time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.sweepDormant(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("mark silent agents' servers dormant", slog.Any("error", err))
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// sweepDormant runs one sweep and returns how many servers it marked dormant.
func (s *Server) sweepDormant(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.cfg.DormantAfter)
	var total int64
	for {
		agents, servers, err := s.store.MarkSilentAgentsDormant(ctx, cutoff, dormantBatch)
		if err != nil {
			return total, err
		}
		total += servers
		// Their next report must be applied in full even if it equals the last one, on every
		// replica: the others learn it from the announcement.
		for _, id := range agents {
			if st := s.keys.agent(id); st != nil {
				st.setReport(nil, nil)
			}
		}
		if err := s.store.InvalidateAgentKeysByID(ctx, agents); err != nil {
			return total, err
		}
		if len(agents) < dormantBatch {
			if total > 0 {
				s.log.Info("marked silent agents' servers dormant", slog.Int64("servers", total))
			}
			return total, nil
		}
	}
}
