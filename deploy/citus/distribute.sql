-- Distributes mcpwarden's tables on a Citus cluster. Run it on the coordinator, as a superuser,
-- once the migrations have run there (start mcpwarden once against the coordinator, or run
-- `mcpwarden migrate`), and again after an upgrade whose migrations add tables: a table already
-- distributed is left as it is.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/citus/distribute.sql
--
-- Order matters: a foreign key may only point to a table Citus already knows, so the reference
-- table goes first, then the tenant tables with a referenced one before those that reference it.
-- db/citus's TestDistributeScriptPlacesEveryTable checks this file against the migrated schema
-- and citus.GlobalTables: every table placed once, where citus.GlobalTables says, in that order.

CREATE EXTENSION IF NOT EXISTS citus;

-- distribute_once(table, how, column): create_reference_table or create_distributed_table unless
-- the table is a Citus table already. Tenant tables are co-located with agents, so that a
-- statement joining them by organization_id runs on one shard.
CREATE OR REPLACE FUNCTION pg_temp.distribute_once(tbl regclass, how text, col text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = tbl) THEN
        RETURN;
    END IF;
    IF how = 'reference' THEN
        PERFORM create_reference_table(tbl);
    ELSIF how = 'tenant' AND tbl <> 'agents'::regclass THEN
        PERFORM create_distributed_table(tbl, 'organization_id', colocate_with => 'agents');
    ELSIF how = 'tenant' THEN
        PERFORM create_distributed_table(tbl, 'organization_id');
    ELSE
        -- A lookup keyed by a credential or throttle key, distributed by that key.
        PERFORM create_distributed_table(tbl, col, colocate_with => 'none');
    END IF;
END
$$;

-- Reference table: the tenants themselves.
SELECT pg_temp.distribute_once('organizations', 'reference');

-- Lookups distributed by their own key: each request names one key.
SELECT pg_temp.distribute_once('user_emails', 'key', 'email_lower');
SELECT pg_temp.distribute_once('agent_keys', 'key', 'key_hash');
SELECT pg_temp.distribute_once('auth_throttles', 'key', 'key');

-- Tenant tables, by organization_id, co-located; referenced before referencing.
SELECT pg_temp.distribute_once('agents', 'tenant');
SELECT pg_temp.distribute_once('users', 'tenant');
SELECT pg_temp.distribute_once('refresh_tokens', 'tenant');
SELECT pg_temp.distribute_once('api_tokens', 'tenant');
SELECT pg_temp.distribute_once('mcp_servers', 'tenant');
SELECT pg_temp.distribute_once('alerts', 'tenant');
SELECT pg_temp.distribute_once('alert_email_outbox', 'tenant');
SELECT pg_temp.distribute_once('webhooks', 'tenant');
SELECT pg_temp.distribute_once('webhook_deliveries', 'tenant');
SELECT pg_temp.distribute_once('server_counts', 'tenant');
SELECT pg_temp.distribute_once('server_rollups', 'tenant');
SELECT pg_temp.distribute_once('alert_counts', 'tenant');
SELECT pg_temp.distribute_once('agent_key_revocations', 'tenant');
SELECT pg_temp.distribute_once('risk_snapshots', 'tenant');
SELECT pg_temp.distribute_once('enrollment_secrets', 'tenant');
SELECT pg_temp.distribute_once('audit_events', 'tenant');

-- goose_db_version stays a table of the coordinator: only the migration runner reads it.

-- Anything left is a table this file does not know yet: stop, rather than leave it local.
DO $$
DECLARE missing text;
BEGIN
    SELECT string_agg(c.relname, ', ') INTO missing
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND c.relname <> 'goose_db_version'
        AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'tables not distributed: %; add them to deploy/citus/distribute.sql', missing;
    END IF;
END
$$;
