-- Why the last settlement run could not charge each use it left
-- unsettled (operational: not in the log).
CREATE TABLE IF NOT EXISTS unsettled_reasons (
	asset TEXT COLLATE "C" NOT NULL,
	use_key TEXT COLLATE "C" NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (asset, use_key)
);
