-- +goose Up
-- API tokens for integrations (issue 19): named, scoped, optionally expiring, revocable; only the
-- SHA-256 of a token is stored. A token acts for the admin who created it: removing that admin
-- removes the token.
CREATE TABLE api_tokens (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash      bytea NOT NULL,
    token_prefix    text NOT NULL,
    scopes          text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin'] AND cardinality(scopes) > 0),
    created_by      uuid NOT NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, token_hash),
    FOREIGN KEY (organization_id, created_by) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_list ON api_tokens (organization_id, created_at DESC, id);

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'member', 'viewer'));

-- +goose Down
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'member'));
DROP TABLE api_tokens;
