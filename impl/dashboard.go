package impl

import (
	"context"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
)

func (s *Server) GetDashboardStats(ctx context.Context, request gen.GetDashboardStatsRequestObject) (gen.GetDashboardStatsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	st, err := readOne(ctx, s, func(st *db.Storage) (db.DashboardStats, error) { return st.DashboardStats(ctx, p.OrgID) })
	if err != nil {
		return nil, err
	}
	return gen.GetDashboardStats200JSONResponse{
		TotalServers:     st.TotalServers,
		CriticalCount:    st.CriticalCount,
		HighCount:        st.HighCount,
		MediumCount:      st.MediumCount,
		LowCount:         st.LowCount,
		ActiveAgents:     st.ActiveAgents,
		UnresolvedAlerts: st.UnresolvedAlerts,
	}, nil
}

var riskLevelsDesc = []gen.RiskLevel{"critical", "high", "medium", "low"}

func (s *Server) GetRiskDistribution(ctx context.Context, request gen.GetRiskDistributionRequestObject) (gen.GetRiskDistributionResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	counts, types, err := readTwo(ctx, s, func(st *db.Storage) (map[string]int64, []db.TypeCount, error) {
		return st.RiskDistribution(ctx, p.OrgID, 5)
	})
	if err != nil {
		return nil, err
	}
	out := gen.GetRiskDistribution200JSONResponse{
		Critical: counts["critical"],
		High:     counts["high"],
		Medium:   counts["medium"],
		Low:      counts["low"],
		Levels:   make([]gen.RiskLevelBucket, 0, len(riskLevelsDesc)),
	}
	out.Total = out.Critical + out.High + out.Medium + out.Low
	for _, level := range riskLevelsDesc {
		bucket := gen.RiskLevelBucket{RiskLevel: level, Count: counts[string(level)], TopServerTypes: []gen.ServerTypeCount{}}
		for _, t := range types {
			if t.RiskLevel == string(level) {
				bucket.TopServerTypes = append(bucket.TopServerTypes, gen.ServerTypeCount{ServerType: clipRunes(t.ServerType, 500), Count: t.Count})
			}
		}
		out.Levels = append(out.Levels, bucket)
	}
	return out, nil
}

func (s *Server) GetTopRisks(ctx context.Context, request gen.GetTopRisksRequestObject) (gen.GetTopRisksResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	limit := 5
	if l := request.Params.Limit; l != nil && *l >= 1 {
		limit = min(int(*l), 50)
	}
	rows, err := readOne(ctx, s, func(st *db.Storage) ([]db.Server, error) { return st.TopRisks(ctx, p.OrgID, limit) })
	if err != nil {
		return nil, err
	}
	out := make(gen.GetTopRisks200JSONResponse, len(rows))
	for i, r := range rows {
		if out[i], err = serverView(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// clipRunes cuts s to at most n bytes on a rune boundary (schema maxLength guards).
func clipRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func (s *Server) GetRiskTrend(ctx context.Context, request gen.GetRiskTrendRequestObject) (gen.GetRiskTrendResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	days := int32(30)
	if d := request.Params.Days; d != nil {
		days = *d
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	rows, err := readOne(ctx, s, func(st *db.Storage) ([]db.RiskSnapshot, error) {
		return st.RiskTrend(ctx, p.OrgID, today.AddDate(0, 0, 1-int(days)))
	})
	if err != nil {
		return nil, err
	}
	out := gen.GetRiskTrend200JSONResponse{Days: days, Points: make([]gen.RiskTrendPoint, len(rows))}
	for i, r := range rows {
		out.Points[i] = gen.RiskTrendPoint{
			Date:     openapi_types.Date{Time: r.Day},
			Critical: r.Critical, High: r.High, Medium: r.Medium, Low: r.Low,
		}
	}
	return out, nil
}
