package catalog

import (
	"context"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
)

// The catalog's roles. Each interface is what one kind of caller needs;
// a backend (catalog/sqlite, catalog/postgres) implements all of them,
// which Catalog collects. Callers take the smallest role that serves
// them. catalog/catalogtest checks every role's behaviour against a
// backend through these interfaces only.
//
// Every method that reads or writes takes ctx first, except the methods of
// Tx, which run in the context of the Update that opened it.
// Lookups of one thing that is not there return an error wrapping
// ErrNotFound; lists of nothing return nil and no error.

// Objects records the stored blobs and the corrupt ones (operational:
// objects are derived from the blob store, corruption records from the
// scrub).
type Objects interface {
	// PutObject records a stored object. Recording the same id again
	// keeps the first record, except that a blob later declared a dataset
	// becomes one.
	PutObject(ctx context.Context, o Object) error
	// PutObjects records many stored objects as PutObject does, in one
	// transaction: a batch upload records its blobs together.
	PutObjects(ctx context.Context, os []Object) error
	// Object returns the record of id.
	Object(ctx context.Context, id content.ID) (Object, error)
	// MarkCorrupt records (or replaces) the corruption record of a blob.
	MarkCorrupt(ctx context.Context, k Corruption) error
	// ClearCorrupt forgets a corruption record; none is fine.
	ClearCorrupt(ctx context.Context, id content.ID) error
	// Corruption returns the corruption record of id, if any. It is on
	// the path of every read.
	Corruption(ctx context.Context, id content.ID) (Corruption, bool, error)
	// Corruptions lists every corruption record by id.
	Corruptions(ctx context.Context) ([]Corruption, error)
}

// Applier is the write side of the derived state: every change is made in
// a transaction that also records the log entry it applies, so replay
// applies each entry exactly once.
type Applier interface {
	// Applied reports where replay must start (every entry below next is
	// applied) and which entries at or above it are applied already.
	Applied(ctx context.Context) (next uint64, above map[uint64]bool, err error)
	// Update runs fn in a transaction that also records log entry index
	// as applied. If index is applied already, fn is not run and Update
	// returns ErrApplied. If fn fails, its changes are undone and Update
	// returns its error; if that error wraps ErrNoEffect, the entry is
	// still recorded as applied.
	Update(ctx context.Context, index uint64, fn func(Tx) error) error
	// UpdateSeq is Update for several entries, applied in the order given
	// (a caller feeding entries in log order gets them applied in log
	// order), each undone alone when it fails. It returns one error per
	// change. A backend may commit changes of several callers together.
	UpdateSeq(ctx context.Context, changes []Change) []error
}

// Tx is one catalog transaction as the appliers of log entries see it:
// the reads they check a statement against and the writes they make.
type Tx interface {
	RegistryTx
	GrantTx
	UsageTx
}

