// Package auditlog is Charter's transparency log: an append-only Merkle log of
// typed entries, each carrying a signed statement (a DSSE envelope) verbatim,
// so that everything Charter knows can be rebuilt from the log alone.
//
// The log is stored by tessera's POSIX driver in the C2SP tlog-tiles layout
// (Open), or by its MySQL driver in a MySQL or MariaDB database (OpenMySQL;
// OpenURL picks either from a location), checkpoints are C2SP tlog-checkpoint signed notes (Ed25519), inclusion
// receipts are C2SP tlog-proof files and consistency proofs use the body of
// the C2SP tlog-witness add-checkpoint request.
//
// The package has a pure core that does no I/O and trusts nothing it is given:
//
//   - EncodeEntry / DecodeEntry: the entry format (docs/spec/log-entry.md);
//   - OpenCheckpoint: a signed checkpoint (docs/spec/checkpoint.md);
//   - VerifyReceipt, ParseProof: inclusion receipts (docs/spec/receipt.md);
//   - VerifyConsistency, ParseConsistency: append-only proofs between two
//     checkpoints.
//
// and an edge that does: Log (append, prove, read, audit, serve over HTTP),
// Witness (a client's memory of the last checkpoint it verified) and the key
// file helpers. Everything Log reads back from disk is checked against a
// checkpoint it has verified itself; tampered tiles and entry bundles are
// reported as ErrTampered.
package auditlog

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Sentinel errors. Match them with errors.Is; the wrapping error says more.
var (
	// ErrTooLarge: an entry exceeds MaxEntrySize once encoded.
	ErrTooLarge = errors.New("auditlog: entry too large")
	// ErrBadType: an entry type does not match the type grammar.
	ErrBadType = errors.New("auditlog: invalid entry type")
	// ErrMalformed: bytes that should be an entry, checkpoint, receipt or
	// proof do not parse.
	ErrMalformed = errors.New("auditlog: malformed input")
	// ErrBadSignature: a checkpoint is not signed by the expected log key.
	ErrBadSignature = errors.New("auditlog: checkpoint signature does not verify")
	// ErrBadProof: an inclusion or consistency proof does not verify.
	ErrBadProof = errors.New("auditlog: proof does not verify")
	// ErrTampered: data read back from the log's storage does not match the
	// signed tree; the storage was modified behind the log's back.
	ErrTampered = errors.New("auditlog: log storage tampered")
	// ErrNotFound: the index is beyond the latest checkpoint.
	ErrNotFound = errors.New("auditlog: no such entry")
	// ErrFork: a checkpoint conflicts with one seen before (same size and a
	// different root, or no valid consistency proof).
	ErrFork = errors.New("auditlog: log forked")
	// ErrShrunk: a checkpoint is smaller than one seen before.
	ErrShrunk = errors.New("auditlog: log shrank")
	// ErrKey: a key file or key string is unusable.
	ErrKey = errors.New("auditlog: bad log key")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("auditlog: log closed")
)

// TamperedError locates data in the log's storage that disagrees with the
// signed checkpoint. It matches ErrTampered (errors.Is); errors.As gives
// the file and entry so that a caller can tell an operator which file was
// changed.
type TamperedError struct {
	// File is the resource inside the log folder, in the C2SP tlog-tiles
	// layout ("checkpoint", "tile/entries/000.p/1", "tile/0/000"), or ""
	// when no single file is to blame.
	File string
	// Entry is the first log entry affected, or -1 when none is known.
	Entry int64
	// Problem says what is wrong with File or Entry, as a predicate:
	// "does not match the signed checkpoint: ...", "is missing, ...".
	Problem string

	cause error // the error behind Problem, if any (e.g. ErrBadSignature)
}

func (e *TamperedError) Error() string {
	return ErrTampered.Error() + ": " + e.Subject("") + " " + e.Problem
}

// Subject names what is wrong: "entry 3 in FILE", "entry 3", "FILE" or
// "the log's storage", with FILE under logDir (as it is when logDir is "").
func (e *TamperedError) Subject(logDir string) string {
	file := e.File
	if logDir != "" && file != "" {
		file = filepath.Join(logDir, filepath.FromSlash(file))
	}
	switch {
	case e.Entry >= 0 && file != "":
		return fmt.Sprintf("entry %d in %s", e.Entry, file)
	case e.Entry >= 0:
		return fmt.Sprintf("entry %d", e.Entry)
	case file != "":
		return file
	}
	return "the log's storage"
}

// Unwrap returns ErrTampered and the underlying cause, if any.
func (e *TamperedError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrTampered, e.cause}
	}
	return []error{ErrTampered}
}

// tampered returns a *TamperedError.
func tampered(file string, entry int64, format string, args ...any) error {
	return &TamperedError{File: file, Entry: entry, Problem: fmt.Sprintf(format, args...)}
}
