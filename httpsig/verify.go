package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/charter-dev/charter/identity"
)

// Defaults for VerifyOptions fields left zero.
const (
	DefaultMaxAge       = 5 * time.Minute
	DefaultSkew         = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20
)

// VerifyOptions says what Verify accepts. Nonces is required; the zero value
// of every other field picks the default.
type VerifyOptions struct {
	// Nonces remembers accepted nonces; a request whose (keyid, nonce) it
	// has seen is refused with ErrReplay.
	Nonces NonceStore
	// MaxAge is how long after its creation a signature is accepted, whatever
	// its expires parameter says (DefaultMaxAge).
	MaxAge time.Duration
	// Skew is the clock difference tolerated between signer and verifier
	// (DefaultSkew).
	Skew time.Duration
	// RequiredHeaders are header fields (lower case) the signature must
	// cover besides RequiredComponents.
	RequiredHeaders []string
	// CoveredIfPresent are header fields (lower case) the signature must
	// cover whenever the request carries them, such as Range: a header
	// that changes what is served or billed and that a client sends only
	// sometimes. A request carrying one the signature leaves out is
	// refused with ErrMissingComponent.
	CoveredIfPresent []string
	// Authorize, when set, is called with the verified signer after the
	// signature and body checks and before the nonce is recorded; an error
	// it returns is returned by Verify as is and records nothing. Use it to
	// check that the signer may make the request at all (holds a grant, owns
	// the session), so that a key with no standing never consumes nonce
	// space.
	Authorize func(signer identity.DID) error
	// Authority and Scheme, when set, are used for "@authority" and
	// "@scheme" instead of the Host header and the connection's TLS state:
	// set them to the server's public name behind a proxy.
	Authority, Scheme string
	// MaxBodyBytes bounds the body Verify reads into memory to check its
	// Content-Digest (DefaultMaxBodyBytes); a larger body is ErrBodyTooLarge.
	MaxBodyBytes int64
	// BodyBoundElsewhere lets a request with a body go without a
	// covered Content-Digest: the caller binds the body to the signature
	// through another covered component (Charter's upload declares the
	// body's content id in the signed @query and keeps nothing that does
	// not hash to it). A Content-Digest that is present is still checked.
	BodyBoundElsewhere bool
	// StreamBody makes Verify leave the body unread: it replaces req.Body
	// with a reader that hashes it as the handler reads and returns
	// ErrDigestMismatch instead of io.EOF if it does not match. The handler
	// must then treat a read error as a refusal and must not act on the
	// body before reading it to the end.
	StreamBody bool
}

