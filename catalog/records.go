package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

// The records below are the catalog's rows as Go values. They are not the
// HTTP wire types (those are in package api, and the server converts):
// a column can be added here without changing what clients see.

// ErrDuplicate reports a usage event whose (grant, id) is recorded
// already: Tx.PutUsage changes nothing and returns it.
var ErrDuplicate = errors.New("catalog: usage id already recorded")

// AssetRecord is a registered asset with what the registry knows of it.
type AssetRecord struct {
	State *asset.State
	// Claim is "priority", "same-owners" or "conflict" (asset.ClaimStatus).
	Claim string
	// Priority is the priority claim on the same content (itself when
	// Claim is "priority").
	Priority asset.ID
	LogIndex uint64
}

// AssetListing is an asset as a page lists it (Pages.AssetPage): the
// record with its state as the catalog stores it, the JSON of asset.State
// that encoding/json writes (the registry writes it when it applies the
// entry). A page passes it on undecoded: decoding 100 states was most of
// a page's CPU. Record decodes it.
type AssetListing struct {
	Asset    string // the asset id
	State    []byte // JSON of asset.State
	Claim    string // "priority", "same-owners" or "conflict"
	Priority string // the priority claim's asset id
	LogIndex uint64
}

// Record decodes the listing into the record Asset answers.
func (l *AssetListing) Record() (*AssetRecord, error) {
	var d StateDecoder
	st, err := d.Decode(l.State)
	if err != nil {
		return nil, fmt.Errorf("catalog: asset %s state: %w", l.Asset, err)
	}
	prio, err := d.ID(l.Priority)
	if err != nil {
		return nil, fmt.Errorf("catalog: asset %s priority: %w", l.Asset, err)
	}
	return &AssetRecord{State: st, Claim: l.Claim, Priority: prio, LogIndex: l.LogIndex}, nil
}

// ProposalRecord is a governance proposal with its approvals.
type ProposalRecord struct {
	ID        asset.ID
	Asset     asset.ID
	Envelope  []byte // the signed proposal
	Status    string // the proposal status (asset.ProposalStatus)
	LogIndex  uint64
	Approvals [][]byte // the signed approvals, in log order
	Approvers []string // the approvers, in the order of Approvals
}

// TrailEntry is one logged statement about an asset.
type TrailEntry struct {
	LogIndex uint64
	Type     string // the log entry type (auditlog.Type*)
	Summary  string
}

// Claimant is a registered asset as content governance sees it: who
// signed its registration and which content it claims.
type Claimant struct {
	Asset    asset.ID
	Content  string // the asset's own content id
	LogIndex uint64
	Signers  []identity.DID
	Conflict bool
	// Dataset: a dataset whose index was read, so its files are claimed.
	Dataset bool
	// Unindexed: a dataset whose index was missing or did not parse.
	Unindexed bool
}

// Part is one part of a document the log carries for apply (a
// "license" or "dataset.files" entry, docs/spec/log-entry.md): the log,
// not the blob store, is where applying reads licence terms and dataset
// members from.
type Part struct {
	Kind    string // the entry type: "license" or "dataset.files"
	Content string // the content id of the document the parts make up
	Part    int    // 0 ≤ Part < Parts
	Parts   int
	Body    []byte
	// LogIndex is the entry that carried the part.
	LogIndex uint64
}

// ErrPartLogged reports a part whose (kind, content, part) is recorded
// already: Tx.PutPart changes nothing and returns it.
var ErrPartLogged = errors.New("catalog: part already recorded")

// GrantRecord is an issued grant with what was served under it.
type GrantRecord struct {
	ID       string
	Asset    string
	Licensee string
	Envelope []byte // the signed grant
	Revoked  bool
	LogIndex uint64
	// Bytes and Requests are what was served under the grant, counted as
	// it is served (operational counters, see Checker.RaiseQuotaFloor).
	Bytes    int64
	Requests int64
}

// GrantRequestRecord is a grant request queued for the owners' votes.
type GrantRequestRecord struct {
	ID       string
	Asset    string
	Envelope []byte // the signed request
	Decision uint64 // the log index of the decision that queued it
	Status   string // "pending", "approved", "denied" or "granted"
	LogIndex uint64
	Votes    map[string]bool // approver → approve
}

// MeterKey names a metered download session and what its use counts
// against.
type MeterKey struct {
	Grant, Session string
	Asset          string
	Licensee       string
	// Quota is the key of the quota counters the session's use counts
	// against (the server uses licensee, asset and terms).
	Quota string
}

// Quota bounds use; zero means unlimited.
type Quota struct {
	MaxBytes, MaxRequests int64
}

// MaxRangesPerContent bounds the byte ranges of one content a metering
// session keeps: past it they become their hull, so a hostile client
// cannot grow a session (and its receipt) without bound.
const MaxRangesPerContent = 256

// MeterRange is a byte range of one content served in a session.
type MeterRange struct {
	Content    string
	Start, End int64
}

// OpenSession is the state of a session being sealed into a receipt.
type OpenSession struct {
	MeterKey
	Bytes, Requests int64
	Started, Last   time.Time
	Part            int64 // the receipt's part: 1 for the session's first
	Ranges          []MeterRange
}

