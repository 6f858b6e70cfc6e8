package impl

import (
	"context"
	"time"

	"github.com/mcpwarden/mcpwarden/gen"
)

// healthTimeout keeps /health answering within two seconds when PostgreSQL hangs.
const healthTimeout = 1500 * time.Millisecond

func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health check: database unreachable", "error", err)
		return gen.GetHealth503JSONResponse{Status: gen.Unhealthy, Version: s.opts.Version, Database: gen.Disconnected}, nil
	}
	return gen.GetHealth200JSONResponse{Status: gen.Healthy, Version: s.opts.Version, Database: gen.Connected}, nil
}
