-- +goose Up
-- The dashboard's 30-day trend: one row per organization and UTC day with its active servers per
-- risk level, written by a background job (impl/jobs/snapshots.go) that upserts today's row every
-- hour, so the trend is one read of at most 90 rows by primary key.
CREATE TABLE risk_snapshots (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day             date NOT NULL,
    critical        bigint NOT NULL,
    high            bigint NOT NULL,
    medium          bigint NOT NULL,
    low             bigint NOT NULL,
    taken_at        timestamptz NOT NULL,
    PRIMARY KEY (organization_id, day)
);

-- +goose Down
DROP TABLE risk_snapshots;