// SealedReceipt is a signed receipt awaiting its log entry.
type SealedReceipt struct {
	Grant, Session string
	Part           int64
	Envelope       []byte
}

// SessionFilter selects sessions to seal: those idle since before
// IdleBefore (when not zero), or the sessions named Session of Licensee
// (only the one under Grant, when set).
type SessionFilter struct {
	IdleBefore        time.Time
	Session, Licensee string
	Grant             string
}

// ReceiptRecord is a logged download receipt.
type ReceiptRecord struct {
	ID       string
	Grant    string
	Asset    string
	Licensee string
	Session  string
	Bytes    int64
	Requests int64
	Envelope []byte
	LogIndex uint64
}

// UsageRecord is a logged usage event.
type UsageRecord struct {
	Grant     string
	ID        string
	Statement string // the statement id of the signed usage
	Asset     string
	Licensee  string
	Tokens    int64
	Calls     int64
	Runs      int64
	Time      string // RFC 3339, as signed
	Envelope  []byte
	LogIndex  uint64
	// Quota is the key of the usage quota counters the event counts
	// against (the server uses licensee, asset and terms); "" counts
	// nowhere.
	Quota string
}

// DisputeRecord is a logged dispute.
type DisputeRecord struct {
	ID       string
	Asset    string
	Opener   string
	Reason   string
	Status   string // "open", "released" or "voided"
	Envelope []byte
	LogIndex uint64
	Resolved uint64 // the log index of the resolution; 0 while open
}

// Use is one unsettled receipt or usage event, with what pricing needs.
type Use struct {
	// Key names the use: "r:<receipt id>" or "u:<grant>/<usage id>". It
	// is the id of the use's charge.
	Key      string
	Receipt  bool
	Grant    string // interned: uses of one grant share the string
	Bytes    int64
	Tokens   int64
	Calls    int64
	Runs     int64
	LogIndex uint64
}

// JournalRoot is the ledger journal root a settlement entry logged.
type JournalRoot struct {
	LogIndex uint64
	Size     uint64
	Hash     string // hex
}

// Change is one log entry's catalog change for Applier.UpdateSeq.
type Change struct {
	Index uint64
	// Fn applies the entry; nil for an entry without catalog effect (a
	// decision record), which is only recorded as applied.
	Fn func(Tx) error
}

// UnsettledReason is why the last settlement run could not charge a use
// of an asset (operational state: GET /v1/assets/{id}/unsettled).
type UnsettledReason struct {
	Asset string
	Use   string // the use's key
	Error string
}

// DefaultPage and MaxPage bound a page of a list (Pages): a query asking
// for no limit gets DefaultPage records, one asking for more than MaxPage
// gets MaxPage.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// PageQuery is where a page of a list starts and how long it is. Every
// list pages in log order, keyed by log index: each record of a list was
// made by its own log entry, so its log index names it, and a page costs
// what it holds whatever the catalog holds (keyset pagination).
type PageQuery struct {
	// From is the first log index of the page (inclusive): 0 for the
	// first page, then the next position the previous page answered.
	From uint64
	// Limit is the most records answered (0: DefaultPage; above MaxPage:
	// MaxPage).
	Limit int
}

// Bound returns the page length q asks for within [1, MaxPage].
func (q PageQuery) Bound() int {
	switch {
	case q.Limit <= 0:
		return DefaultPage
	case q.Limit > MaxPage:
		return MaxPage
	}
	return q.Limit
}

// AssetQuery asks for a page of registered assets; a filter left "" matches
// any.
type AssetQuery struct {
	PageQuery
	Content   string // the asset's content id
	MediaType string // the manifest's media type
	Owner     string // a DID among the asset's current owners
}

// GrantQuery asks for a page of issued grants (revoked ones too).
type GrantQuery struct {
	PageQuery
	Asset    string
	Licensee string // a DID
}

// GrantRequestQuery asks for a page of queued grant requests.
type GrantRequestQuery struct {
	PageQuery
	Asset  string
	Status string // "pending", "approved", "denied" or "granted"
}

// DisputeQuery asks for a page of disputes.
type DisputeQuery struct {
	PageQuery
	Asset  string
	Status string // "open", "released" or "voided"
}

// ProposalQuery asks for a page of governance proposals.
type ProposalQuery struct {
	PageQuery
	Asset  string
	Status string // asset.ProposalStatus
}

// TrimPage cuts a page a backend read with one record more than limit back
// to limit records, and returns where the next page starts: after the
// last record kept, or 0 when the extra record was not there.
func TrimPage[R any](rs []R, limit int, logIndex func(R) uint64) ([]R, uint64) {
	if len(rs) <= limit {
		return rs, 0
	}
	return rs[:limit], logIndex(rs[limit-1]) + 1
}

// CredentialRecord is a read credential (package credential) as the
// catalog keeps it: operational state, not in the log, and nothing secret.
type CredentialRecord struct {
	ID       string
	Licensee string
	// Assets the credential is limited to, sorted; none: every grant.
	Assets           []string
	Created, Expires time.Time
	Revoked          bool
}
