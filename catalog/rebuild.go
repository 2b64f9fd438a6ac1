package catalog

// RebuildReport says what a backend's rebuild did: a new catalog was
// built from the log (by the caller's build function, registry.Rebuild)
// beside the live one, took over the live one's operational state, and
// replaced it.
type RebuildReport struct {
	// Kept names the old catalog, kept beside the new one (a file or a
	// schema; "" if there was none).
	Kept string `json:"old_catalog,omitempty"`
	// Carried counts the operational rows (quota counters, corruption
	// records, ...) copied from the old catalog, by table.
	Carried map[string]int64 `json:"carried,omitempty"`
	// OldUnreadable is why the old catalog could not be read, if it could
	// not: quota counters then come from the log's receipts alone.
	OldUnreadable string `json:"old_catalog_unreadable,omitempty"`
	// Raised counts quota counters raised to what the log's receipts show.
	Raised int64 `json:"quota_counters_raised"`
}
