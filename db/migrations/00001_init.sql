-- +goose Up
-- The schema is laid out for Citus: every tenant table carries organization_id, which leads its
-- primary key, every unique constraint and every foreign key between tenant tables, so that it
-- can be distributed by organization_id without a rewrite. Global tables (organizations and the
-- lookups that find a tenant from a credential) hold no tenant data beyond ids.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    alert_email text CHECK (alert_email IS NULL OR length(alert_email) <= 254),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    organization_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                   uuid NOT NULL,
    email                text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    full_name            text NOT NULL CHECK (length(full_name) <= 200),
    role                 text NOT NULL CHECK (role IN ('admin', 'member')),
    -- NULL until an invited member sets a password.
    password_hash        text,
    -- Access tokens carry the version they were issued under; bumping it (password change,
    -- role change, removal) makes every earlier token stop working at once.
    token_version        integer NOT NULL DEFAULT 0,
    setup_token_hash     bytea,
    setup_token_expires_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);

-- Login starts from an email alone, so the email -> user lookup is global. Emails are unique
-- regardless of case across the whole installation.
CREATE TABLE user_emails (
    email_lower     text PRIMARY KEY,
    organization_id uuid NOT NULL,
    user_id         uuid NOT NULL
);

CREATE TABLE refresh_tokens (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    user_id         uuid NOT NULL,
    -- Every token descended from one login shares a family; reuse revokes the family.
    family_id       uuid NOT NULL,
    token_hash      bytea NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, token_hash),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (organization_id, family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (organization_id, user_id);

CREATE TABLE agents (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_hash        bytea NOT NULL,
    key_prefix      text NOT NULL,
    hostname        text,
    os_type         text,
    username        text,
    agent_version   text,
    last_seen_at    timestamptz,
    -- SHA-256 of the last ingested report, so an identical report skips the upsert.
    report_hash     bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX agents_last_seen ON agents (organization_id, last_seen_at);

-- Agents present only their key, so the key -> agent lookup is global.
CREATE TABLE agent_keys (
    key_hash        bytea PRIMARY KEY,
    organization_id uuid NOT NULL,
    agent_id        uuid NOT NULL
);

CREATE TABLE mcp_servers (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    agent_id        uuid NOT NULL,
    server_name     text NOT NULL,
    server_type     text NOT NULL DEFAULT '',
    command         text NOT NULL DEFAULT '',
    scope           text NOT NULL DEFAULT '',
    env_vars        text[] NOT NULL DEFAULT '{}',
    client          text,
    config_path     text,
    transport       text,
    url             text,
    enabled         boolean,
    -- SHA-256 of the configuration fields; verification holds for this exact hash.
    config_hash     bytea NOT NULL,
    risk_level      text NOT NULL CHECK (risk_level IN ('critical', 'high', 'medium', 'low')),
    risk_score      integer NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
    risk_factors    jsonb NOT NULL DEFAULT '[]',
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'dormant')),
    is_verified     boolean NOT NULL DEFAULT false,
    verified_at     timestamptz,
    verified_by     uuid,
    verified_config_hash bytea,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, agent_id, server_name),
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX mcp_servers_rank ON mcp_servers (organization_id, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_level_rank ON mcp_servers (organization_id, risk_level, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_status_rank ON mcp_servers (organization_id, status, risk_score DESC, server_name, id);
CREATE INDEX mcp_servers_name_trgm ON mcp_servers USING gin (lower(server_name) gin_trgm_ops);
CREATE INDEX mcp_servers_type_trgm ON mcp_servers USING gin (lower(server_type) gin_trgm_ops);

CREATE TABLE alerts (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    type            text NOT NULL CHECK (type IN ('new_high_risk_server', 'risk_increased', 'verified_server_changed', 'malicious_package', 'agent_offline')),
    severity        text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    title           text NOT NULL,
    message         text NOT NULL,
    server_id       uuid,
    server_name     text,
    agent_id        uuid,
    agent_hostname  text,
    -- Identifies the condition (type, server, configuration); at most one open alert per key.
    dedup_key       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    dismissed       boolean NOT NULL DEFAULT false,
    dismissed_at    timestamptz,
    dismissed_by    uuid,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, server_id) REFERENCES mcp_servers (organization_id, id) ON DELETE SET NULL (server_id),
    FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id) ON DELETE SET NULL (agent_id)
);
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (organization_id, dedup_key) WHERE NOT dismissed;
CREATE INDEX alerts_list ON alerts (organization_id, dismissed, created_at DESC, id);
CREATE INDEX alerts_severity_list ON alerts (organization_id, severity, dismissed, created_at DESC, id);

-- Transactional outbox: a row per alert to mail, written in the transaction that raised it.
CREATE TABLE alert_email_outbox (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    alert_id        uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, alert_id) REFERENCES alerts (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_email_outbox_pending ON alert_email_outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE webhooks (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);

CREATE TABLE webhook_deliveries (
    organization_id  uuid NOT NULL,
    id               uuid NOT NULL,
    webhook_id       uuid NOT NULL,
    alert_id         uuid,
    event            text NOT NULL CHECK (event IN ('alert.created', 'webhook.test')),
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (organization_id, webhook_id, created_at DESC);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE webhook_deliveries, webhooks, alert_email_outbox, alerts, mcp_servers, agent_keys,
    agents, refresh_tokens, user_emails, users, organizations;
