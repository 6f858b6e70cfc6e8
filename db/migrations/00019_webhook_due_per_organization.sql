-- +goose Up
-- Due webhook deliveries are claimed organization by organization (issue 21, db/webhooks.go).
CREATE INDEX webhook_deliveries_org_due ON webhook_deliveries (organization_id, next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_org_due;
