package identity

import (
	"errors"
	"fmt"

	"github.com/charter-dev/charter/internal/canonjson"
)

// Format is one kind of signed statement: its DSSE payload type, the
// largest payload it accepts and the errors that report a bad payload.
// Packages that define statements (asset, grant, metering) declare one
// Format per kind and sign, open and parse through it, so every statement
// is encoded (RFC 8785, package canonjson), signed, verified and strictly
// decoded in one way. Who must have signed is the caller's rule.
type Format struct {
	// Kind names the statement; its payload type is PayloadType(Kind).
	Kind string
	// MaxSize bounds the payload in bytes; 0 means MaxEnvelopeSize.
	MaxSize int
	// Malformed is wrapped around the error of a payload that is too
	// large or is not strict JSON of the statement's shape.
	Malformed error
	// NotCanonical is wrapped around the error of a payload that decodes
	// but is not the canonical form of what it decodes to. Malformed is
	// used when it is nil.
	NotCanonical error
}

// PayloadType returns the DSSE payload type of the format's statements.
func (f Format) PayloadType() string { return PayloadType(f.Kind) }

// Encode returns the canonical payload of statement v: v.Canonical() if v
// has that method (statements that normalise themselves first), else
// canonjson.Marshal(v).
func (f Format) Encode(v any) ([]byte, error) {
	if c, ok := v.(canonjson.Canonicaler); ok {
		return c.Canonical()
	}
	return canonjson.Marshal(v)
}

// Sign encodes statement v and signs it with keys, in order. It does not
// validate v or bound its size; callers validate before they sign, and
// Parse refuses what is too large.
func (f Format) Sign(v any, keys ...*Key) (*Envelope, error) {
	b, err := f.Encode(v)
	if err != nil {
		return nil, err
	}
	return Sign(f.PayloadType(), b, keys...)
}

// Parse decodes payload strictly into v (no unknown, duplicate or
// wrongly cased members, no trailing data) and checks that it is exactly
// the canonical encoding of the result.
func (f Format) Parse(payload []byte, v any) error {
	if n := f.max(); len(payload) > n {
		return fmt.Errorf("%w: %d bytes, limit %d", f.Malformed, len(payload), n)
	}
	err := canonjson.Unmarshal(payload, v)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, canonjson.ErrNotCanonical) && f.NotCanonical != nil:
		return fmt.Errorf("%w: %w", f.NotCanonical, err)
	default:
		return fmt.Errorf("%w: %w", f.Malformed, err)
	}
}

// Open verifies env as a statement of this format (Verify's rules) and
// parses its payload into v (Parse's rules). It returns the distinct
// signers and the payload, whose content id is the statement's id.
func (f Format) Open(env *Envelope, v any) ([]DID, []byte, error) {
	signers, payload, err := Verify(env, f.PayloadType())
	if err != nil {
		return nil, nil, err
	}
	if err := f.Parse(payload, v); err != nil {
		return nil, nil, err
	}
	return signers, payload, nil
}

func (f Format) max() int {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return MaxEnvelopeSize
}
