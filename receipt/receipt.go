// Package receipt defines Charter's receipt bundle, the object handed out
// for every logged statement, and verifies it offline: the signed statement
// (a DSSE envelope), its inclusion in the transparency log (a C2SP
// tlog-proof), and the checkpoint's signature by the log key. Verification
// does no I/O. See docs/spec/receipt-bundle.md.
package receipt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/identity"
)

// Format names the bundle format and its version.
const Format = "charter.receipt/v1"

// MaxBundleSize bounds a bundle accepted by Parse.
const MaxBundleSize = 1 << 20

// Errors.
var (
	// ErrMalformed reports a bundle that does not parse.
	ErrMalformed = errors.New("receipt: malformed bundle")
	// ErrUntrustedLog reports a bundle from a log other than the pinned one.
	ErrUntrustedLog = errors.New("receipt: bundle is from a log you did not pin")
	// ErrInvalid reports a bundle whose proofs or signatures do not check.
	ErrInvalid = errors.New("receipt: bundle does not verify")
)

// Bundle is a logged statement with everything needed to check it offline.
type Bundle struct {
	Format    string `json:"format"`
	LogKey    string `json:"log_key"` // note verifier key of the log
	Index     uint64 `json:"index"`
	EntryType string `json:"entry_type"`
	Entry     string `json:"entry"` // base64 of the encoded log entry
	Proof     string `json:"proof"` // C2SP tlog-proof text
}

// New makes a bundle from a log receipt.
func New(r auditlog.Receipt, logKey string) (Bundle, error) {
	e, err := auditlog.DecodeEntry(r.Entry)
	if err != nil {
		return Bundle{}, err
	}
	return Bundle{Format: Format, LogKey: logKey, Index: r.Index, EntryType: e.Type,
		Entry: base64.StdEncoding.EncodeToString(r.Entry), Proof: string(r.Proof)}, nil
}

// Parse decodes a bundle strictly.
func Parse(b []byte) (*Bundle, error) {
	if len(b) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var x Bundle
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if x.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, x.Format, Format)
	}
	return &x, nil
}

// Result is what a verified bundle proves.
type Result struct {
	Index      uint64
	EntryType  string
	Checkpoint auditlog.Checkpoint
	// Envelope is the signed statement and Signers the keys whose
	// signatures on it verified.
	Envelope    *identity.Envelope
	Signers     []identity.DID
	Payload     []byte
	PayloadType string
}

// Verify checks a bundle. If trustedLogKey is not empty the bundle must
// come from that log; otherwise the bundle's own key is used, which proves
// only consistency, not which log (say so to the user).
func Verify(b *Bundle, trustedLogKey string) (*Result, error) {
	key := b.LogKey
	if trustedLogKey != "" {
		if b.LogKey != trustedLogKey {
			return nil, fmt.Errorf("%w: bundle names %q", ErrUntrustedLog, b.LogKey)
		}
		key = trustedLogKey
	}
	entry, err := base64.StdEncoding.DecodeString(b.Entry)
	if err != nil {
		return nil, fmt.Errorf("%w: entry: %v", ErrMalformed, err)
	}
	idx, cp, err := auditlog.VerifyReceipt(entry, []byte(b.Proof), key)
	if err != nil {
		return nil, fmt.Errorf("%w: inclusion: %w", ErrInvalid, err)
	}
	if idx != b.Index {
		return nil, fmt.Errorf("%w: proof is for index %d, bundle says %d", ErrInvalid, idx, b.Index)
	}
	e, err := auditlog.DecodeEntry(entry)
	if err != nil {
		return nil, fmt.Errorf("%w: entry: %w", ErrInvalid, err)
	}
	if e.Type != b.EntryType {
		return nil, fmt.Errorf("%w: entry type %q, bundle says %q", ErrInvalid, e.Type, b.EntryType)
	}
	env, err := identity.ParseEnvelope(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: statement: %w", ErrInvalid, err)
	}
	signers, payload, err := identity.Verify(env, env.PayloadType)
	if err != nil {
		return nil, fmt.Errorf("%w: statement signature: %w", ErrInvalid, err)
	}
	return &Result{Index: idx, EntryType: e.Type, Checkpoint: cp, Envelope: env, Signers: signers, Payload: payload, PayloadType: env.PayloadType}, nil
}