// RegistryTx is the part of Tx for assets, proposals, trails and content
// claims.
type RegistryTx interface {
	// MarkApplied records another log entry as applied in this
	// transaction (an entry with no catalog effect of its own whose
	// application rides along, such as a grant's decision record).
	// Already applied is fine.
	MarkApplied(index uint64) error
	// PutAsset records a newly registered asset and its lineage; one
	// recorded already is kept as it is.
	PutAsset(r AssetRecord) error
	// SetState replaces the state of a registered asset (and its lineage).
	SetState(s *asset.State) error
	// Asset returns a registered asset.
	Asset(id asset.ID) (*AssetRecord, error)
	// AssetsByContent lists the assets registered on content, oldest
	// first.
	AssetsByContent(id content.ID) ([]*AssetRecord, error)
	// Children lists the assets that name id as a parent.
	Children(id asset.ID) ([]asset.ID, error)
	// Trail adds an entry to an asset's trail.
	Trail(a asset.ID, index uint64, typ, summary string) error
	// PutProposal records a proposal; one recorded already is kept.
	PutProposal(id, a asset.ID, envelope []byte, status string, index uint64) error
	// SetProposalStatus sets a proposal's status.
	SetProposalStatus(id asset.ID, status string) error
	// AddApproval records an approver's approval of a proposal; the
	// approver's first approval is kept.
	AddApproval(proposal asset.ID, approver string, envelope []byte, index uint64) error
	// Proposal returns a proposal with its approvals.
	Proposal(id asset.ID) (*ProposalRecord, error)
	// PutClaimant records (or updates the dataset flags of) a registered
	// asset's claimant record and its claim on its own content.
	PutClaimant(c Claimant) error
	// Claims records many claims of one asset on content: each is called
	// with a function that records one claimed content id.
	Claims(asset string, each func(add func(content string) error) error) error
	// DropFileClaims forgets the claims of an asset on anything but its
	// own content.
	DropFileClaims(a asset.ID, own string) error
	// PutPart records a part of a document the log carries. One whose
	// (kind, content, part) is recorded already fails with ErrPartLogged
	// and changes nothing.
	PutPart(p Part) error
	// Part returns part n of (kind, content). Callers read a document
	// one part at a time, so that a million-file member list is never
	// held whole.
	Part(kind, content string, n int) (Part, error)
	// PartCount returns how many parts of (kind, content) are recorded
	// and how many their document has (0 when none is).
	PartCount(kind, content string) (have, parts int, err error)
}

// GrantTx is the part of Tx for grants and grant requests.
type GrantTx interface {
	// PutGrant records an issued grant; a grant id recorded already keeps
	// its first grant.
	PutGrant(id, asset, licensee string, envelope []byte, index uint64) error
	// RevokeGrant marks a grant revoked.
	RevokeGrant(id string) error
	// Grant returns a grant.
	Grant(id string) (*GrantRecord, error)
	// HasGrant reports whether licensee holds or held a grant on asset.
	HasGrant(asset, licensee string) (bool, error)
	// PutGrantRequest queues a request (status "pending"); one recorded
	// already is kept.
	PutGrantRequest(id, asset string, envelope []byte, decision, index uint64) error
	// SetGrantRequestStatus sets a queued request's status.
	SetGrantRequestStatus(id, status string) error
	// AddGrantApproval records an owner's vote on a queued request; the
	// owner's first vote is kept.
	AddGrantApproval(request, approver string, approve bool, envelope []byte, index uint64) error
	// GrantRequest returns a queued request with its votes.
	GrantRequest(id string) (*GrantRequestRecord, error)
}

// UsageTx is the part of Tx for receipts, usage, settlements and
// disputes.
type UsageTx interface {
	// ApplyReceipt counts a logged receipt against its quota key and
	// forgets the sealed receipt awaiting its entry (grant, session,
	// part), in the entry's transaction. A session the catalog holds at
	// an earlier part (a copy older than its log) never saw this seal:
	// it starts over at part, and the grant's counters are raised to the
	// receipt, so nothing it held is receipted twice.
	ApplyReceipt(id, grant, session string, part int64, quota string, bytes, requests int64) error
	// PutReceipt records a receipt; recording the same id again is a
	// no-op.
	PutReceipt(r ReceiptRecord) error
	// PutUsage records a usage event, and adds its tokens and runs to
	// the usage quota counters of u.Quota when set. One whose (grant, id)
	// is recorded already fails with ErrDuplicate and changes nothing.
	PutUsage(u UsageRecord) error
	// UsageQuota returns the tokens and runs recorded against a usage
	// quota key.
	UsageQuota(quota string) (tokens, runs int64, err error)
	// MarkSettled records a settlement: every use logged at or below
	// through is settled except failed (Use.Key values), which replace
	// the previous list of unsettled uses. A through below the current
	// watermark is refused.
	MarkSettled(through uint64, failed []string) error
	// PutSettlement records a settlement entry's payload.
	PutSettlement(idx uint64, payload []byte) error
	// LastSettlement returns the payload of the settlement logged last,
	// or nil.
	LastSettlement() ([]byte, error)
	// PutDispute records an open dispute; one recorded already is kept.
	PutDispute(d DisputeRecord) error
	// ResolveDispute sets an open dispute's status ("released" or
	// "voided") and the log index of its resolution.
	ResolveDispute(id, status string, idx uint64) error
	// Dispute returns a dispute.
	Dispute(id string) (*DisputeRecord, error)
	// OpenDisputeBy returns the id of opener's open dispute on asset, or
	// "".
	OpenDisputeBy(asset, opener string) (string, error)
}

