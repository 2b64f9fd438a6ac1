package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// proofHeader is the first line of a C2SP tlog-proof.
const proofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds the hash lines of a proof: a tree of at most 2^64
// leaves has paths of at most 64 nodes.
const maxProofHashes = 64

// Proof is a C2SP tlog-proof: the index of an entry, the RFC 6962 inclusion
// proof of that entry in the tree of a checkpoint, and the signed checkpoint
// itself. Its text form (Marshal) is Charter's inclusion receipt.
type Proof struct {
	// Extra is optional opaque, unauthenticated data.
	Extra      []byte
	Index      uint64
	Hashes     [][]byte
	Checkpoint []byte // signed note, verbatim
}

// Marshal returns the C2SP tlog-proof text.
func (p Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(proofHeader + "\n")
	if len(p.Extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseProof parses a C2SP tlog-proof. It checks the syntax only; use
// VerifyReceipt to check what it proves. Errors wrap ErrMalformed.
func ParseProof(b []byte) (Proof, error) {
	bad := func(format string, a ...any) (Proof, error) {
		return Proof{}, fmt.Errorf("%w: tlog-proof: "+format, append([]any{ErrMalformed}, a...)...)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return bad("no empty line before the checkpoint")
	}
	if len(cp) == 0 {
		return bad("no checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != proofHeader {
		return bad("first line is not %q", proofHeader)
	}
	lines = lines[1:]
	var p Proof
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		enc := strings.TrimPrefix(lines[0], "extra ")
		extra, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil || len(extra) == 0 || base64.StdEncoding.EncodeToString(extra) != enc {
			return bad("extra line is not canonical base64")
		}
		p.Extra = extra
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return bad("no index line")
	}
	idx, err := parseDecimal(strings.TrimPrefix(lines[0], "index "))
	if err != nil {
		return bad("index: %v", err)
	}
	p.Index = idx
	lines = lines[1:]
	if len(lines) > maxProofHashes {
		return bad("%d proof hashes, at most %d", len(lines), maxProofHashes)
	}
	for _, l := range lines {
		h, err := parseHash(l)
		if err != nil {
			return bad("proof hash: %v", err)
		}
		p.Hashes = append(p.Hashes, h[:])
	}
	p.Checkpoint = bytes.Clone(cp)
	return p, nil
}

// LeafHash is the RFC 6962 leaf hash of an encoded entry: the hash the log
// tree commits to, SHA-256(0x00 || entry).
func LeafHash(entry []byte) [HashSize]byte {
	var h [HashSize]byte
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(entry))
	return h
}

// VerifyReceipt checks, offline, that entry (an encoded entry, as stored in
// the log) is included in the log: the receipt is a C2SP tlog-proof whose
// checkpoint is signed by the key verifierKey (a note verifier key, as served
// at /log/key) and whose inclusion proof leads from the entry's leaf hash to
// the checkpoint's root. It returns the entry's index and the checkpoint.
// Errors wrap ErrMalformed, ErrKey, ErrBadSignature or ErrBadProof.
func VerifyReceipt(entry, receipt []byte, verifierKey string) (uint64, Checkpoint, error) {
	v, err := NewVerifier(verifierKey)
	if err != nil {
		return 0, Checkpoint{}, err
	}
	return VerifyReceiptWith(entry, receipt, v)
}

// VerifyReceiptWith is VerifyReceipt with a parsed verifier.
func VerifyReceiptWith(entry, receipt []byte, v note.Verifier) (uint64, Checkpoint, error) {
	p, err := ParseProof(receipt)
	if err != nil {
		return 0, Checkpoint{}, err
	}
	cp, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return 0, Checkpoint{}, err
	}
	if err := verifyInclusion(p.Index, LeafHash(entry), p.Hashes, cp); err != nil {
		return 0, Checkpoint{}, err
	}
	return p.Index, cp, nil
}

