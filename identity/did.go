package identity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/multiformats/go-multibase"
)

// ErrBadDID reports a string that is not an Ed25519 did:key.
var ErrBadDID = errors.New("identity: not an Ed25519 did:key")

const (
	didKeyPrefix = "did:key:"
	// maxDIDLen bounds the input before base58 decoding (which is quadratic).
	// An Ed25519 did:key is 56 characters.
	maxDIDLen = 64
)

// ed25519PubCodec is the unsigned-varint form of multicodec 0xed (ed25519-pub).
var ed25519PubCodec = [2]byte{0xed, 0x01}

// DID is an Ed25519 did:key identifier. The zero DID is not valid (IsZero
// reports it); every other DID value holds a 32-byte public key. DIDs are
// comparable and can be used as map keys.
type DID struct {
	pub [ed25519.PublicKeySize]byte
	s   string
}

// DIDFromPublicKey returns the did:key of an Ed25519 public key. It panics if
// pub is not 32 bytes long.
func DIDFromPublicKey(pub ed25519.PublicKey) DID {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("identity: ed25519 public key of %d bytes", len(pub)))
	}
	var d DID
	copy(d.pub[:], pub)
	b := make([]byte, 0, 2+ed25519.PublicKeySize)
	b = append(b, ed25519PubCodec[:]...)
	b = append(b, pub...)
	enc, err := multibase.Encode(multibase.Base58BTC, b)
	if err != nil {
		panic(err) // cannot happen: base58btc is always available
	}
	d.s = didKeyPrefix + enc
	return d
}

// ParseDID parses an Ed25519 did:key ("did:key:z6Mk..."). It accepts only the
// bare DID (no DID URL path, query or fragment), only base58btc multibase and
// only the ed25519-pub multicodec, and only the canonical encoding.
func ParseDID(s string) (DID, error) {
	if len(s) > maxDIDLen {
		return DID{}, fmt.Errorf("%w: %d characters, want at most %d", ErrBadDID, len(s), maxDIDLen)
	}
	rest, ok := strings.CutPrefix(s, didKeyPrefix)
	if !ok {
		return DID{}, fmt.Errorf("%w: %q does not start with %q", ErrBadDID, s, didKeyPrefix)
	}
	if !strings.HasPrefix(rest, "z") {
		return DID{}, fmt.Errorf("%w: %q: want base58btc multibase (prefix 'z')", ErrBadDID, s)
	}
	enc, b, err := multibase.Decode(rest)
	if err != nil || enc != multibase.Base58BTC {
		return DID{}, fmt.Errorf("%w: %q: bad base58btc", ErrBadDID, s)
	}
	if len(b) != 2+ed25519.PublicKeySize || b[0] != ed25519PubCodec[0] || b[1] != ed25519PubCodec[1] {
		return DID{}, fmt.Errorf("%w: %q: want multicodec ed25519-pub (0xed01) and a 32-byte key", ErrBadDID, s)
	}
	d := DIDFromPublicKey(ed25519.PublicKey(b[2:]))
	if d.s != s {
		return DID{}, fmt.Errorf("%w: %q is not in canonical form", ErrBadDID, s)
	}
	return d, nil
}

// String returns the DID, "did:key:z6Mk...", or "" for the zero DID.
func (d DID) String() string { return d.s }

// IsZero reports whether d is the zero DID.
func (d DID) IsZero() bool { return d.s == "" }

// PublicKey returns the Ed25519 public key the DID names, or nil for the
// zero DID.
func (d DID) PublicKey() ed25519.PublicKey {
	if d.IsZero() {
		return nil
	}
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	copy(pub, d.pub[:])
	return pub
}

// Compare orders DIDs by their string form; it returns -1, 0 or +1.
func (d DID) Compare(e DID) int { return strings.Compare(d.s, e.s) }

// MarshalText implements encoding.TextMarshaler. The zero DID cannot be
// marshalled.
func (d DID) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return nil, fmt.Errorf("%w: zero DID", ErrBadDID)
	}
	return []byte(d.s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseDID.
func (d *DID) UnmarshalText(b []byte) error {
	p, err := ParseDID(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
