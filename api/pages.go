package api

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The list endpoints (GET /v1/assets, /v1/grants, /v1/grant-requests,
// /v1/disputes, /v1/proposals) answer one page at a time, in log order:
// at most limit records and, when more follow, a "next" cursor to pass
// back as from. The cursor is opaque: a client passes it on as it is.

// DefaultLimit is the page length of a list request that names none;
// MaxLimit is the most one may ask for. The default is the bound, so a
// client written before pages sees every record of a list of up to 1,000,
// as it did.
const (
	DefaultLimit = 1000
	MaxLimit     = 1000
)

// maxCursor bounds a cursor's length: a position is at most 10 bytes.
const maxCursor = 14

// ErrCursor reports a from parameter that is not a cursor a list answered.
var ErrCursor = errors.New("not a cursor a list answered")

// Cursor returns the cursor of a list position (0: none).
func Cursor(pos uint64) string {
	if pos == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(binary.AppendUvarint(nil, pos))
}

// ParseCursor returns the list position of a cursor Cursor made ("" is
// the start, 0).
func ParseCursor(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > maxCursor {
		return 0, ErrCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return 0, ErrCursor
	}
	pos, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) || pos == 0 || Cursor(pos) != s {
		return 0, ErrCursor
	}
	return pos, nil
}

// AssetList is the answer of GET /v1/assets.
type AssetList struct {
	Assets []AssetRecord `json:"assets"`
	Next   string        `json:"next,omitempty"`
}

// AssetListing is AssetRecord as the server writes it in a list: the
// state is the catalog's stored JSON of asset.State, passed on undecoded
// (the same JSON document AssetRecord reads).
type AssetListing struct {
	State    json.RawMessage `json:"state"`
	Claim    string          `json:"claim"`
	Priority string          `json:"priority"`
	LogIndex uint64          `json:"log_index"`
}

// AssetListingPage is AssetList as the server writes it (clients read it
// as AssetList).
type AssetListingPage struct {
	Assets []AssetListing `json:"assets"`
	Next   string         `json:"next,omitempty"`
}

// GrantRequestList is the answer of GET /v1/grant-requests.
type GrantRequestList struct {
	Requests []GrantRequestRecord `json:"requests"`
	Next     string               `json:"next,omitempty"`
}

// DisputeList is the answer of GET /v1/disputes.
type DisputeList struct {
	Disputes []DisputeRecord `json:"disputes"`
	Next     string          `json:"next,omitempty"`
}

// ProposalList is the answer of GET /v1/proposals.
type ProposalList struct {
	Proposals []*ProposalRecord `json:"proposals"`
	Next      string            `json:"next,omitempty"`
}
