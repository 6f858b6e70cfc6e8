package impl

import (
	"context"
	"time"

	"github.com/mcpwarden/mcpwarden/gen"
)

// healthTimeout keeps /health answering within two seconds when PostgreSQL hangs.
const healthTimeout = 1500 * time.Millisecond

// GetHealth pings the primary; the read replica's state is what the last background check found,
// so /health costs the replica nothing.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	replica := s.replicaHealth()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health check: database unreachable", "error", err)
		return gen.GetHealth503JSONResponse{Status: gen.Unhealthy, Version: s.opts.Version, Database: gen.Disconnected, ReadReplica: replica}, nil
	}
	return gen.GetHealth200JSONResponse{Status: gen.Healthy, Version: s.opts.Version, Database: gen.Connected, ReadReplica: replica}, nil
}

func (s *Server) replicaHealth() *gen.ReadReplicaHealth {
	st, ok := s.store.ReadReplicaStatus()
	if !ok {
		return nil
	}
	h := &gen.ReadReplicaHealth{InUse: st.InUse, State: gen.ReadReplicaHealthState(st.State)}
	if !st.CheckedAt.IsZero() {
		at := st.CheckedAt.UTC()
		h.CheckedAt = &at
	}
	if st.LagKnown {
		lag := st.Lag.Seconds()
		h.LagSeconds = &lag
	}
	return h
}