// RegistryReader reads assets, lineage, proposals and trails.
type RegistryReader interface {
	Asset(ctx context.Context, id asset.ID) (*AssetRecord, error)
	// AssetsByContent lists the assets registered on content, oldest
	// first.
	AssetsByContent(ctx context.Context, id content.ID) ([]*AssetRecord, error)
	// ListAssets lists every registered asset in log order.
	ListAssets(ctx context.Context) ([]*AssetRecord, error)
	// Children lists the assets that name id as a parent, by id.
	Children(ctx context.Context, id asset.ID) ([]asset.ID, error)
	Proposal(ctx context.Context, id asset.ID) (*ProposalRecord, error)
	// Proposals lists an asset's proposals, newest first.
	Proposals(ctx context.Context, a asset.ID) ([]*ProposalRecord, error)
	// Trail returns an asset's trail in log order.
	Trail(ctx context.Context, a asset.ID) ([]TrailEntry, error)
}

// ClaimIndex reads content governance: which assets claim which content.
type ClaimIndex interface {
	// ContentClaims returns every claim on content with its claimant, in
	// log order.
	ContentClaims(ctx context.Context, content string) ([]asset.ContentClaim, error)
	// Unindexed lists the datasets whose index was missing or unreadable,
	// in log order.
	Unindexed(ctx context.Context) ([]Claimant, error)
	// IndexedDataset reports whether a registered dataset whose index was
	// read names content.
	IndexedDataset(ctx context.Context, content string) (bool, error)
	// Reindex records the file claims of the unindexed datasets on
	// content: claims is called once per dataset and fails if the index
	// does not read (the dataset then stays unindexed). It returns the
	// datasets reindexed.
	Reindex(ctx context.Context, content string, claims func(add func(file string) error) error) ([]asset.ID, error)
}

// PartReader reads what the log carries for apply (Tx.PutPart).
type PartReader interface {
	// PartCount returns how many parts of (kind, content) are recorded
	// and how many their document has (0 when none is).
	PartCount(ctx context.Context, kind, content string) (have, parts int, err error)
}

// GrantReader reads grants and queued grant requests.
type GrantReader interface {
	Grant(ctx context.Context, id string) (*GrantRecord, error)
	// Grants lists grants on asset to licensee ("" for any), newest
	// first, at most 1,000.
	Grants(ctx context.Context, asset, licensee string) ([]*GrantRecord, error)
	GrantRequest(ctx context.Context, id string) (*GrantRequestRecord, error)
	// GrantRequests lists requests on asset ("" for any) with status (""
	// for any), in log order.
	GrantRequests(ctx context.Context, asset, status string) ([]*GrantRequestRecord, error)
}

// Pages reads the lists clients page through (GET /v1/assets and the
// other list endpoints). Each method answers the records of one page that
// match the query's filters, in log order, and the position the next page
// starts at, or 0 when no record follows. A page costs what it holds, not
// what the catalog holds: every filter is served by an index that ends in
// the log index. A page decodes nothing it only passes on: AssetPage
// answers each state as the JSON the registry stored at apply time
// (AssetListing), and ProposalPage answers the approvers of each
// proposal, not the signed proposal and approvals (Envelope and
// Approvals are nil; Proposal reads them).
type Pages interface {
	AssetPage(ctx context.Context, q AssetQuery) ([]*AssetListing, uint64, error)
	GrantPage(ctx context.Context, q GrantQuery) ([]*GrantRecord, uint64, error)
	GrantRequestPage(ctx context.Context, q GrantRequestQuery) ([]*GrantRequestRecord, uint64, error)
	DisputePage(ctx context.Context, q DisputeQuery) ([]*DisputeRecord, uint64, error)
	ProposalPage(ctx context.Context, q ProposalQuery) ([]*ProposalRecord, uint64, error)
}