// Verify checks the Charter signature of a received request and returns the
// signer's DID. It finds the Signature-Input member tagged "charter",
// checks its parameters (created, expires, nonce, alg "ed25519", keyid a
// did:key, tag), the time window (created no later than now+Skew, expires
// no earlier than now-Skew, age at most MaxAge), that the covered components
// include RequiredComponents, RequiredHeaders and, when the request has a
// body, "content-digest"; then rebuilds the signature base (RFC 9421
// section 2.5), verifies the Ed25519 signature with the key inside keyid,
// checks the body against Content-Digest, and last records the nonce,
// refusing a replay. The errors wrap the package's sentinels.
//
// Verify reads req.Body (up to MaxBodyBytes) and replaces it with the bytes
// read, unless StreamBody is set. Call it before anything rewrites
// req.Header.
func Verify(req *http.Request, now time.Time, opts VerifyOptions) (identity.DID, error) {
	if opts.Nonces == nil {
		return identity.DID{}, errors.New("httpsig: VerifyOptions.Nonces is nil")
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Skew <= 0 {
		opts.Skew = DefaultSkew
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	sig, err := parseSignatureHeaders(req.Header)
	if err != nil {
		return identity.DID{}, err
	}
	// Time window.
	created := time.Unix(sig.created, 0)
	expires := time.Unix(sig.expires, 0)
	if created.After(now.Add(opts.Skew)) {
		return identity.DID{}, fmt.Errorf("%w: created %s, now %s\nhint: check the client's clock", ErrNotYetValid, created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(expires.Add(opts.Skew)) {
		return identity.DID{}, fmt.Errorf("%w: expired at %s, now %s\nhint: sign each request just before sending it", ErrExpired, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.Sub(created) > opts.MaxAge {
		return identity.DID{}, fmt.Errorf("%w: created %s, older than %v\nhint: sign each request just before sending it", ErrExpired, created.UTC().Format(time.RFC3339), opts.MaxAge)
	}
	// Required coverage.
	body := req.ContentLength != 0 // -1: unknown length, so a body
	for _, name := range RequiredComponents {
		if !sig.covers(name) {
			return identity.DID{}, fmt.Errorf("%w: %q", ErrMissingComponent, name)
		}
	}
	for _, name := range opts.RequiredHeaders {
		if !sig.covers(strings.ToLower(name)) {
			return identity.DID{}, fmt.Errorf("%w: %q", ErrMissingComponent, strings.ToLower(name))
		}
	}
	for _, name := range opts.CoveredIfPresent {
		name = strings.ToLower(name)
		if len(req.Header.Values(name)) > 0 && !sig.covers(name) {
			return identity.DID{}, fmt.Errorf("%w: the request has a %s field the signature does not cover\nhint: sign %q too", ErrMissingComponent, name, name)
		}
	}
	coversDigest := sig.covers("content-digest")
	if body && !coversDigest && !opts.BodyBoundElsewhere {
		return identity.DID{}, fmt.Errorf("%w: the request has a body but \"content-digest\" is not covered", ErrMissingComponent)
	}
	// Signature.
	msg, err := serverMessage(req, opts.Scheme, opts.Authority)
	if err != nil {
		return identity.DID{}, err
	}
	base, err := msg.signatureBase(sig.covered, sig.params)
	if err != nil {
		return identity.DID{}, err
	}
	if !ed25519.Verify(sig.signer.PublicKey(), base, sig.signature) {
		return identity.DID{}, fmt.Errorf("%w: keyid %s", ErrBadSignature, sig.signer)
	}
	// Body.
	if coversDigest {
		dc, err := parseContentDigest(strings.Join(req.Header.Values(ContentDigestHeader), ", "))
		if err != nil {
			return identity.DID{}, err
		}
		if err := checkBody(req, dc, opts); err != nil {
			return identity.DID{}, err
		}
	}
	if opts.Authorize != nil {
		if err := opts.Authorize(sig.signer); err != nil {
			return identity.DID{}, err
		}
	}
	// Replay.
	until := created.Add(opts.MaxAge)
	if e := expires.Add(opts.Skew); e.Before(until) {
		until = e
	}
	seen, err := opts.Nonces.Seen(req.Context(), sig.signer.String(), sig.nonce, until)
	if err != nil {
		return identity.DID{}, fmt.Errorf("httpsig: nonce store: %w", err)
	}
	if seen {
		return identity.DID{}, fmt.Errorf("%w: nonce %q of %s was used before", ErrReplay, sig.nonce, sig.signer)
	}
	return sig.signer, nil
}

func checkBody(req *http.Request, dc *digestCheck, opts VerifyOptions) error {
	if req.Body == nil || req.Body == http.NoBody {
		return dc.check()
	}
	if opts.StreamBody {
		req.Body = &digestReader{r: req.Body, dc: dc}
		return nil
	}
	if req.ContentLength > opts.MaxBodyBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, req.ContentLength, opts.MaxBodyBytes)
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, opts.MaxBodyBytes+1))
	req.Body.Close()
	if err != nil {
		return fmt.Errorf("httpsig: reading body: %w", err)
	}
	if int64(len(b)) > opts.MaxBodyBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, opts.MaxBodyBytes)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	dc.Write(b)
	return dc.check()
}

// signature is a parsed Charter signature: its covered components, its
// parameters (kept in their order for the signature base) and the
// parameters Charter requires, checked.
type signature struct {
	covered   []item
	params    params
	created   int64
	expires   int64
	nonce     string
	signer    identity.DID
	signature []byte
}

func (s *signature) covers(name string) bool {
	for _, c := range s.covered {
		if c.val.s == name && len(c.params) == 0 {
			return true
		}
	}
	return false
}

// parseSignatureHeaders parses Signature-Input and Signature, picks the
// signature tagged "charter" and checks its parameters against Charter's
// profile. Several field lines of one field are joined as RFC 9110 says.
func parseSignatureHeaders(h http.Header) (*signature, error) {
	inputs, sigs := h.Values(SignatureInputHeader), h.Values(SignatureHeader)
	if len(inputs) == 0 || len(sigs) == 0 {
		return nil, fmt.Errorf("%w: no %s and %s fields\nhint: sign the request with the licensee key (RFC 9421, see docs/spec/http-signatures.md)", ErrMissingSignature, SignatureInputHeader, SignatureHeader)
	}
	return parseSignatureFields(strings.Join(inputs, ", "), strings.Join(sigs, ", "))
}

func parseSignatureFields(input, sigField string) (*signature, error) {
	in, err := parseDictionary(input)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, SignatureInputHeader, err)
	}
	var chosen *member
	for i := range in {
		m := &in[i]
		if !m.isList {
			continue
		}
		if t, ok := m.params.get("tag"); !ok || t.kind != kindString || t.s != Tag {
			continue
		}
		if chosen != nil {
			return nil, fmt.Errorf("%w: more than one signature tagged %q", ErrMalformed, Tag)
		}
		chosen = m
	}
	if chosen == nil {
		return nil, fmt.Errorf("%w: no signature tagged %q", ErrMissingSignature, Tag)
	}
	sd, err := parseDictionary(sigField)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, SignatureHeader, err)
	}
	sm, ok := sd.get(chosen.key)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no member %q", ErrMalformed, SignatureHeader, chosen.key)
	}
	if sm.isList || sm.item.val.kind != kindBytes || len(sm.item.params) != 0 {
		return nil, fmt.Errorf("%w: %s member %q is not a byte sequence", ErrMalformed, SignatureHeader, chosen.key)
	}
	if len(sm.item.val.b) != signatureLen {
		return nil, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(sm.item.val.b), signatureLen)
	}
	s := &signature{covered: chosen.list, params: chosen.params, signature: sm.item.val.b}
	var have struct{ created, expires, nonce, alg, keyid bool }
	for _, p := range chosen.params {
		v := p.val
		switch p.key {
		case "created", "expires":
			if v.kind != kindInteger || v.i < 0 {
				return nil, fmt.Errorf("%w: %s is not a non-negative integer", ErrMalformed, p.key)
			}
			if p.key == "created" {
				s.created, have.created = v.i, true
			} else {
				s.expires, have.expires = v.i, true
			}
		case "nonce":
			if v.kind != kindString || len(v.s) < minNonceLen || len(v.s) > maxNonceLen {
				return nil, fmt.Errorf("%w: nonce must be a string of %d to %d characters", ErrMalformed, minNonceLen, maxNonceLen)
			}
			s.nonce, have.nonce = v.s, true
		case "alg":
			if v.kind != kindString || v.s != Algorithm {
				return nil, fmt.Errorf("%w: alg must be %q", ErrMalformed, Algorithm)
			}
			have.alg = true
		case "keyid":
			if v.kind != kindString {
				return nil, fmt.Errorf("%w: keyid is not a string", ErrMalformed)
			}
			d, err := identity.ParseDID(v.s)
			if err != nil {
				return nil, fmt.Errorf("%w: keyid: %w", ErrMalformed, err)
			}
			s.signer, have.keyid = d, true
		case "tag":
		default:
			return nil, fmt.Errorf("%w: unknown signature parameter %q", ErrMalformed, p.key)
		}
	}
	switch {
	case !have.created:
		return nil, fmt.Errorf("%w: no created parameter", ErrMalformed)
	case !have.expires:
		return nil, fmt.Errorf("%w: no expires parameter", ErrMalformed)
	case !have.nonce:
		return nil, fmt.Errorf("%w: no nonce parameter", ErrMalformed)
	case !have.alg:
		return nil, fmt.Errorf("%w: no alg parameter", ErrMalformed)
	case !have.keyid:
		return nil, fmt.Errorf("%w: no keyid parameter", ErrMalformed)
	case s.expires <= s.created:
		return nil, fmt.Errorf("%w: expires is not after created", ErrMalformed)
	}
	for _, c := range s.covered {
		if c.val.kind != kindString {
			return nil, fmt.Errorf("%w: a covered component is not a string", ErrMalformed)
		}
	}
	return s, nil
}
