-- +goose Up
-- Citus readiness (issue 21): no trigger on a table that is to be distributed, no foreign key
-- action Citus refuses, no identity column.
--
-- The counters (server_counts, 00005; server_rollups, 00003) are no longer kept by the
-- statement triggers of 00008: every statement that changes status, risk_level, server_name or
-- server_type of mcp_servers rows, or deletes them, writes their deltas itself, from its own
-- RETURNING rows (db/reports.go, db/servers.go, db/agents.go, db/seed.go). Citus refuses
-- triggers on distributed tables, and a trigger's writes would run on the shard, outside the
-- statement Citus routes.
DROP TRIGGER mcp_servers_counters_insert ON mcp_servers;
DROP TRIGGER mcp_servers_counters_update ON mcp_servers;
DROP TRIGGER mcp_servers_counters_delete ON mcp_servers;
DROP FUNCTION mcp_servers_counters();
-- The two functions of 00003 and 00005 are kept, unused, for 00008's Down (as 00008 kept them).

-- An agent's servers are deleted by the statement that deletes the agent, which counts them out
-- (DeleteAgent); a cascade would remove them behind the counters' back, so a delete that forgets
-- them fails instead.
ALTER TABLE mcp_servers DROP CONSTRAINT mcp_servers_organization_id_agent_id_fkey;
ALTER TABLE mcp_servers ADD CONSTRAINT mcp_servers_organization_id_agent_id_fkey
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id);

-- An alert outlives its server and agent, keeping their names with null ids. Citus refuses
-- ON DELETE SET NULL (column) on a foreign key that includes the distribution column
-- (citusdata/citus#7132), so the statement that deletes an agent and its servers clears the ids
-- itself (DeleteAgent) and these keys go.
ALTER TABLE alerts DROP CONSTRAINT alerts_organization_id_server_id_fkey;
ALTER TABLE alerts DROP CONSTRAINT alerts_organization_id_agent_id_fkey;

-- Identity columns on distributed tables lose their sequence state on a Citus metadata resync
-- and cannot be altered (citusdata/citus#6808); a bigint column defaulting to a sequence is
-- what Citus supports throughout (on workers too).
ALTER TABLE server_counts ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE server_counts_id_seq AS bigint OWNED BY server_counts.id;
SELECT setval('server_counts_id_seq', COALESCE(max(id), 0) + 1, false) FROM server_counts;
ALTER TABLE server_counts ALTER COLUMN id SET DEFAULT nextval('server_counts_id_seq');
ALTER TABLE server_rollups ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE server_rollups_id_seq AS bigint OWNED BY server_rollups.id;
SELECT setval('server_rollups_id_seq', COALESCE(max(id), 0) + 1, false) FROM server_rollups;
ALTER TABLE server_rollups ALTER COLUMN id SET DEFAULT nextval('server_rollups_id_seq');

-- +goose Down
ALTER TABLE server_rollups ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE server_rollups_id_seq;
ALTER TABLE server_rollups ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('server_rollups', 'id'), COALESCE(max(id), 0) + 1, false) FROM server_rollups;
ALTER TABLE server_counts ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE server_counts_id_seq;
ALTER TABLE server_counts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('server_counts', 'id'), COALESCE(max(id), 0) + 1, false) FROM server_counts;
UPDATE alerts a SET server_id = NULL WHERE server_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM mcp_servers s WHERE s.organization_id = a.organization_id AND s.id = a.server_id);
UPDATE alerts a SET agent_id = NULL WHERE agent_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM agents g WHERE g.organization_id = a.organization_id AND g.id = a.agent_id);
ALTER TABLE alerts ADD FOREIGN KEY (organization_id, server_id) REFERENCES mcp_servers (organization_id, id) ON DELETE SET NULL (server_id);
ALTER TABLE alerts ADD FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE SET NULL (agent_id);
ALTER TABLE mcp_servers DROP CONSTRAINT mcp_servers_organization_id_agent_id_fkey;
ALTER TABLE mcp_servers ADD CONSTRAINT mcp_servers_organization_id_agent_id_fkey
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE CASCADE;
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
CREATE TRIGGER mcp_servers_counters_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS counters_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
CREATE TRIGGER mcp_servers_counters_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS counters_old NEW TABLE AS counters_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
CREATE TRIGGER mcp_servers_counters_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS counters_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_counters();
