package auditlog

import (
	"bytes"
	"fmt"
	"regexp"
)

// MaxEntrySize is the largest encoded entry the log accepts, in bytes. It is
// the limit of the C2SP tlog-tiles entry bundle format (a 16-bit length
// prefix), so every entry can be served to any tlog-tiles client.
const MaxEntrySize = 1<<16 - 1

// MaxTypeLen is the longest entry type accepted.
const MaxTypeLen = 64

// entryMagic starts every encoded entry; it names the format and its version.
const entryMagic = "charter/log-entry@v1 "

// Entry types used by Charter. The set is open: any string matching TypeRE
// is a valid type; these constants only spare callers from typos.
const (
	TypeAssetRegister = "asset.register"
	TypeAssetProposal = "asset.proposal"
	TypeAssetApproval = "asset.approval"
	TypeLicense       = "license"
	TypeGrant         = "grant"
	TypeDecision      = "decision"
	TypeRevocation    = "revocation"
	TypeReceipt       = "receipt"
	TypeUsage         = "usage"
	TypeSettlement    = "settlement"
	TypeDispute       = "dispute"
)

// TypeRE is the grammar of entry types: lower-case words of letters and
// digits joined by '.', '-' or '_', starting with a letter, at most
// MaxTypeLen bytes.
var TypeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$`)

// Entry is one decoded log entry: a type and the signed statement it
// carries (for Charter, a DSSE envelope in its JSON encoding).
type Entry struct {
	Type    string
	Payload []byte
}

// Record is an entry together with its position in the log.
type Record struct {
	Index uint64
	Entry
}

// ValidType reports whether typ is a valid entry type; the error wraps
// ErrBadType.
func ValidType(typ string) error {
	if len(typ) == 0 || len(typ) > MaxTypeLen || !TypeRE.MatchString(typ) {
		return fmt.Errorf("%w: %q (want lower-case words joined by '.', '-' or '_', at most %d bytes)", ErrBadType, typ, MaxTypeLen)
	}
	return nil
}

// EncodeEntry returns the log encoding of an entry:
//
//	"charter/log-entry@v1 " type "\n" payload
//
// The payload is carried verbatim and must not be empty. The encoding of a
// (type, payload) pair is unique. Errors wrap ErrBadType, ErrMalformed or
// ErrTooLarge.
func EncodeEntry(typ string, payload []byte) ([]byte, error) {
	if err := ValidType(typ); err != nil {
		return nil, err
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	n := len(entryMagic) + len(typ) + 1 + len(payload)
	if n > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit %d\nhint: log the statement's digest and keep the bytes in the content store", ErrTooLarge, n, MaxEntrySize)
	}
	b := make([]byte, 0, n)
	b = append(b, entryMagic...)
	b = append(b, typ...)
	b = append(b, '\n')
	b = append(b, payload...)
	return b, nil
}

// Encode is EncodeEntry(e.Type, e.Payload).
func (e Entry) Encode() ([]byte, error) { return EncodeEntry(e.Type, e.Payload) }

// DecodeEntry parses an encoded entry. It accepts exactly what EncodeEntry
// produces. The returned payload aliases b. Errors wrap ErrMalformed,
// ErrBadType or ErrTooLarge.
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxEntrySize)
	}
	rest, ok := bytes.CutPrefix(b, []byte(entryMagic))
	if !ok {
		return Entry{}, fmt.Errorf("%w: entry does not start with %q", ErrMalformed, entryMagic)
	}
	typ, payload, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return Entry{}, fmt.Errorf("%w: entry header has no newline", ErrMalformed)
	}
	if err := ValidType(string(typ)); err != nil {
		return Entry{}, err
	}
	if len(payload) == 0 {
		return Entry{}, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	return Entry{Type: string(typ), Payload: payload}, nil
}
