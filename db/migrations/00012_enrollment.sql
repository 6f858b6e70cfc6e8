-- +goose Up
-- Enrolment secrets (issue 18): an organization's secret, baked into a package or an MDM
-- profile, with which each machine enrols itself and receives its own agent key. Only the
-- SHA-256 of a secret is stored; the secret carries its organization (like refresh tokens), so
-- its lookup stays within one organization's rows.
CREATE TABLE enrollment_secrets (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    secret_hash     bytea NOT NULL,
    secret_prefix   text NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    uses            bigint NOT NULL DEFAULT 0,
    last_used_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, secret_hash)
);
CREATE INDEX enrollment_secrets_list ON enrollment_secrets (organization_id, created_at DESC, id);

-- The machine an agent's key is bound to (what the agent sends as machine_id), the secret that
-- enrolled it, and when a second machine was last caught using its key.
ALTER TABLE agents
    ADD COLUMN machine_id text CHECK (length(machine_id) <= 128),
    ADD COLUMN enrollment_secret_id uuid,
    ADD COLUMN key_shared_at timestamptz;
CREATE INDEX agents_machine ON agents (organization_id, machine_id) WHERE machine_id IS NOT NULL;

ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN (
    'new_high_risk_server', 'risk_increased', 'verified_server_changed', 'malicious_package', 'agent_offline', 'agent_key_shared'));

-- +goose Down
ALTER TABLE alerts DROP CONSTRAINT alerts_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_type_check CHECK (type IN (
    'new_high_risk_server', 'risk_increased', 'verified_server_changed', 'malicious_package', 'agent_offline'));
DROP INDEX agents_machine;
ALTER TABLE agents DROP COLUMN machine_id, DROP COLUMN enrollment_secret_id, DROP COLUMN key_shared_at;
DROP TABLE enrollment_secrets;
