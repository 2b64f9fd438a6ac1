package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/internal/strictjson"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// MaxEnvelopeSize is the largest envelope, in bytes of JSON (or, for Verify,
// of payload type, base64 payload and signatures), that ParseEnvelope and
// Verify accept.
const MaxEnvelopeSize = 1 << 20

// MaxSignatures is the most signatures an envelope may carry.
const MaxSignatures = 64

var (
	// ErrBadEnvelope reports an envelope that is not well-formed DSSE JSON:
	// bad JSON, unknown or duplicate fields, bad base64, missing fields.
	ErrBadEnvelope = errors.New("identity: malformed DSSE envelope")
	// ErrEnvelopeTooLarge reports an envelope over MaxEnvelopeSize or with
	// more than MaxSignatures signatures.
	ErrEnvelopeTooLarge = errors.New("identity: DSSE envelope too large")
	// ErrWrongPayloadType reports an envelope of another payload type than
	// the caller expected.
	ErrWrongPayloadType = errors.New("identity: wrong DSSE payload type")
	// ErrNoSignature reports an envelope without signatures.
	ErrNoSignature = errors.New("identity: DSSE envelope has no signature")
	// ErrUnknownKey reports a signature whose key id is not an Ed25519
	// did:key, so no key is known to check it with.
	ErrUnknownKey = errors.New("identity: signature key id is not an Ed25519 did:key")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("identity: signature does not verify")
	// ErrDuplicateSignature reports two signatures by the same key.
	ErrDuplicateSignature = errors.New("identity: two signatures by the same key")
)

const payloadTypePrefix, payloadTypeSuffix = "application/vnd.charter.", "+json"

// PayloadType returns the DSSE payload type of a Charter statement kind,
// "application/vnd.charter.<kind>+json".
func PayloadType(kind string) string { return payloadTypePrefix + kind + payloadTypeSuffix }

// Kind returns the statement kind of a Charter payload type, and false if
// payloadType is not of the form PayloadType returns.
func Kind(payloadType string) (string, bool) {
	k, ok := strings.CutPrefix(payloadType, payloadTypePrefix)
	if !ok {
		return "", false
	}
	k, ok = strings.CutSuffix(k, payloadTypeSuffix)
	if !ok || k == "" {
		return "", false
	}
	return k, true
}

// Envelope is a DSSE envelope (https://github.com/secure-systems-lab/dsse),
// in the JSON shape of the DSSE specification. Payload and signatures are
// standard base64 with padding.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature. KeyID is the signer's did:key.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// pae returns the DSSE pre-authentication encoding that is signed. It is
// the go-securesystemslib implementation of the DSSE protocol's PAE.
func pae(payloadType string, payload []byte) []byte { return dsse.PAE(payloadType, payload) }

// Sign returns an envelope of payload signed by every key, in order.
func Sign(payloadType string, payload []byte, keys ...*Key) (*Envelope, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no signing key given", ErrNoSignature)
	}
	if payloadType == "" {
		return nil, fmt.Errorf("%w: empty payload type", ErrBadEnvelope)
	}
	env := &Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload)}
	msg := pae(payloadType, payload)
	for _, k := range keys {
		if err := env.addSignature(k, msg); err != nil {
			return nil, err
		}
	}
	if n := env.size(); n > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrEnvelopeTooLarge, n, MaxEnvelopeSize)
	}
	return env, nil
}

// AddSignature signs env with k, as one more signer of the same payload. It
// does not check the signatures already present.
func (env *Envelope) AddSignature(k *Key) error {
	payload, err := decodeB64(env.Payload)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", ErrBadEnvelope, err)
	}
	return env.addSignature(k, pae(env.PayloadType, payload))
}

func (env *Envelope) addSignature(k *Key, msg []byte) error {
	id := k.DID().String()
	for _, s := range env.Signatures {
		if s.KeyID == id {
			return fmt.Errorf("%w: %s", ErrDuplicateSignature, id)
		}
	}
	if len(env.Signatures) >= MaxSignatures {
		return fmt.Errorf("%w: more than %d signatures", ErrEnvelopeTooLarge, MaxSignatures)
	}
	env.Signatures = append(env.Signatures, Signature{KeyID: id, Sig: base64.StdEncoding.EncodeToString(k.sign(msg))})
	return nil
}

// size approximates the envelope's JSON size from its variable parts.
func (env *Envelope) size() int {
	n := len(env.PayloadType) + len(env.Payload)
	for _, s := range env.Signatures {
		n += len(s.KeyID) + len(s.Sig)
	}
	return n
}

