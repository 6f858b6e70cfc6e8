-- +goose Up
-- The server list at 1,000,000 rows (GET /mcp/servers, see db/servers.go).
--
-- Totals: counting the matching rows visits every one of them (hundreds of milliseconds for an
-- organization-wide filter), so statement-level triggers append signed deltas per (status,
-- risk_level, server_name, server_type) to server_counts, as server_rollups does for the
-- dashboard (00003_alerts.sql). Every filter but agent_id, search included, is a condition on
-- those four columns, so a total is a sum over this small table: exact, in the reader's snapshot.
-- Rows written by compaction are marked compacted, so an organization is compacted again only
-- once deltas pile up, however many groups it has.
CREATE TABLE server_counts (
    organization_id uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    status          text NOT NULL,
    risk_level      text NOT NULL,
    server_name     text NOT NULL,
    server_type     text NOT NULL,
    n               bigint NOT NULL,
    compacted       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX server_counts_deltas ON server_counts (organization_id) WHERE NOT compacted;

-- +goose StatementBegin
CREATE FUNCTION mcp_servers_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
        SELECT organization_id, status, risk_level, server_name, server_type, count(*)
        FROM count_new GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
        SELECT organization_id, status, risk_level, server_name, server_type, -count(*)
        FROM count_old GROUP BY 1, 2, 3, 4, 5;
    ELSE
        -- Updates that keep status, level, name and type (the common case: last-seen,
        -- verification, a command change at the same level) net to zero and write nothing.
        INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n)
        SELECT organization_id, status, risk_level, server_name, server_type, sum(d)
        FROM (
            SELECT organization_id, status, risk_level, server_name, server_type, 1 AS d FROM count_new
            UNION ALL
            SELECT organization_id, status, risk_level, server_name, server_type, -1 FROM count_old
        ) AS changes
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER mcp_servers_count_insert AFTER INSERT ON mcp_servers
    REFERENCING NEW TABLE AS count_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();
CREATE TRIGGER mcp_servers_count_update AFTER UPDATE ON mcp_servers
    REFERENCING OLD TABLE AS count_old NEW TABLE AS count_new FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();
CREATE TRIGGER mcp_servers_count_delete AFTER DELETE ON mcp_servers
    REFERENCING OLD TABLE AS count_old FOR EACH STATEMENT EXECUTE FUNCTION mcp_servers_count();

INSERT INTO server_counts (organization_id, status, risk_level, server_name, server_type, n, compacted)
SELECT organization_id, status, risk_level, server_name, server_type, count(*), true
FROM mcp_servers GROUP BY 1, 2, 3, 4, 5;

-- Pages: two indexes replace the three rank indexes and the two trigram indexes.
--
-- mcp_servers_list holds each (status, risk_level) slice in list order; a page under any mix of
-- the status and risk_level filters merges the slices the filters allow (a Merge Append of at
-- most 8 index-only scans), so page 1,000 reads about 25,000 entries whatever the filters.
-- server_type is included so that a search matching many names is evaluated on the same walk.
CREATE INDEX mcp_servers_list ON mcp_servers
    (organization_id, status, risk_level, risk_score DESC, server_name, id) INCLUDE (server_type);
-- mcp_servers_name_list holds each name's servers in list order: a search is first resolved to
-- the names it matches (on server_counts), then those names' slices are merged.
CREATE INDEX mcp_servers_name_list ON mcp_servers
    (organization_id, server_name, risk_score DESC, id) INCLUDE (server_type, status, risk_level);
DROP INDEX mcp_servers_rank;
DROP INDEX mcp_servers_level_rank;
DROP INDEX mcp_servers_status_rank;
DROP INDEX mcp_servers_name_trgm;
DROP INDEX mcp_servers_type_trgm;

-- Index-only scans need an up-to-date visibility map: vacuum the busy server table sooner than
-- the default 20% of changed rows.
ALTER TABLE mcp_servers SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);

-- +goose Down
ALTER TABLE mcp_servers RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor);
CREATE INDEX mcp_servers_rank ON mcp_servers (organization_id, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_level_rank ON mcp_servers (organization_id, risk_level, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_status_rank ON mcp_servers (organization_id, status, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_name_trgm ON mcp_servers USING gin (lower(server_name) gin_trgm_ops);
CREATE INDEX mcp_servers_type_trgm ON mcp_servers USING gin (lower(server_type) gin_trgm_ops);
DROP INDEX mcp_servers_name_list;
DROP INDEX mcp_servers_list;
DROP TRIGGER mcp_servers_count_delete ON mcp_servers;
DROP TRIGGER mcp_servers_count_update ON mcp_servers;
DROP TRIGGER mcp_servers_count_insert ON mcp_servers;
DROP FUNCTION mcp_servers_count();
DROP TABLE server_counts;