// Counters are daily and total counters that are not in the log
// (operational state).
type Counters interface {
	// ChargeUpload adds n bytes to key's uploads of day (and of all days)
	// if that stays within maxDay and maxTotal (0: no limit), and reports
	// whether it did, with the bytes used so far today and in total.
	ChargeUpload(ctx context.Context, key, day string, n, maxDay, maxTotal int64) (ok bool, usedDay, usedTotal int64, err error)
	// ChargeGrantRequest counts one grant request by licensee on day if
	// that stays within maxDay (0: no limit), and reports whether it did
	// and how many the licensee made that day before it.
	ChargeGrantRequest(ctx context.Context, licensee, day string, maxDay int64) (ok bool, usedDay int64, err error)
	// Counted returns what ChargeUpload charged to key on day ("total":
	// all days), 0 when nothing was; it writes nothing.
	Counted(ctx context.Context, key, day string) (int64, error)
	// SetUnsettledReasons replaces the reasons of the last settlement
	// run's unsettled uses.
	SetUnsettledReasons(ctx context.Context, rs []UnsettledReason) error
	// UnsettledReasons lists the reasons kept for asset's uses, by use.
	UnsettledReasons(ctx context.Context, asset string) ([]UnsettledReason, error)
}

// Meter is download metering: reservations against quotas, served bytes,
// and sessions sealed into receipts (operational state until the receipt
// is logged).
type Meter interface {
	// QuotaUse returns the bytes and requests counted against a quota
	// key: logged receipts, sealed receipts, open sessions and
	// reservations in flight.
	QuotaUse(ctx context.Context, key string) (bytes, requests int64, err error)
	// MeterReserve reserves n bytes and one request of session k against
	// quota q, and reports whether the quota allowed it.
	MeterReserve(ctx context.Context, k MeterKey, n int64, q Quota, now time.Time) (bool, error)
	// MeterServed records n bytes of content at off served in a session
	// and releases release bytes of its reservation; it returns how many
	// merged ranges the session holds.
	MeterServed(ctx context.Context, grant, session, content string, off, n, release int64, now time.Time) (int, error)
	// InFlight returns the bytes reserved by licensee's sessions named
	// session.
	InFlight(ctx context.Context, session, licensee string) (int64, error)
	// HasSession reports whether licensee has a session named session
	// with anything to seal.
	HasSession(ctx context.Context, session, licensee string) (bool, error)
	// SealSessions turns every selected session that served a request
	// into a receipt signed by sign, kept until its log entry is applied
	// (Tx.ApplyReceipt), and starts the session over. A session sign
	// fails for stays open; its error is returned with the others sealed.
	SealSessions(ctx context.Context, f SessionFilter, sign func(*OpenSession) ([]byte, error)) ([]SealedReceipt, error)
	// SealedReceipts lists the sealed receipts whose entries are not
	// applied yet.
	SealedReceipts(ctx context.Context) ([]SealedReceipt, error)
	// ReleaseReservations forgets every reservation in flight (on start:
	// the requests that held them are gone).
	ReleaseReservations(ctx context.Context) error
}

