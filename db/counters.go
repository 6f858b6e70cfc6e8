package db

// counterDeltasSQL returns the CTEs (counter_delta, counted, rolled) that keep server_counts
// (00005_server_list.sql) and server_rollups (00003_alerts.sql) exact for a statement that
// changes mcp_servers rows: changes lists (status, risk_level, server_name, server_type, d) for
// each row the statement changed, d = +1 for its new values and -1 for its old ones, taken
// from the statement's own RETURNING rows. Rows whose counted columns did not change net to
// zero and write nothing. $1 is the organization.
//
// The statements write the deltas themselves, rather than a trigger on mcp_servers, because
// Citus refuses triggers on distributed tables. Old values come from the statement (a DELETE's
// RETURNING, the status a WHERE clause guarantees) or from a read of the rows in the same
// transaction under the lock of their agent's row, which every writer of those columns takes
// first (report batches, the dormant sweep, agent deletion); verification changes none of them.
func counterDeltasSQL(changes string) string {
	return `counter_delta AS (
			SELECT status, risk_level, server_name, server_type, sum(d)::bigint AS n
			FROM (` + changes + `) AS changes (status, risk_level, server_name, server_type, d)
			GROUP BY status, risk_level, server_name, server_type
			HAVING sum(d) <> 0
		), counted AS (
			INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
			SELECT $1, status, risk_level, server_name, server_type, n FROM counter_delta
		), rolled AS (
			INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
			SELECT $1, risk_level, server_type, sum(n)::bigint FROM counter_delta WHERE status = 'active'
			GROUP BY risk_level, server_type
			HAVING sum(n) <> 0
		)`
}
