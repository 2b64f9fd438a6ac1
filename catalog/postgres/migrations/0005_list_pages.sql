-- Pages of grants, grant requests, disputes and proposals (catalog.Pages):
-- each filter, and each pair of filters, by an index ending in log_index.
-- (Assets: 0003; grants by asset, by licensee and in log order: 0001.)
CREATE INDEX IF NOT EXISTS grant_requests_status ON grant_requests(status, log_index);
CREATE INDEX IF NOT EXISTS grant_requests_asset ON grant_requests(asset, log_index);
CREATE INDEX IF NOT EXISTS grant_requests_asset_status ON grant_requests(asset, status, log_index);
CREATE INDEX IF NOT EXISTS disputes_status ON disputes(status, log_index);
CREATE INDEX IF NOT EXISTS disputes_asset_status ON disputes(asset, status, log_index);
CREATE INDEX IF NOT EXISTS proposals_log_index ON proposals(log_index);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals(status, log_index);
CREATE INDEX IF NOT EXISTS proposals_asset_status ON proposals(asset, status, log_index);
