-- The catalog's tables, as catalog/sqlite keeps them. Text keys sort
-- byte-wise (COLLATE "C"), as SQLite's do, so every ORDER BY answers in the
-- same order on both backends. Times are Unix nanoseconds (BIGINT), as in
-- SQLite, so no precision is lost. Booleans are BOOLEAN; Dump prints them
-- as 0 and 1, as SQLite stores them. "grant" is a reserved word here and is
-- quoted everywhere.

CREATE TABLE IF NOT EXISTS objects (
	id      TEXT COLLATE "C" PRIMARY KEY,
	size    BIGINT NOT NULL,
	kind    TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS corruptions (
	id     TEXT COLLATE "C" PRIMARY KEY,
	off    BIGINT NOT NULL,
	len    BIGINT NOT NULL,
	detail TEXT NOT NULL,
	found  BIGINT NOT NULL
);

-- Which log entries are applied: all below log_watermark.next, and the
-- ones in log_applied.
CREATE TABLE IF NOT EXISTS log_applied (
	idx BIGINT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS log_watermark (
	id   INTEGER PRIMARY KEY CHECK (id = 0),
	next BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS assets (
	asset     TEXT COLLATE "C" PRIMARY KEY,
	content   TEXT COLLATE "C" NOT NULL,
	state     TEXT NOT NULL,
	claim     TEXT NOT NULL,
	priority  TEXT COLLATE "C" NOT NULL,
	log_index BIGINT NOT NULL,
	name      TEXT NOT NULL,
	media     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_content ON assets(content, log_index);
CREATE INDEX IF NOT EXISTS assets_log_index ON assets(log_index);
CREATE TABLE IF NOT EXISTS lineage (
	child    TEXT COLLATE "C" NOT NULL,
	parent   TEXT COLLATE "C" NOT NULL,
	royalty  BIGINT NOT NULL,
	stacking TEXT NOT NULL,
	PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS lineage_parent ON lineage(parent, child);
CREATE TABLE IF NOT EXISTS proposals (
	proposal  TEXT COLLATE "C" PRIMARY KEY,
	asset     TEXT COLLATE "C" NOT NULL,
	envelope  TEXT NOT NULL,
	status    TEXT NOT NULL,
	log_index BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS proposals_asset ON proposals(asset, log_index);
CREATE TABLE IF NOT EXISTS approvals (
	proposal  TEXT COLLATE "C" NOT NULL,
	approver  TEXT COLLATE "C" NOT NULL,
	envelope  TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	PRIMARY KEY (proposal, approver)
);
CREATE TABLE IF NOT EXISTS trail (
	asset     TEXT COLLATE "C" NOT NULL,
	log_index BIGINT NOT NULL,
	type      TEXT NOT NULL,
	summary   TEXT NOT NULL,
	PRIMARY KEY (asset, log_index)
);

CREATE TABLE IF NOT EXISTS grants (
	id        TEXT COLLATE "C" PRIMARY KEY,
	asset     TEXT COLLATE "C" NOT NULL,
	licensee  TEXT COLLATE "C" NOT NULL,
	envelope  TEXT NOT NULL,
	revoked   BOOLEAN NOT NULL DEFAULT false,
	log_index BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_asset ON grants(asset, log_index);
CREATE INDEX IF NOT EXISTS grants_licensee ON grants(licensee, log_index);
CREATE INDEX IF NOT EXISTS grants_log_index ON grants(log_index);
CREATE TABLE IF NOT EXISTS grant_requests (
	id        TEXT COLLATE "C" PRIMARY KEY,
	asset     TEXT COLLATE "C" NOT NULL,
	envelope  TEXT NOT NULL,
	decision  BIGINT NOT NULL,
	status    TEXT NOT NULL,
	log_index BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS grant_requests_log_index ON grant_requests(log_index);
CREATE TABLE IF NOT EXISTS grant_approvals (
	request   TEXT COLLATE "C" NOT NULL,
	approver  TEXT COLLATE "C" NOT NULL,
	approve   BOOLEAN NOT NULL,
	envelope  TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	PRIMARY KEY (request, approver)
);
-- Usage counters enforce quotas; operational state, not in Dump.
CREATE TABLE IF NOT EXISTS grant_usage (
	"grant"  TEXT COLLATE "C" PRIMARY KEY,
	bytes    BIGINT NOT NULL DEFAULT 0,
	requests BIGINT NOT NULL DEFAULT 0
);

-- Content governance.
CREATE TABLE IF NOT EXISTS claimants (
	asset     TEXT COLLATE "C" PRIMARY KEY,
	content   TEXT COLLATE "C" NOT NULL,
	log_index BIGINT NOT NULL,
	signers   TEXT NOT NULL,
	conflict  BOOLEAN NOT NULL,
	dataset   BOOLEAN NOT NULL,
	unindexed BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS claimants_content ON claimants(content);
CREATE INDEX IF NOT EXISTS claimants_unindexed ON claimants(log_index) WHERE unindexed;
CREATE TABLE IF NOT EXISTS content_claims (
	content TEXT COLLATE "C" NOT NULL,
	asset   TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (content, asset)
);
CREATE INDEX IF NOT EXISTS content_claims_asset ON content_claims(asset);
-- Per-key counters by UTC day ('total': all days); operational, not in Dump.
CREATE TABLE IF NOT EXISTS upload_usage (
	key   TEXT COLLATE "C" NOT NULL,
	day   TEXT COLLATE "C" NOT NULL,
	bytes BIGINT NOT NULL,
	PRIMARY KEY (key, day)
);

-- Metering and settlement, derived from the log.
CREATE TABLE IF NOT EXISTS receipts (
	id        TEXT COLLATE "C" PRIMARY KEY,
	"grant"   TEXT COLLATE "C" NOT NULL,
	asset     TEXT COLLATE "C" NOT NULL,
	licensee  TEXT COLLATE "C" NOT NULL,
	session   TEXT NOT NULL,
	bytes     BIGINT NOT NULL,
	requests  BIGINT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_index ON receipts(log_index);
CREATE INDEX IF NOT EXISTS receipts_grant ON receipts("grant", log_index);
CREATE TABLE IF NOT EXISTS usage_events (
	"grant"   TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	statement TEXT NOT NULL,
	asset     TEXT COLLATE "C" NOT NULL,
	licensee  TEXT COLLATE "C" NOT NULL,
	tokens    BIGINT NOT NULL,
	calls     BIGINT NOT NULL,
	runs      BIGINT NOT NULL,
	time      TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	PRIMARY KEY ("grant", id)
);
CREATE INDEX IF NOT EXISTS usage_index ON usage_events(log_index);
CREATE TABLE IF NOT EXISTS disputes (
	id        TEXT COLLATE "C" PRIMARY KEY,
	asset     TEXT COLLATE "C" NOT NULL,
	opener    TEXT COLLATE "C" NOT NULL,
	reason    TEXT NOT NULL,
	status    TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index BIGINT NOT NULL,
	resolved  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS disputes_asset ON disputes(asset, log_index);
CREATE INDEX IF NOT EXISTS disputes_log_index ON disputes(log_index);
CREATE TABLE IF NOT EXISTS settlements (
	log_index BIGINT PRIMARY KEY,
	payload   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settle_watermark (
	id      INTEGER PRIMARY KEY CHECK (id = 0),
	through BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS unsettled (
	key TEXT COLLATE "C" PRIMARY KEY
);

-- Download metering: operational, carried over by a rebuild, not in Dump;
-- quota_usage is derived from receipts and is in Dump.
CREATE TABLE IF NOT EXISTS meter_sessions (
	"grant"  TEXT COLLATE "C" NOT NULL,
	session  TEXT COLLATE "C" NOT NULL,
	asset    TEXT NOT NULL,
	licensee TEXT COLLATE "C" NOT NULL,
	quota    TEXT COLLATE "C" NOT NULL,
	bytes    BIGINT NOT NULL DEFAULT 0,
	requests BIGINT NOT NULL DEFAULT 0,
	reserved BIGINT NOT NULL DEFAULT 0,
	started  BIGINT NOT NULL DEFAULT 0,
	last     BIGINT NOT NULL DEFAULT 0,
	part     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY ("grant", session)
);
CREATE INDEX IF NOT EXISTS meter_sessions_quota ON meter_sessions(quota);
CREATE INDEX IF NOT EXISTS meter_sessions_last ON meter_sessions(last);
CREATE INDEX IF NOT EXISTS meter_sessions_session ON meter_sessions(session, licensee);
CREATE TABLE IF NOT EXISTS meter_ranges (
	"grant" TEXT COLLATE "C" NOT NULL,
	session TEXT COLLATE "C" NOT NULL,
	content TEXT COLLATE "C" NOT NULL,
	start   BIGINT NOT NULL,
	stop    BIGINT NOT NULL,
	PRIMARY KEY ("grant", session, content, start)
);
-- seq keeps the order receipts were sealed in (SQLite's rowid).
CREATE TABLE IF NOT EXISTS meter_sealed (
	"grant"  TEXT COLLATE "C" NOT NULL,
	session  TEXT COLLATE "C" NOT NULL,
	part     BIGINT NOT NULL,
	quota    TEXT COLLATE "C" NOT NULL,
	bytes    BIGINT NOT NULL,
	requests BIGINT NOT NULL,
	envelope TEXT NOT NULL,
	seq      BIGINT GENERATED BY DEFAULT AS IDENTITY,
	PRIMARY KEY ("grant", session, part)
);
CREATE INDEX IF NOT EXISTS meter_sealed_quota ON meter_sealed(quota);
CREATE TABLE IF NOT EXISTS quota_usage (
	quota    TEXT COLLATE "C" PRIMARY KEY,
	bytes    BIGINT NOT NULL,
	requests BIGINT NOT NULL
);

-- Nonces of accepted request signatures: operational, not in Dump.
CREATE TABLE IF NOT EXISTS nonces (
	keyid TEXT COLLATE "C" NOT NULL,
	nonce TEXT COLLATE "C" NOT NULL,
	until BIGINT NOT NULL,
	PRIMARY KEY (keyid, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_key_until ON nonces(keyid, until);
CREATE INDEX IF NOT EXISTS nonces_until ON nonces(until);
