-- +goose Up
-- The dashboard's active_agents counts the agents seen within the online window (3 minutes).
-- last_seen_at is not indexed (00026: heartbeat flushes stay HOT), so the count read every agent
-- of the organization. idle marks agents silent for longer than the window: a sweep sets it, and
-- every statement that moves last_seen_at clears it in the same update (a no-op, so still HOT,
-- for an agent that was not idle). An idle agent is offline, so the count reads only the agents
-- agents_awake lists, which a silent fleet leaves empty. It is exact whatever the sweep does:
-- an agent the sweep has not marked yet is read and tested like before.
ALTER TABLE agents ADD COLUMN idle boolean NOT NULL DEFAULT false;
CREATE INDEX agents_awake ON agents (organization_id) WHERE NOT idle;

-- +goose Down
DROP INDEX agents_awake;
ALTER TABLE agents DROP COLUMN idle;
