-- +goose Up
-- Agent keys are cached for hours on every replica, so a deleted or rotated key (and an agent
-- whose stored state changed on another replica) must be announced: each replica polls this
-- table every few seconds for rows newer than the last it saw and forgets those keys. It is
-- global like agent_keys (a key hash names no organization until it is looked up), and rows
-- older than an hour are pruned: every replica has read them long before.
CREATE TABLE agent_key_revocations (
    key_hash   bytea PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_key_revocations_revoked_at ON agent_key_revocations (revoked_at);

-- +goose Down
DROP TABLE agent_key_revocations;
