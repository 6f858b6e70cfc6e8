-- +goose Up
-- Room for updates in place. A changed report rewrites each of its servers' rows (about 1.7 KB
-- with the risk explanation), usually without touching an indexed column; PostgreSQL can then
-- keep the new version on the same page and skip all four indexes (a HOT update), but only if
-- the page has room for it. Full pages (four rows) never do, so the first update of every row
-- after a seed or a fleet's first reports wrote four index entries. Pages filled to 80% (three
-- rows) keep that room; the table is about a quarter larger.
ALTER TABLE mcp_servers SET (fillfactor = 80);

-- +goose Down
ALTER TABLE mcp_servers RESET (fillfactor);
