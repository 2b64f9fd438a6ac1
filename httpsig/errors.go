package httpsig

import "errors"

// Errors returned by Sign and Verify, matched with errors.Is. A server maps
// every Verify error but ErrNonceStoreFull to 401 Unauthorized (with a
// problem+json body saying which one); ErrNonceStoreFull is a 503.
var (
	// ErrMissingSignature: the request has no Signature-Input or Signature
	// field, or no signature tagged "charter".
	ErrMissingSignature = errors.New("httpsig: request is not signed")
	// ErrMalformed: a signature field, its parameters or Content-Digest do
	// not parse, or break Charter's profile (algorithm, key id, nonce ...).
	ErrMalformed = errors.New("httpsig: malformed signature")
	// ErrMissingComponent: the signature does not cover a component Charter
	// requires, or covers a header the request lacks.
	ErrMissingComponent = errors.New("httpsig: signature does not cover a required component")
	// ErrBadSignature: the Ed25519 signature does not verify with the key
	// named by keyid over the rebuilt signature base.
	ErrBadSignature = errors.New("httpsig: signature does not verify")
	// ErrExpired: the signature's expires time has passed or it is older
	// than the verifier's maximum age.
	ErrExpired = errors.New("httpsig: signature expired")
	// ErrNotYetValid: the signature was created in the future, beyond the
	// allowed clock skew.
	ErrNotYetValid = errors.New("httpsig: signature created in the future")
	// ErrReplay: a signature with this key id and nonce was accepted before.
	ErrReplay = errors.New("httpsig: replayed signature")
	// ErrDigestMismatch: the body does not match its Content-Digest.
	ErrDigestMismatch = errors.New("httpsig: body does not match Content-Digest")
	// ErrBodyTooLarge: Verify would have to buffer more than
	// VerifyOptions.MaxBodyBytes to check the body's digest.
	ErrBodyTooLarge = errors.New("httpsig: body too large to verify in memory")
	// ErrNonceStoreFull: the nonce store cannot take another nonce of this
	// key id now (each key has its own bound).
	ErrNonceStoreFull = errors.New("httpsig: nonce store full")
	// ErrBodyNotReplayable: Sign cannot read the body to digest it without
	// consuming it (no GetBody) and no Content-Digest was set.
	ErrBodyNotReplayable = errors.New("httpsig: cannot digest a body that can be read only once")
)
