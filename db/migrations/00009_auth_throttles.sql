-- +goose Up
-- Failed sign-ins, counted where every replica sees them (issue 16): one row per throttle key,
-- in fixed windows. The key is a SHA-256 of what is throttled (an account, an address, or both),
-- so no email or address is stored. Not a tenant table: the counters exist before the caller is
-- known to belong to an organization. On Citus it is distributed by key.
CREATE TABLE auth_throttles (
    key           bytea       PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    failures      integer     NOT NULL,
    -- The limit the key was last counted under, so the upsert can refuse at it.
    max_failures  integer     NOT NULL
);

CREATE INDEX auth_throttles_window_start ON auth_throttles (window_start);

-- +goose Down
DROP TABLE auth_throttles;
