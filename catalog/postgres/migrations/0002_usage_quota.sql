-- Tokens and runs reported per usage quota key (licensee, asset, terms),
-- counted as usage entries apply: maxTokens and maxRuns bound them.
-- Derived from the log (in Dump).
CREATE TABLE IF NOT EXISTS usage_quota (
	quota  TEXT COLLATE "C" PRIMARY KEY,
	tokens BIGINT NOT NULL,
	runs   BIGINT NOT NULL
);
