-- +goose Up
-- When the agent_offline alert of an agent's current silence was raised (issue 19): set once per
-- silence by the statement that raises it, cleared when the agent is heard from again.
ALTER TABLE agents ADD COLUMN offline_alerted_at timestamptz;

-- +goose Down
ALTER TABLE agents DROP COLUMN offline_alerted_at;
