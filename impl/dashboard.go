package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) GetDashboardStats(ctx context.Context, request gen.GetDashboardStatsRequestObject) (gen.GetDashboardStatsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetRiskDistribution(ctx context.Context, request gen.GetRiskDistributionRequestObject) (gen.GetRiskDistributionResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetTopRisks(ctx context.Context, request gen.GetTopRisksRequestObject) (gen.GetTopRisksResponseObject, error) {
	return nil, errNotImplemented
}
