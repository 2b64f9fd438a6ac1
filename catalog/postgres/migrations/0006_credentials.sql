-- Read credentials (catalog.Credentials): operational, not in the log;
-- no column holds a secret (package credential derives it).
CREATE TABLE IF NOT EXISTS credentials (
	id TEXT COLLATE "C" PRIMARY KEY,
	licensee TEXT COLLATE "C" NOT NULL,
	assets TEXT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS credentials_licensee ON credentials(licensee, expires);
