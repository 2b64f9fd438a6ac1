-- What the log carries for apply (docs/spec/log-entry.md, "Carried
-- documents"): parts of licence terms and of dataset member lists.
-- Derived: rebuilt by replay, compared by Dump.
CREATE TABLE IF NOT EXISTS log_parts (
	kind      TEXT COLLATE "C" NOT NULL,
	content   TEXT COLLATE "C" NOT NULL,
	part      INTEGER NOT NULL,
	parts     INTEGER NOT NULL,
	body      BYTEA NOT NULL,
	log_index BIGINT NOT NULL,
	PRIMARY KEY (kind, content, part)
);
