-- +goose Up
-- The dashboard's unresolved alert count (GET /dashboard/stats). Counting an organization's open
-- alerts visits every one of them: a fleet gone silent opens an agent_offline alert per agent,
-- 100,000 for the bench's organization, which took most of the endpoint's 89 ms. Every statement
-- that opens or dismisses alerts appends its delta here instead (+n raised, -n dismissed; see
-- alertCountedSQL in db/alerts.go), as server_rollups (00003) keeps the server counts, and the
-- rollup compaction folds an organization's rows into one.
CREATE SEQUENCE alert_counts_id_seq AS bigint;
CREATE TABLE alert_counts (
    organization_id uuid NOT NULL,
    id              bigint NOT NULL DEFAULT nextval('alert_counts_id_seq'),
    n               bigint NOT NULL,
    PRIMARY KEY (organization_id, id)
);
ALTER SEQUENCE alert_counts_id_seq OWNED BY alert_counts.id;
INSERT INTO alert_counts (organization_id, n)
SELECT organization_id, count(*) FROM alerts WHERE NOT dismissed GROUP BY organization_id;

-- +goose Down
DROP TABLE alert_counts;
