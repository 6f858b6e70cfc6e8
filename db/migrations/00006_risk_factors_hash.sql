-- +goose Up
-- The SHA-256 of a server's risk explanation as ingestion encoded it. A changed report usually
-- changes a command but not the explanation; ingestion reads this hash with the agent's servers
-- and sends an explanation only when it differs, so the kilobytes of unchanged explanations are
-- neither sent, parsed nor rewritten (see db/reports.go). NULL (rows written before this
-- migration, or by the seed) counts as different.
ALTER TABLE mcp_servers ADD COLUMN risk_factors_hash bytea;

-- +goose Down
ALTER TABLE mcp_servers DROP COLUMN risk_factors_hash;
