package api

import "time"

// The JSON shapes of the blob, health and log endpoints and of the admin
// reports, shared by the server and the client.

// BlobInfo is the answer of an upload (POST /v1/blobs) and of GET
// /v1/blobs/{id}/info.
type BlobInfo struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
	Kind string `json:"kind"` // "blob" or "dataset"
	// Created is set only when this request stored the bytes.
	Created bool `json:"created"`
	// Licensed lists the assets whose terms require a grant to read this
	// content; empty when it is free to read.
	Licensed []string `json:"licensed,omitempty"`
}

// Health is the answer of GET /healthz (503 when degraded).
type Health struct {
	// Status is "ok", or "degraded" when any stored blob is corrupt or a
	// registered dataset is unindexed.
	Status  string       `json:"status"`
	Corrupt []Corruption `json:"corrupt"`
	// Unindexed lists registered datasets whose index is missing or
	// unreadable; content they may govern is refused until the index is
	// put again (status "degraded").
	Unindexed []UnindexedDataset `json:"unindexed,omitempty"`
	// LastScrub describes the most recent full verification of the store.
	LastScrub *ScrubReport `json:"last_scrub,omitempty"`
	// Log is the state of the transparency log (status "degraded" unless
	// it is "ok").
	Log *LogHealth `json:"log,omitempty"`
}

// LogHealth is the state of the transparency log: its latest checkpoint
// read and verified now, and the last full audit (every tile and entry
// bundle, run with each scrub).
type LogHealth struct {
	// Status is "ok", "tampered" (a checkpoint, tile or entry bundle does
	// not verify) or "unreadable" (the log's storage does not answer).
	Status string `json:"status"`
	Size   uint64 `json:"size,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Audited is when the last full audit finished, if one ran.
	Audited *time.Time `json:"audited,omitempty"`
}

// Corruption is a stored blob whose bytes no longer match its id.
type Corruption struct {
	ID     string    `json:"id"`
	Offset int64     `json:"offset"`
	Length int64     `json:"length"`
	Detail string    `json:"detail"`
	Found  time.Time `json:"found"`
}

// UnindexedDataset is a registered dataset whose index is missing.
type UnindexedDataset struct {
	Asset    string `json:"asset"`
	Index    string `json:"index"`
	LogIndex uint64 `json:"log_index"`
}

// ScrubReport describes a full verification of the blob store.
type ScrubReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Blobs    int       `json:"blobs"`
	Bytes    int64     `json:"bytes"`
	Corrupt  int       `json:"corrupt"`
}

// VerifyRequest is the body of POST /v1/blobs/{id}/verify: a client saying
// the bytes it received at offset did not verify.
type VerifyRequest struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// VerifyResult answers a verify request.
type VerifyResult struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// ConsistencyAnswer is the answer of GET /v1/log/consistency.
type ConsistencyAnswer struct {
	OldSize uint64 `json:"old_size"`
	Proof   string `json:"proof"`
}

// LedgerCheck is what `charter admin check` reports of the ledger.
type LedgerCheck struct {
	JournalSize uint64 `json:"journalSize"` // rows verified
	JournalRoot string `json:"journalRoot"`
	Anchors     int    `json:"settlementRoots"` // settlement roots from the log matched
	Accounts    int    `json:"accounts"`        // balances recomputed and compared
}

// BackupReport is what `charter admin backup` reports.
type BackupReport struct {
	// LogSize is the size of the log in the backup (its checkpoint).
	LogSize uint64 `json:"log_size"`
	// CatalogNext is the first log entry the backed-up catalog had not
	// applied; the backup's log covers at least every entry before it.
	CatalogNext uint64 `json:"catalog_next"`
	// Blobs and Bytes count the blobs copied (each re-hashed on the way).
	Blobs int64 `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Corrupt lists blobs of the source whose bytes do not match their id;
	// they are not in the backup.
	Corrupt []string `json:"corrupt,omitempty"`
}

// MissingRequest is the body of POST /v1/blobs/missing: content ids the
// client means to upload, at most MaxMissingIDs.
type MissingRequest struct {
	IDs []string `json:"ids"`
}

// MissingAnswer lists the ids of a MissingRequest that the server does not
// hold (or holds a copy of that failed verification), in request order:
// only these need uploading.
type MissingAnswer struct {
	Missing []string `json:"missing"`
}

// MaxMissingIDs is the most ids one POST /v1/blobs/missing may ask about.
const MaxMissingIDs = 10000