// verifyInclusion checks an inclusion proof of leaf at index against cp.
func verifyInclusion(index uint64, leaf [HashSize]byte, hashes [][]byte, cp Checkpoint) error {
	if index >= cp.Size {
		return fmt.Errorf("%w: index %d is not in a tree of size %d", ErrBadProof, index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf[:], hashes, cp.Hash[:]); err != nil {
		var rm proof.RootMismatchError
		if errors.As(err, &rm) {
			err = rootError{rm.CalculatedRoot, rm.ExpectedRoot}
		}
		return fmt.Errorf("%w: inclusion of entry %d in %s: %w", ErrBadProof, index, cp, err)
	}
	return nil
}

// rootError is a failed inclusion proof in words, with hashes in base64 as
// checkpoints write them (the merkle package prints byte arrays).
type rootError struct{ calculated, signed []byte }

func (e rootError) Error() string {
	return fmt.Sprintf("the entry and its proof lead to root %s, the checkpoint signs root %s",
		base64.StdEncoding.EncodeToString(e.calculated), base64.StdEncoding.EncodeToString(e.signed))
}

// rootMismatch returns the words of a failed inclusion proof from
// verifyInclusion, without the checkpoint text.
func rootMismatch(err error) string {
	var re rootError
	if errors.As(err, &re) {
		return re.Error()
	}
	return err.Error()
}

// Consistency is a proof that a checkpoint extends an older tree of size
// OldSize. Its text form (Marshal) is the body of a C2SP tlog-witness
// add-checkpoint request: "old N", the RFC 6962 consistency proof hashes,
// an empty line, and the new signed checkpoint.
type Consistency struct {
	OldSize    uint64
	Hashes     [][]byte
	Checkpoint []byte // the newer signed checkpoint, verbatim
}

// Marshal returns the text form of c.
func (c Consistency) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("old " + strconv.FormatUint(c.OldSize, 10) + "\n")
	for _, h := range c.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(c.Checkpoint)
	return b.Bytes()
}

// ParseConsistency parses the text form of a consistency proof. It checks
// the syntax only. Errors wrap ErrMalformed.
func ParseConsistency(b []byte) (Consistency, error) {
	bad := func(format string, a ...any) (Consistency, error) {
		return Consistency{}, fmt.Errorf("%w: consistency proof: "+format, append([]any{ErrMalformed}, a...)...)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return bad("no empty line followed by a checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if !strings.HasPrefix(lines[0], "old ") {
		return bad("first line is not \"old <size>\"")
	}
	old, err := parseDecimal(strings.TrimPrefix(lines[0], "old "))
	if err != nil {
		return bad("old size: %v", err)
	}
	lines = lines[1:]
	if len(lines) > maxProofHashes {
		return bad("%d proof hashes, at most %d", len(lines), maxProofHashes)
	}
	c := Consistency{OldSize: old, Checkpoint: bytes.Clone(cp)}
	for _, l := range lines {
		h, err := parseHash(l)
		if err != nil {
			return bad("proof hash: %v", err)
		}
		c.Hashes = append(c.Hashes, h[:])
	}
	return c, nil
}

// emptyRoot is the RFC 6962 hash of the empty tree.
var emptyRoot = sha256.Sum256(nil)

// VerifyConsistency checks that newer is an append-only extension of older,
// two checkpoints already opened with OpenCheckpoint, using an RFC 6962
// consistency proof. Errors wrap ErrShrunk when newer is smaller, ErrFork
// (and ErrBadProof) when the trees conflict or the proof does not verify,
// and ErrMalformed when the origins differ.
func VerifyConsistency(older, newer Checkpoint, hashes [][]byte) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: checkpoints of different logs %q and %q", ErrMalformed, older.Origin, newer.Origin)
	}
	switch {
	case newer.Size < older.Size:
		return fmt.Errorf("%w: from %d to %d entries", ErrShrunk, older.Size, newer.Size)
	case newer.Size == older.Size:
		if newer.Hash != older.Hash || len(hashes) != 0 {
			return fmt.Errorf("%w: %w: two different trees of size %d: %s and %s", ErrFork, ErrBadProof, older.Size, older, newer)
		}
		return nil
	case older.Size == 0:
		if older.Hash != emptyRoot || len(hashes) != 0 {
			return fmt.Errorf("%w: %w: empty tree with hash %s", ErrFork, ErrBadProof, older)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, hashes, older.Hash[:], newer.Hash[:]); err != nil {
		return fmt.Errorf("%w: %w: %s is not a prefix of %s: %v", ErrFork, ErrBadProof, older, newer, err)
	}
	return nil
}

// treeHash is the RFC 6962 Merkle tree hash of a list of leaf hashes.
func treeHash(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return emptyRoot[:]
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return rfc6962.DefaultHasher.HashChildren(treeHash(leaves[:k]), treeHash(leaves[k:]))
}
