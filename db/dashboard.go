package db

import (
	"context"
	"sort"
	"time"

	"github.com/google/uuid"
)

// AgentOnlineWindow is how recently an agent must have been seen to count as active.
const AgentOnlineWindow = 3 * time.Minute

// DashboardStats are the headline counts.
type DashboardStats struct {
	TotalServers     int64 `db:"total_servers"`
	CriticalCount    int64 `db:"critical_count"`
	HighCount        int64 `db:"high_count"`
	MediumCount      int64 `db:"medium_count"`
	LowCount         int64 `db:"low_count"`
	ActiveAgents     int64 `db:"active_agents"`
	UnresolvedAlerts int64 `db:"unresolved_alerts"`
}

// DashboardStats counts in one round trip. Server counts come from server_rollups (see
// 00003_alerts.sql), whose size depends on the number of server types, not servers, and the
// open alerts from alert_counts (00027_alert_counts.sql). Active agents are counted among those
// not marked idle (00028_agents_idle.sql, MarkIdleAgents).
func (s *Storage) DashboardStats(ctx context.Context, orgID uuid.UUID) (DashboardStats, error) {
	var st DashboardStats
	err := s.db.GetContext(ctx, &st, `
		WITH levels AS (
			SELECT risk_level, sum(n) AS n FROM server_rollups WHERE organization_id = $1 GROUP BY risk_level
		)
		SELECT
			COALESCE((SELECT sum(n) FROM levels), 0)::bigint AS total_servers,
			COALESCE((SELECT n FROM levels WHERE risk_level = 'critical'), 0)::bigint AS critical_count,
			COALESCE((SELECT n FROM levels WHERE risk_level = 'high'), 0)::bigint AS high_count,
			COALESCE((SELECT n FROM levels WHERE risk_level = 'medium'), 0)::bigint AS medium_count,
			COALESCE((SELECT n FROM levels WHERE risk_level = 'low'), 0)::bigint AS low_count,
			(SELECT count(*) FROM agents WHERE organization_id = $1 AND NOT idle AND last_seen_at > now() - $2 * interval '1 second') AS active_agents,
			(SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts WHERE organization_id = $1) AS unresolved_alerts`,
		orgID, AgentOnlineWindow.Seconds())
	return st, err
}

// TypeCount is the number of active servers of one type at one level.
type TypeCount struct {
	RiskLevel  string `db:"risk_level"`
	ServerType string `db:"server_type"`
	Count      int64  `db:"n"`
}

// RiskDistribution returns the active server count per level and, for each level, up to topN
// server types, commonest first (ties by name).
func (s *Storage) RiskDistribution(ctx context.Context, orgID uuid.UUID, topN int) (levelCounts map[string]int64, types []TypeCount, err error) {
	var rows []TypeCount
	if err := s.db.SelectContext(ctx, &rows, `
		SELECT risk_level, server_type, sum(n)::bigint AS n
		FROM server_rollups WHERE organization_id = $1
		GROUP BY risk_level, server_type
		HAVING sum(n) <> 0`, orgID); err != nil {
		return nil, nil, err
	}
	levelCounts = map[string]int64{}
	byLevel := map[string][]TypeCount{}
	for _, r := range rows {
		levelCounts[r.RiskLevel] += r.Count
		byLevel[r.RiskLevel] = append(byLevel[r.RiskLevel], r)
	}
	for _, list := range byLevel {
		sortTypeCounts(list)
		if len(list) > topN {
			list = list[:topN]
		}
		types = append(types, list...)
	}
	return levelCounts, types, nil
}

func sortTypeCounts(list []TypeCount) {
	sort.Slice(list, func(i, j int) bool {
		if list[i].Count != list[j].Count {
			return list[i].Count > list[j].Count
		}
		return list[i].ServerType < list[j].ServerType
	})
}

// TopRisks returns the highest-scored active servers, in the server list's order: the list's
// merge of the active (status, risk_level) slices of mcp_servers_list, stopped after limit rows.
func (s *Storage) TopRisks(ctx context.Context, orgID uuid.UUID, limit int) ([]Server, error) {
	active := "active"
	var branches []branch
	for _, level := range []string{"critical", "high", "medium", "low"} {
		branches = append(branches, branch{status: &active, level: &level})
	}
	return s.rankPage(ctx, orgID, branches, false, limit, 0)
}

// CompactRollups folds the rollup deltas of organizations with more than minRows rows into one
// row per (risk_level, server_type). Deleting the visible rows and inserting their sums in one
// statement moves every delta exactly once, even when replicas compact concurrently: a row
// another compaction already deleted is skipped by this one's DELETE, so it is not counted twice.
func (s *Storage) CompactRollups(ctx context.Context, minRows int) (int, error) {
	n, err := s.compactDeltas(ctx, minRows, `SELECT organization_id FROM server_rollups`, `
		WITH moved AS (
			DELETE FROM server_rollups WHERE organization_id = $1
			RETURNING risk_level, server_type, n
		)
		INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
		SELECT $1, risk_level, server_type, sum(n) FROM moved
		GROUP BY risk_level, server_type HAVING sum(n) <> 0`)
	if err != nil {
		return n, err
	}
	m, err := s.compactServerCounts(ctx, minRows)
	if err != nil {
		return n + m, err
	}
	k, err := s.compactAlertCounts(ctx, minRows)
	return n + m + k, err
}

// compactAlertCounts folds the alert_counts deltas of organizations with more than minRows rows
// into one row, moving every delta exactly once as CompactRollups does.
func (s *Storage) compactAlertCounts(ctx context.Context, minRows int) (int, error) {
	return s.compactDeltas(ctx, minRows, `SELECT organization_id FROM alert_counts`, `
		WITH moved AS (
			DELETE FROM alert_counts WHERE organization_id = $1 RETURNING n
		)
		INSERT INTO alert_counts (organization_id, n)
		SELECT $1, sum(n) FROM moved HAVING sum(n) <> 0`)
}

// compactDeltas runs fold ($1: an organization) for up to 100 organizations that the rows of
// from (a SELECT of organization_id, without GROUP BY) hold more than minRows deltas for, and
// returns how many it folded.
func (s *Storage) compactDeltas(ctx context.Context, minRows int, from, fold string) (int, error) {
	var orgs []uuid.UUID
	if err := s.db.SelectContext(ctx, &orgs, from+` GROUP BY organization_id HAVING count(*) > $1 LIMIT 100`, minRows); err != nil {
		return 0, err
	}
	for _, org := range orgs {
		if _, err := s.db.ExecContext(ctx, fold, org); err != nil {
			return 0, err
		}
	}
	return len(orgs), nil
}
