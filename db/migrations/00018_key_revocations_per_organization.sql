-- +goose Up
-- Key announcements (00004) belong to the organization of the key (issue 21): a changed report,
-- a heartbeat's new machine details, a rotation or a deletion writes its organization's row,
-- which on Citus is a row of that organization's shard rather than of a table every request
-- writes. Replicas still read every organization's new rows in one poll (a read across shards,
-- no locks) and prune them by age.
--
-- Replicas of earlier versions write rows keyed by key_hash alone and fail to once this runs:
-- upgrade by replacing them all (their changed reports and key changes fail until then).
ALTER TABLE agent_key_revocations ADD COLUMN organization_id uuid;
UPDATE agent_key_revocations r SET organization_id = k.organization_id FROM agent_keys k WHERE k.key_hash = r.key_hash;
-- Keys deleted or rotated away name no organization any more; their rows stay, under the nil
-- uuid, until pruned, so that no replica misses them.
UPDATE agent_key_revocations SET organization_id = '00000000-0000-0000-0000-000000000000' WHERE organization_id IS NULL;
ALTER TABLE agent_key_revocations ALTER COLUMN organization_id SET NOT NULL;
ALTER TABLE agent_key_revocations DROP CONSTRAINT agent_key_revocations_pkey;
ALTER TABLE agent_key_revocations ADD PRIMARY KEY (organization_id, key_hash);
-- The revoked_at of the announcement a write replaced (NULL when it replaced none), so that the
-- writer learns it from its own RETURNING (KeyInvalidation): xmax = 0, which told an insert
-- from an update, is a system column, which partitioned tables do not return.
ALTER TABLE agent_key_revocations ADD COLUMN replaced_at timestamptz;

-- +goose Down
ALTER TABLE agent_key_revocations DROP COLUMN replaced_at;
DELETE FROM agent_key_revocations r USING agent_key_revocations newer
    WHERE newer.key_hash = r.key_hash AND (newer.revoked_at, newer.organization_id) > (r.revoked_at, r.organization_id);
ALTER TABLE agent_key_revocations DROP CONSTRAINT agent_key_revocations_pkey;
ALTER TABLE agent_key_revocations ADD PRIMARY KEY (key_hash);
ALTER TABLE agent_key_revocations DROP COLUMN organization_id;
