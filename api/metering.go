package api

import "github.com/charter-dev/charter/metering"

// The JSON shapes of the metering and settlement API (deposits, usage,
// sessions, earnings, disputes); docs/settlement.md documents them. A
// settlement's answer is metering.Settlement, the payload of its log entry.

// FundAnswer answers a deposit (POST /v1/funds) or a withdrawal (POST
// /v1/withdrawals).
type FundAnswer struct {
	Account     string `json:"account"`
	Currency    string `json:"currency"`
	Balance     int64  `json:"balance"` // credits minus debits, smallest unit
	CreditLimit int64  `json:"credit_limit,omitempty"`
	Transfer    string `json:"transfer,omitempty"`
}

// AccountsAnswer lists a DID's ledger accounts with their balances (GET
// /v1/accounts).
type AccountsAnswer struct {
	DID      string       `json:"did"`
	Accounts []FundAnswer `json:"accounts"`
}

// UnsettledAnswer lists the uses of an asset the last settlement run
// could not charge, with the reason (GET /v1/assets/{id}/unsettled).
type UnsettledAnswer struct {
	Asset  string               `json:"asset"`
	Failed []metering.FailedUse `json:"failed"`
}

// UsageAnswer answers a usage report (POST /v1/usage).
type UsageAnswer struct {
	Grant     string `json:"grant"`
	ID        string `json:"id"`
	Statement string `json:"statement"`
	LogIndex  uint64 `json:"log_index"`
	// Existed is true when the same event was recorded before; nothing
	// was recorded twice.
	Existed bool `json:"existed"`
}

// ReceiptInfo is a closed session's receipt (POST /v1/sessions/{id}/close).
type ReceiptInfo struct {
	ID       string `json:"id"`
	Grant    string `json:"grant"`
	Asset    string `json:"asset"`
	Bytes    int64  `json:"bytes"`
	Requests int64  `json:"requests"`
	LogIndex uint64 `json:"log_index"`
	Envelope []byte `json:"envelope"`
}

// SessionAnswer lists the receipts a session close produced.
type SessionAnswer struct {
	Session  string        `json:"session"`
	Receipts []ReceiptInfo `json:"receipts"`
}

// Earnings is the statement of GET /v1/earnings.
type Earnings struct {
	DID  string `json:"did"`
	From string `json:"from,omitempty"` // RFC 3339, inclusive
	To   string `json:"to,omitempty"`   // RFC 3339, exclusive
	// Period is the bucket of Periods: "day" or "month" (UTC).
	Period string `json:"period"`
	// Currencies holds one statement per ledger currency the DID earns in.
	Currencies []CurrencyEarnings `json:"currencies"`
}

// CurrencyEarnings is one currency's part of a statement. Every amount is
// an integer count of the currency's smallest unit.
type CurrencyEarnings struct {
	Currency string `json:"currency"`
	Account  string `json:"account"`
	// Own is revenue from uses of assets the DID contributes to;
	// Royalties is revenue that reached them from uses of descendant
	// assets; Total = Own + Royalties. Payouts are withdrawals (positive
	// numbers), Balance what the account holds now.
	Own       int64 `json:"own"`
	Royalties int64 `json:"royalties"`
	Total     int64 `json:"total"`
	Payouts   int64 `json:"payouts"`
	Balance   int64 `json:"balance"`
	Held      int64 `json:"held"` // split to the DID but held by an open dispute
	// Assets breaks Total down by the asset the DID contributes to, and
	// each by the asset whose use brought the money.
	Assets []AssetEarnings `json:"assets"`
	// Periods are per-period totals, oldest first, for a chart.
	Periods []PeriodEarnings `json:"periods"`
	// Lines are the ledger postings, oldest first (at most 1000; see
	// Truncated).
	Lines     []EarningLine `json:"lines"`
	Truncated bool          `json:"truncated,omitempty"`
}

// AssetEarnings is what one asset paid the DID as contributor.
type AssetEarnings struct {
	Asset     string          `json:"asset"`
	Own       int64           `json:"own"`
	Royalties int64           `json:"royalties"`
	Total     int64           `json:"total"`
	Sources   []SourceEarning `json:"sources"`
}

// SourceEarning is the part of an asset's payments that came from uses of
// one asset (the asset itself, or a descendant), with the lineage path.
type SourceEarning struct {
	Used   string   `json:"used"` // the asset whose use was charged
	Path   []string `json:"path"` // used asset first, the DID's asset last
	Amount int64    `json:"amount"`
	Uses   int      `json:"uses"` // charges split into these payments
}

// PeriodEarnings is one period's totals.
type PeriodEarnings struct {
	Period    string `json:"period"` // "2026-11-26" or "2026-11"
	Own       int64  `json:"own"`
	Royalties int64  `json:"royalties"`
	Total     int64  `json:"total"`
	Payouts   int64  `json:"payouts"`
}

// EarningLine is one posting on the DID's account.
type EarningLine struct {
	Time     string   `json:"time"`
	Transfer string   `json:"transfer"`
	Amount   int64    `json:"amount"` // positive: earned; negative: paid out
	Kind     string   `json:"kind"`   // "own", "royalty", "payout" or "other"
	Asset    string   `json:"asset,omitempty"`
	Used     string   `json:"used,omitempty"`
	Path     []string `json:"path,omitempty"`
	Batch    string   `json:"batch,omitempty"` // settlement tag (ledger state settle-batch:<tag> lists its charges)
	// Uses lists the uses (receipt ids, grant/usage ids) whose charges the
	// batch split, at most 20; UsesTotal counts them all.
	Uses      []string `json:"uses,omitempty"`
	UsesTotal int      `json:"uses_total,omitempty"`
	Held      bool     `json:"held,omitempty"`
}

// DisputeAnswer answers opening or resolving a dispute.
type DisputeAnswer struct {
	Dispute  string `json:"dispute"`
	Asset    string `json:"asset"`
	Status   string `json:"status"`
	LogIndex uint64 `json:"log_index"`
	// Released or Voided count the held split transfers resolved.
	Released int `json:"released,omitempty"`
	Voided   int `json:"voided,omitempty"`
}
