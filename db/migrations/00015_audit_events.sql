-- +goose Up
-- The audit log (issue 19): one row per security-relevant change, written in the transaction of
-- the change. Rows are never updated; they are deleted only by the retention job.
CREATE TABLE audit_events (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- user, token (acting for the user actor_user_id), agent, or system.
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'token', 'agent', 'system')),
    actor_id        uuid,
    actor_user_id   uuid,
    source_ip       text CHECK (length(source_ip) <= 64),
    action          text NOT NULL CHECK (length(action) <= 64),
    target_type     text NOT NULL CHECK (length(target_type) <= 64),
    target_id       text CHECK (length(target_id) <= 200),
    summary         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, at, id)
);
CREATE INDEX audit_events_actor ON audit_events (organization_id, actor_id, at DESC);
CREATE INDEX audit_events_action ON audit_events (organization_id, action, at DESC);
CREATE INDEX audit_events_target ON audit_events (organization_id, target_id, at DESC);

-- +goose Down
DROP TABLE audit_events;
