-- +goose Up
-- One trigger per event keeps both counter tables (server_counts, 00005, and server_rollups,
-- 00003). Each changed report batch fired four statement triggers (count and rollup, for its
-- insert and its update), each reading the transition tables of whole rows again; the rollup
-- deltas are the count deltas of active servers summed over names, so one pass computes both.
-- +goose StatementBegin
CREATE FUNCTION mcp_servers_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH delta AS (
            SELECT organization_id, status, risk_level, server_name, server_type, count(*) AS n
            FROM counters_new GROUP BY 1, 2, 3, 4, 5
        ), counted AS (
            INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
            SELECT * FROM delta
        )
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, sum(n)::bigint
        FROM delta WHERE status = 'active' GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        WITH delta AS (
            SELECT organization_id, status, risk_level, server_name, server_type, -count(*) AS n
            FROM counters_old GROUP BY 1, 2, 3, 4, 5
        ), counted AS (
            INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
            SELECT * FROM delta
        )
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, sum(n)::bigint
        FROM delta WHERE status = 'active' GROUP BY 1, 2, 3;
    ELSE
        -- Updates that keep status, level, name and type (the common case: last-seen,
        -- verification, a command change at the same level) net to zero and write nothing.
        WITH delta AS (
            SELECT organization_id, status, risk_level, server_name, server_type, sum(d)::bigint AS n
            FROM (
                SELECT organization_id, status, risk_level, server_name, server_type, 1 AS d FROM counters_new
                UNION ALL
                SELECT organization_id, status, risk_level, server_name, server_type, -1 FROM counters_old
            ) AS changes
            GROUP BY 1, 2, 3, 4, 5
            HAVING sum(d) <> 0
        ), counted AS (
            INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
            SELECT * FROM delta
        )
        INSERT INTO server_rollups (organization_id, risk_level, server_type, n)
        SELECT organization_id, risk_level, server_type, sum(n)::bigint
        FROM delta WHERE status = 'active' GROUP BY 1, 2, 3
        HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER mcp_servers_count_insert ON mcp_servers;
DROP TRIGGER mcp_servers_count_update ON mcp_servers;
DROP TRIGGER mcp_servers_count_delete ON mcp_servers;
DROP TRIGGER mcp_servers_rollup_insert ON mcp_servers;
DROP TRIGGER mcp_servers_rollup_update ON mcp_servers;
DROP TRIGGER mcp_servers_rollup_delete ON mcp_servers;
CREATE TRIGGER mcp_servers_counters_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS counters_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
CREATE TRIGGER mcp_servers_counters_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS counters_old NEW TABLE AS counters_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
CREATE TRIGGER mcp_servers_counters_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS counters_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
-- The two functions of the separate triggers stay, unused, so that Down needs only the triggers.

-- +goose Down
DROP TRIGGER mcp_servers_counters_insert ON mcp_servers;
DROP TRIGGER mcp_servers_counters_update ON mcp_servers;
DROP TRIGGER mcp_servers_counters_delete ON mcp_servers;
DROP FUNCTION mcp_servers_counters();
CREATE TRIGGER mcp_servers_count_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS count_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();
CREATE TRIGGER mcp_servers_count_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS count_old NEW TABLE AS count_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();
CREATE TRIGGER mcp_servers_count_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS count_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();
CREATE TRIGGER mcp_servers_rollup_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS rollup_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();
CREATE TRIGGER mcp_servers_rollup_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS rollup_old NEW TABLE AS rollup_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();
CREATE TRIGGER mcp_servers_rollup_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS rollup_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_rollup();