// UsageReader reads receipts, usage events, settlements and disputes.
type UsageReader interface {
	Usage(ctx context.Context, grant, id string) (*UsageRecord, error)
	// UsageQuota returns the tokens and runs of the usage events logged
	// against a usage quota key (Tx.PutUsage).
	UsageQuota(ctx context.Context, quota string) (tokens, runs int64, err error)
	// Receipts lists the receipts of grant ("" for all), oldest first, at
	// most limit.
	Receipts(ctx context.Context, grant string, limit int) ([]*ReceiptRecord, error)
	// SettledThrough returns the settlement watermark.
	SettledThrough(ctx context.Context) (uint64, error)
	// Unsettled calls fn for every receipt and usage event not settled
	// and logged at or below through: the ones the last settlement left
	// unsettled, then the ones logged since, receipts first, each in log
	// order.
	Unsettled(ctx context.Context, through uint64, fn func(Use) error) error
	// Settlements returns the payloads of the last n settlement entries
	// by log index, and their indexes newest first.
	Settlements(ctx context.Context, n int) (map[uint64][]byte, []uint64, error)
	// JournalRoots returns the ledger journal root of every settlement
	// entry, in log order.
	JournalRoots(ctx context.Context) ([]JournalRoot, error)
	Dispute(ctx context.Context, id string) (*DisputeRecord, error)
	// Disputes lists the disputes on asset ("" for all) with status (""
	// for any), in log order, at most 10,000.
	Disputes(ctx context.Context, asset, status string) ([]*DisputeRecord, error)
}

// NonceStore remembers the nonces of signed requests; its method set is
// httpsig.NonceStore's.
type NonceStore interface {
	// Seen records (keyID, nonce) until the given time and reports
	// whether it was recorded already. A key at its limit of live nonces
	// gets httpsig.ErrNonceStoreFull.
	Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error)
}

// Nonces makes the catalog's nonce store, which survives restarts.
type Nonces interface {
	// Nonces returns a store holding at most limit live nonces per key
	// (a backend default if limit <= 0), with clock now (time.Now if
	// nil).
	Nonces(limit int, now func() time.Time) NonceStore
}

// Checker compares and repairs catalogs: what rebuild and check use.
type Checker interface {
	// Dump lists the derived state as sorted text lines, leaving out
	// bookkeeping (which entries are applied) and local times, so that
	// two catalogs holding the same state dump the same lines, whichever
	// their backends. The line formats are catalog/sqlite's; each starts
	// with the kind of row and a space (`asset `, `grant `, `usage `...).
	Dump(ctx context.Context) ([]string, error)
	// DumpOperational lists the operational state (what the log does not
	// carry) as sorted text lines, each starting with the kind of state
	// and a space: the SQLite table names (`nonces `, `grant_usage `,
	// `meter_sessions ` ...), so that tests count rows of a kind.
	DumpOperational(ctx context.Context) ([]string, error)
	// QuotaDrift describes the quota counters that disagree with the
	// log's receipts (below what they prove was served, or of a grant the
	// log does not hold), one line per counter starting "quota <grant>: ".
	QuotaDrift(ctx context.Context) ([]string, error)
	// RaiseQuotaFloor raises every quota counter to what the log's
	// receipts prove was served, drops counters of grants the log does
	// not hold, and reports how many it changed.
	RaiseQuotaFloor(ctx context.Context) (int64, error)
}

// Credentials keeps read credentials (package credential): operational
// state, carried over by a rebuild; no secret is stored.
type Credentials interface {
	// PutCredential records a new credential if its licensee holds fewer
	// than maxLive credentials live at now (unrevoked, expiring after
	// now), and reports whether it did. The licensee's expired and
	// revoked records are forgotten first.
	PutCredential(ctx context.Context, c CredentialRecord, maxLive int, now time.Time) (bool, error)
	// Credential returns a credential by access key id.
	Credential(ctx context.Context, id string) (*CredentialRecord, error)
	// RevokeCredential marks licensee's credential id revoked; one of
	// another licensee, or none, is ErrNotFound.
	RevokeCredential(ctx context.Context, id, licensee string) error
	// LiveCredentials lists licensee's credentials live at now, newest
	// first.
	LiveCredentials(ctx context.Context, licensee string, now time.Time) ([]*CredentialRecord, error)
}

// Catalog is every role of a catalog backend.
type Catalog interface {
	Objects
	Credentials
	Applier
	RegistryReader
	ClaimIndex
	PartReader
	GrantReader
	Pages
	Counters
	Meter
	UsageReader
	Nonces
	Checker
	Close() error
}
