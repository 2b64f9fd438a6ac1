package metering

// Settlement and FailedUse: the payload of a settlement log entry, which
// POST /v1/settle also answers. The other JSON shapes of the metering and
// settlement API are in package api; docs/settlement.md documents them.

// Settlement is the payload of a "settlement" log entry and the answer of
// POST /v1/settle.
type Settlement struct {
	// Journal is the ledger journal's root after the batch: entries and
	// head hash (hex).
	JournalSize uint64 `json:"journal_size"`
	JournalRoot string `json:"journal_root"`
	// Through is the highest log index whose receipts and usage events
	// this settlement covered.
	Through uint64 `json:"through"`
	// Uses is the number of receipts and usage events settled (charged now
	// or before, or free).
	Uses     int              `json:"uses"`
	Charged  int              `json:"charged"`  // charges applied now
	Existed  int              `json:"existed"`  // charges applied by an interrupted earlier run
	Postings int              `json:"postings"` // split transfers
	Gross    map[string]int64 `json:"gross"`    // charged now, by currency
	// Failed lists uses that could not be charged (insufficient funds);
	// they stay unsettled for the next run.
	Failed []FailedUse `json:"failed"`
	// Released and Voided count held splits resolved by dispute outcomes.
	Released int    `json:"released,omitempty"`
	Voided   int    `json:"voided,omitempty"`
	LogIndex uint64 `json:"log_index,omitempty"` // where this settlement is logged
}

// FailedUse is a use whose charge the ledger refused.
type FailedUse struct {
	Use   string `json:"use"`
	Error string `json:"error"`
}
