-- +goose Up
-- The agent list pages by name; without this it sorts every agent of the organization.
CREATE INDEX agents_name ON agents (organization_id, name, id);

-- +goose Down
DROP INDEX agents_name;
