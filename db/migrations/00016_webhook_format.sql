-- +goose Up
ALTER TABLE webhooks ADD COLUMN format text NOT NULL DEFAULT 'generic' CHECK (format IN ('generic', 'slack'));

-- +goose Down
ALTER TABLE webhooks DROP COLUMN format;