// Verify checks every signature of env and returns the distinct signers, in
// envelope order, and the decoded payload. The envelope is refused as a
// whole if its payload type is not payloadType, if it is too large, if any
// base64 is malformed, if any key id is not an Ed25519 did:key, if two
// signatures name the same key, or if any signature fails to verify. Which
// signers are enough is the caller's rule (an owner threshold, a server key).
func Verify(env *Envelope, payloadType string) ([]DID, []byte, error) {
	if env == nil {
		return nil, nil, fmt.Errorf("%w: nil envelope", ErrBadEnvelope)
	}
	if env.PayloadType != payloadType {
		return nil, nil, fmt.Errorf("%w: got %q, want %q", ErrWrongPayloadType, env.PayloadType, payloadType)
	}
	if n := env.size(); n > MaxEnvelopeSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrEnvelopeTooLarge, n, MaxEnvelopeSize)
	}
	if len(env.Signatures) == 0 {
		return nil, nil, ErrNoSignature
	}
	if len(env.Signatures) > MaxSignatures {
		return nil, nil, fmt.Errorf("%w: %d signatures, limit %d", ErrEnvelopeTooLarge, len(env.Signatures), MaxSignatures)
	}
	payload, err := decodeB64(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrBadEnvelope, err)
	}
	msg := pae(env.PayloadType, payload)
	signers := make([]DID, 0, len(env.Signatures))
	for i, s := range env.Signatures {
		did, err := ParseDID(s.KeyID)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: signature %d: %v", ErrUnknownKey, i, err)
		}
		for _, d := range signers {
			if d == did {
				return nil, nil, fmt.Errorf("%w: %s", ErrDuplicateSignature, did)
			}
		}
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: signature %d: %v", ErrBadEnvelope, i, err)
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(did.pub[:]), msg, sig) {
			return nil, nil, fmt.Errorf("%w: signature %d by %s", ErrBadSignature, i, did)
		}
		signers = append(signers, did)
	}
	return signers, payload, nil
}

// decodeB64 accepts standard or URL-safe base64 with padding, as the DSSE
// specification allows, and nothing looser (no line breaks, no stray bits).
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("bad base64: line breaks")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		b, err = base64.URLEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, errors.New("bad base64")
		}
	}
	return b, nil
}

// ParseEnvelope parses a DSSE envelope from JSON. It is strict: unknown,
// duplicate or wrongly cased fields, trailing data, a missing payload type,
// payload or signature, malformed base64 and envelopes over MaxEnvelopeSize
// are refused. It does not verify signatures; call Verify.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrEnvelopeTooLarge, len(b), MaxEnvelopeSize)
	}
	var raw struct {
		PayloadType *string `json:"payloadType"`
		Payload     *string `json:"payload"`
		Signatures  []struct {
			KeyID *string `json:"keyid"`
			Sig   *string `json:"sig"`
		} `json:"signatures"`
	}
	if err := strictjson.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if raw.PayloadType == nil || *raw.PayloadType == "" {
		return nil, fmt.Errorf("%w: missing payloadType", ErrBadEnvelope)
	}
	if raw.Payload == nil {
		return nil, fmt.Errorf("%w: missing payload", ErrBadEnvelope)
	}
	if _, err := decodeB64(*raw.Payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrBadEnvelope, err)
	}
	if len(raw.Signatures) == 0 {
		return nil, ErrNoSignature
	}
	if len(raw.Signatures) > MaxSignatures {
		return nil, fmt.Errorf("%w: %d signatures, limit %d", ErrEnvelopeTooLarge, len(raw.Signatures), MaxSignatures)
	}
	env := &Envelope{PayloadType: *raw.PayloadType, Payload: *raw.Payload}
	for i, s := range raw.Signatures {
		if s.KeyID == nil || s.Sig == nil {
			return nil, fmt.Errorf("%w: signature %d: missing keyid or sig", ErrBadEnvelope, i)
		}
		if _, err := decodeB64(*s.Sig); err != nil {
			return nil, fmt.Errorf("%w: signature %d: %v", ErrBadEnvelope, i, err)
		}
		env.Signatures = append(env.Signatures, Signature{KeyID: *s.KeyID, Sig: *s.Sig})
	}
	return env, nil
}

// UnmarshalJSON parses with ParseEnvelope's strict rules, so an envelope
// embedded in other JSON is held to the same standard.
func (env *Envelope) UnmarshalJSON(b []byte) error {
	p, err := ParseEnvelope(b)
	if err != nil {
		return err
	}
	*env = *p
	return nil
}

// Marshal returns the envelope as compact JSON with fields in the order
// payloadType, payload, signatures.
func (env *Envelope) Marshal() ([]byte, error) { return json.Marshal(env) }
