-- Pages of assets (AssetPage): keyset pagination by log index, with
-- filters each served by an index that ends in log_index.
CREATE INDEX IF NOT EXISTS assets_media ON assets(media, log_index);
-- The owners of each asset as its current state names them, with the
-- asset's media type, for the owner filter (alone or with a media type);
-- derived from assets (and so not in Dump).
CREATE TABLE IF NOT EXISTS asset_owners (
	owner     TEXT COLLATE "C" NOT NULL,
	log_index BIGINT NOT NULL,
	asset     TEXT COLLATE "C" NOT NULL,
	media     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (owner, log_index, asset)
);
CREATE INDEX IF NOT EXISTS asset_owners_media ON asset_owners(owner, media, log_index);
CREATE INDEX IF NOT EXISTS asset_owners_asset ON asset_owners(asset);
INSERT INTO asset_owners(owner, log_index, asset, media)
	SELECT o->>'did', a.log_index, a.asset, a.media
	FROM assets a, jsonb_array_elements(COALESCE(a.state::jsonb->'owners', '[]'::jsonb)) o
	ON CONFLICT DO NOTHING;
