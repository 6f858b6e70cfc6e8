-- +goose Up
-- The primary's WAL position after the user's last acknowledged change (through the API, in any
-- session or with one of their API tokens). A read for that user may be served by a read replica
-- only once the replica has replayed this far, so nobody misses their own change. Set only when a
-- read replica is configured; NULL means no change to wait for.
ALTER TABLE users ADD COLUMN changed_lsn pg_lsn;

-- +goose Down
ALTER TABLE users DROP COLUMN changed_lsn;
