package postgres

import (
	"errors"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// TEMPORARY: local copies of catalog/sqlite's record types, until they move
// to package catalog (issue 11, helper catseam). They are then replaced by
// the catalog types.

type (
	AssetRecord    = api.AssetRecord
	ProposalRecord = api.ProposalRecord
	TrailEntry     = api.TrailEntry
)

type GrantRecord struct {
	ID       string `json:"id"`
	Asset    string `json:"asset"`
	Licensee string `json:"licensee"`
	Envelope []byte `json:"envelope"`
	Revoked  bool   `json:"revoked"`
	LogIndex uint64 `json:"log_index"`
	Bytes    int64  `json:"bytes_served"`
	Requests int64  `json:"requests_served"`
}

type GrantRequestRecord struct {
	ID       string          `json:"id"`
	Asset    string          `json:"asset"`
	Envelope []byte          `json:"envelope"`
	Decision uint64          `json:"decision_index"`
	Status   string          `json:"status"`
	LogIndex uint64          `json:"log_index"`
	Votes    map[string]bool `json:"votes"`
}

type Claimant struct {
	Asset     asset.ID
	Content   string
	LogIndex  uint64
	Signers   []identity.DID
	Conflict  bool
	Dataset   bool
	Unindexed bool
}

var ErrDuplicate = errors.New("catalog: usage id already recorded")

type ReceiptRecord struct {
	ID       string `json:"id"`
	Grant    string `json:"grant"`
	Asset    string `json:"asset"`
	Licensee string `json:"licensee"`
	Session  string `json:"session"`
	Bytes    int64  `json:"bytes"`
	Requests int64  `json:"requests"`
	Envelope []byte `json:"envelope"`
	LogIndex uint64 `json:"log_index"`
}

type UsageRecord struct {
	Grant     string `json:"grant"`
	ID        string `json:"id"`
	Statement string `json:"statement"`
	Asset     string `json:"asset"`
	Licensee  string `json:"licensee"`
	Tokens    int64  `json:"tokens"`
	Calls     int64  `json:"calls"`
	Runs      int64  `json:"runs"`
	Time      string `json:"time"`
	Envelope  []byte `json:"envelope"`
	LogIndex  uint64 `json:"log_index"`
}

type DisputeRecord struct {
	ID       string `json:"id"`
	Asset    string `json:"asset"`
	Opener   string `json:"opener"`
	Reason   string `json:"reason"`
	Status   string `json:"status"`
	Envelope []byte `json:"envelope"`
	LogIndex uint64 `json:"log_index"`
	Resolved uint64 `json:"resolved_index,omitempty"`
}

type Use struct {
	Key      string
	Receipt  bool
	Grant    string
	Bytes    int64
	Tokens   int64
	Calls    int64
	Runs     int64
	LogIndex uint64
}

type JournalRoot struct {
	LogIndex uint64
	Size     uint64
	Hash     string
}

const MaxRangesPerContent = 256

type MeterKey struct {
	Grant, Session string
	Asset          string
	Licensee       string
	Quota          string
}

type Quota struct {
	MaxBytes, MaxRequests int64
}

type MeterRange struct {
	Content    string
	Start, End int64
}

type OpenSession struct {
	MeterKey
	Bytes, Requests int64
	Started, Last   time.Time
	Part            int64
	Ranges          []MeterRange
}

type SealedReceipt struct {
	Grant, Session string
	Part           int64
	Envelope       []byte
}

type SessionFilter struct {
	IdleBefore        time.Time
	Session, Licensee string
	Grant             string
}

const DefaultNonceLimit = httpsig.DefaultNonceLimit
