package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// HashSize is the size of every tree hash (SHA-256).
const HashSize = sha256.Size

// Checkpoint is a C2SP tlog-checkpoint whose signature has been verified:
// the log named Origin holds Size entries whose RFC 6962 Merkle tree hash
// is Hash. Raw is the signed note it was opened from, verbatim.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   [HashSize]byte
	// Extensions holds any extension lines of the body, in order.
	Extensions []string
	Raw        []byte
}

// String is the checkpoint's body line "origin size hash" for messages.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s@%d:%s", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// NewVerifier parses a note verifier key (the text served at /log/key). The
// error wraps ErrKey.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key: %v\nhint: a verifier key looks like origin+hex8+base64, as served at /log/key", ErrKey, err)
	}
	return v, nil
}

// OpenCheckpoint verifies that signed is a checkpoint signed by v and parses
// it. The key name must equal the checkpoint origin. Signatures by other keys
// (e.g. witness cosignatures) are ignored. Errors wrap ErrBadSignature or
// ErrMalformed.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified), errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("%w: %v (want a signature by %s)", ErrBadSignature, err, v.Name())
		default:
			return Checkpoint{}, fmt.Errorf("%w: checkpoint note: %v", ErrMalformed, err)
		}
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q is not the key name %q", ErrBadSignature, cp.Origin, v.Name())
	}
	cp.Raw = bytes.Clone(signed)
	return cp, nil
}

// parseCheckpointBody parses the note text of a checkpoint:
//
//	origin\nsize\nbase64(root)\n[extension\n]...
func parseCheckpointBody(text string) (Checkpoint, error) {
	bad := func(format string, a ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: "+format, append([]any{ErrMalformed}, a...)...)
	}
	if !strings.HasSuffix(text, "\n") {
		return bad("body does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return bad("%d lines, want at least 3", len(lines))
	}
	var cp Checkpoint
	cp.Origin = lines[0]
	if cp.Origin == "" {
		return bad("empty origin")
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return bad("size: %v", err)
	}
	cp.Size = size
	h, err := parseHash(lines[2])
	if err != nil {
		return bad("root hash: %v", err)
	}
	cp.Hash = h
	for _, l := range lines[3:] {
		if l == "" {
			return bad("empty extension line")
		}
		cp.Extensions = append(cp.Extensions, l)
	}
	return cp, nil
}

// parseDecimal parses an ASCII decimal without sign or leading zeroes.
func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%q is not a canonical decimal", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a canonical decimal", s)
	}
	return n, nil
}

// parseHash decodes one canonical standard-base64 SHA-256 hash.
func parseHash(s string) ([HashSize]byte, error) {
	var h [HashSize]byte
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%q is not a base64 SHA-256 hash", s)
	}
	copy(h[:], b)
	return h, nil
}
