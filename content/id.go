// Package content names bytes by their BLAKE3 hash and verifies them on
// every read.
//
// A content ID is a CIDv1 with codec raw (0x55) and a blake3 multihash
// (0x1e, 32 bytes), written in base32 (multibase prefix "b"). The digest is
// the BLAKE3 hash of the whole content, so it equals what b3sum prints and
// does not depend on how the bytes were chunked. Beside each blob Charter
// keeps a Bao outboard tree with 16 KiB chunk groups, which lets any byte
// range be verified against the ID alone.
//
// The package does no I/O of its own: callers pass readers and writers.
//
//   - Ingest copies content to a data writer in one pass while computing
//     its ID and Bao outboard (docs/spec/content-id.md).
//   - ExtractRange writes a Bao slice (a byte range plus its proof nodes);
//     VerifyRange checks one against an ID while streaming it, and Reader
//     verifies a whole blob from data and outboard
//     (docs/spec/verified-ranges.md).
//   - Index is a dataset: the canonical JSON list of its files' paths,
//     sizes and IDs (docs/spec/dataset-index.md).
//
// Corrupt data is reported with errors wrapping ErrCorrupt, bad ranges with
// ErrBadRange, bad indexes and paths with ErrBadIndex and ErrBadPath.
package content

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// ErrBadID reports a string or byte slice that is not a Charter content ID.
var ErrBadID = errors.New("content: not a valid content id")

// ID is a content ID: the BLAKE3 digest of the content. The zero ID is not
// valid; use IsZero to test for it.
type ID struct {
	digest [32]byte
}

// IDFromDigest returns the ID whose BLAKE3 digest is d.
func IDFromDigest(d [32]byte) ID { return ID{digest: d} }

// Digest returns the 32-byte BLAKE3 hash of the content.
func (id ID) Digest() [32]byte { return id.digest }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id.digest == [32]byte{} }

// CID returns the id as a go-cid value.
func (id ID) CID() cid.Cid {
	m, err := mh.Encode(id.digest[:], mh.BLAKE3)
	if err != nil {
		panic(err) // cannot happen: BLAKE3 with a 32-byte digest is always encodable
	}
	return cid.NewCidV1(cid.Raw, m)
}

// String returns the canonical base32 CIDv1 form, e.g. "bafkr4i...".
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return id.CID().String()
}

// Hex returns the digest in lower-case hex, as b3sum prints it.
func (id ID) Hex() string { return hex.EncodeToString(id.digest[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses a CIDv1 string. It accepts any multibase encoding but only
// codec raw with a 32-byte blake3 multihash.
func ParseID(s string) (ID, error) {
	if s == "" {
		return ID{}, fmt.Errorf("%w: empty string", ErrBadID)
	}
	if len(s) > 256 {
		return ID{}, fmt.Errorf("%w: too long", ErrBadID)
	}
	c, err := cid.Decode(s)
	if err != nil {
		// go-cid's reasons ("encoding/hex: invalid byte", "selected
		// encoding not supported") speak of its internals, not of ids.
		return ID{}, fmt.Errorf("%w: %q is not a CID; Charter ids look like bafkr4i... (59 characters)", ErrBadID, s)
	}
	id, why := fromCID(c)
	if why != "" {
		return ID{}, fmt.Errorf("%w: %q %s", ErrBadID, s, why)
	}
	return id, nil
}

// FromCID converts a go-cid value to an ID.
func FromCID(c cid.Cid) (ID, error) {
	id, why := fromCID(c)
	if why != "" {
		return ID{}, fmt.Errorf("%w: the CID %s", ErrBadID, why)
	}
	return id, nil
}

// fromCID converts c, or says in words why it is not a Charter id.
func fromCID(c cid.Cid) (ID, string) {
	if c.Version() != 1 {
		return ID{}, fmt.Sprintf("is a CIDv%d (an IPFS id); Charter ids are CIDv1 with codec raw and a BLAKE3 hash, bafkr4i...", c.Version())
	}
	if c.Type() != cid.Raw {
		return ID{}, fmt.Sprintf("has codec %s; Charter ids have codec raw and a BLAKE3 hash, bafkr4i...", codecName(c.Type()))
	}
	d, err := mh.Decode(c.Hash())
	if err != nil {
		return ID{}, "has a malformed multihash"
	}
	if d.Code != mh.BLAKE3 || len(d.Digest) != 32 {
		return ID{}, fmt.Sprintf("is hashed with %s; Charter ids use a 32-byte BLAKE3 hash, bafkr4i...", hashName(d.Code, len(d.Digest)))
	}
	var id ID
	copy(id.digest[:], d.Digest)
	if id.IsZero() {
		return ID{}, "has an all-zero digest"
	}
	return id, ""
}

func codecName(code uint64) string {
	if n, ok := map[uint64]string{0x70: "dag-pb", 0x71: "dag-cbor", 0x0129: "dag-json", 0x0200: "json"}[code]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", code)
}

func hashName(code uint64, n int) string {
	if name, ok := mh.Codes[code]; ok {
		return fmt.Sprintf("%s (%d bytes)", name, n)
	}
	return fmt.Sprintf("multihash 0x%x", code)
}
