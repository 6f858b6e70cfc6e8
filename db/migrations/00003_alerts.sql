-- +goose Up
-- Dashboard rollups. Counting active servers per level (and per level and type) over an index
-- still visits every index entry: tens of milliseconds at 1,000,000 rows, past the 25 ms the
-- dashboard must answer in. So statement-level triggers on mcp_servers append signed deltas
-- (+n when active servers of a level and type appear, -n when they go) to server_rollups, and the
-- dashboard sums that small table instead.
--
-- Deltas are only ever inserted by ingestion, never updated, so concurrent reports never wait on
-- a shared counter row (a single counter row per organization would serialise every changed
-- report of a 100,000-agent organization). A background compaction folds an organization's rows
-- into one row per (risk_level, server_type): it deletes the rows it can see and inserts their
-- sums in one transaction, so every delta is moved exactly once even with several replicas
-- compacting at the same time, and readers see the sums either before or after it.
CREATE TABLE server_rollups (
    organization_id uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    risk_level      text NOT NULL,
    server_type     text NOT NULL,
    n               bigint NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- +goose StatementBegin
CREATE FUNCTION mcp_servers_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, count(*)
        FROM rollup_new WHERE status = 'active'
        GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, -count(*)
        FROM rollup_old WHERE status = 'active'
        GROUP BY 1, 2, 3;
    ELSE
        -- Updates that leave status, level and type alone (last-seen, verification, command
        -- changes at the same level) net to zero and write nothing.
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, sum(d)
        FROM (
            SELECT organization_id, risk_level, server_type, 1 AS d FROM rollup_new WHERE status = 'active'
            UNION ALL
            SELECT organization_id, risk_level, server_type, -1 FROM rollup_old WHERE status = 'active'
        ) AS changes
        GROUP BY 1, 2, 3
        HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER mcp_servers_rollup_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS rollup_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();
CREATE TRIGGER mcp_servers_rollup_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();
CREATE TRIGGER mcp_servers_rollup_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS rollup_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();

INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
SELECT organization_id, risk_level, server_type, count(*)
FROM mcp_servers WHERE status = 'active'
GROUP BY 1, 2, 3;

-- The delivery log of one endpoint, newest first, with a stable tiebreak for paging.
CREATE INDEX webhook_deliveries_log_page ON webhook_deliveries (organization_id, webhook_id, created_at DESC, id);
DROP INDEX webhook_deliveries_log;

-- +goose Down
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (organization_id, webhook_id, created_at DESC);
DROP INDEX webhook_deliveries_log_page;
DROP TRIGGER mcp_servers_rollup_delete ON mcp_servers;
DROP TRIGGER mcp_servers_rollup_update ON mcp_servers;
DROP TRIGGER mcp_servers_rollup_insert ON mcp_servers;
DROP FUNCTION mcp_servers_rollup();
DROP TABLE server_rollups;
