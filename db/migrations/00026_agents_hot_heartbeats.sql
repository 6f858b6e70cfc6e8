-- +goose Up
-- Heartbeat flushes update nothing but agents.last_seen_at, one row per agent a minute. With
-- last_seen_at in an index every such update wrote a new entry into all of the table's indexes
-- (0 of 40,006 flush updates were HOT in the bench); without it, and with room left on each page,
-- PostgreSQL keeps the new version on the same page and touches no index (a HOT update).
-- The readers of last_seen_at do not need the index: the offline sweep and the dormant sweep scan
-- the agents anyway (every agent is a candidate, once a minute), the dashboard's online count
-- and the agent list's online filter read most of an organization's agents, whose index entries
-- pointed at pages heartbeats kept dirty. Agents an offline alert is open for, the few the
-- sweep's resolution looks at, get a partial index of their own, on a column heartbeats leave.
DROP INDEX agents_last_seen;
CREATE INDEX agents_offline_alerted ON agents (organization_id) WHERE offline_alerted_at IS NOT NULL;
-- Room for each row's next version on its own page (rows are about 250 bytes, 30 a page). It
-- applies to pages written from now on: an existing table gets it as rows move, or at once with
-- VACUUM FULL agents.
ALTER TABLE agents SET (fillfactor = 80);

-- +goose Down
ALTER TABLE agents RESET (fillfactor);
DROP INDEX agents_offline_alerted;
CREATE INDEX agents_last_seen ON agents (organization_id, last_seen_at);
