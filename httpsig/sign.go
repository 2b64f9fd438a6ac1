package httpsig

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/charter-dev/charter/identity"
)

// The Charter profile of RFC 9421.
const (
	// Label is the dictionary key of Charter's signature in Signature-Input
	// and Signature.
	Label = "charter"
	// Tag is the value of the "tag" signature parameter that marks a
	// signature as Charter's proof of possession (RFC 9421 section 2.3).
	Tag = "charter"
	// Algorithm is the only "alg" Charter signs and accepts.
	Algorithm = "ed25519"

	// DefaultExpiry is how long after its creation a signature made by Sign
	// stays valid unless WithExpiry says otherwise.
	DefaultExpiry = time.Minute

	nonceBytes   = 16
	minNonceLen  = 16
	maxNonceLen  = 128
	signatureLen = 64
)

// Field names.
const (
	SignatureInputHeader = "Signature-Input"
	SignatureHeader      = "Signature"
)

// RequiredComponents are the derived components every Charter signature
// covers, in the order Sign lists them. "content-digest" is covered too
// whenever the request has a body.
var RequiredComponents = []string{"@method", "@authority", "@path", "@query"}

type signConfig struct {
	expiry    time.Duration
	nonce     string
	headers   []string
	ifPresent []string
	noDigest  bool
}

// SignOption changes what Sign does.
type SignOption func(*signConfig)

// WithExpiry sets how long the signature stays valid after now (the
// "expires" parameter). A verifier also refuses signatures older than its
// MaxAge, whatever they say.
func WithExpiry(d time.Duration) SignOption { return func(c *signConfig) { c.expiry = d } }

// WithNonce sets the nonce instead of drawing 16 random bytes. It exists for
// test vectors and worked examples: a fixed nonce makes every request after
// the first a replay.
func WithNonce(nonce string) SignOption { return func(c *signConfig) { c.nonce = nonce } }

// WithBodyBoundElsewhere signs a request with a body without a
// Content-Digest, for a protocol that binds the body to another covered
// component: a Charter upload that declares the body's content id (a
// BLAKE3 digest of it) in the signed query, which the server checks
// before it keeps anything. It spares the client a SHA-256 pass over the
// body. The verifier must allow it (VerifyOptions.BodyBoundElsewhere).
func WithBodyBoundElsewhere() SignOption { return func(c *signConfig) { c.noDigest = true } }

// WithHeaders adds header fields to the covered components, after the
// required ones; each must be present in the request. Use it for headers
// whose value the server acts on, such as the one naming a grant.
func WithHeaders(names ...string) SignOption {
	return func(c *signConfig) {
		for _, n := range names {
			c.headers = append(c.headers, strings.ToLower(n))
		}
	}
}

// WithHeadersIfPresent adds header fields to the covered components when
// the request carries them, such as Range or a session id: fields that
// change what is served or billed and are sent only sometimes.
func WithHeadersIfPresent(names ...string) SignOption {
	return func(c *signConfig) {
		for _, n := range names {
			c.ifPresent = append(c.ifPresent, strings.ToLower(n))
		}
	}
}

// Sign signs req as key with an RFC 9421 HTTP Message Signature in Charter's
// profile and sets the Signature-Input and Signature fields (replacing any
// there). The signature covers "@method", "@authority", "@path", "@query",
// any WithHeaders fields, and "content-digest" when the request has a body;
// its parameters are created (now), expires, a random nonce, alg "ed25519",
// keyid (the key's did:key) and tag "charter".
//
// For a body, Sign sets Content-Digest (RFC 9530, sha-256) by reading a
// fresh copy from req.GetBody, which http.NewRequest provides for
// bytes.Buffer, bytes.Reader and strings.Reader bodies. If Content-Digest is
// already set, Sign covers it as it is: that is how to sign a streaming body
// (compute it with ContentDigest). Otherwise a body without GetBody is
// ErrBodyNotReplayable.
func Sign(req *http.Request, key *identity.Key, now time.Time, opts ...SignOption) error {
	cfg := signConfig{expiry: DefaultExpiry}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.expiry <= 0 {
		return fmt.Errorf("httpsig: expiry %v is not positive", cfg.expiry)
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	if cfg.nonce == "" {
		var b [nonceBytes]byte
		rand.Read(b[:])
		cfg.nonce = base64.StdEncoding.EncodeToString(b[:])
	}
	covered := make([]item, 0, len(RequiredComponents)+len(cfg.headers)+1)
	for _, c := range RequiredComponents {
		covered = append(covered, item{val: bareItem{kind: kindString, s: c}})
	}
	for _, h := range cfg.headers {
		covered = append(covered, item{val: bareItem{kind: kindString, s: h}})
	}
	for _, h := range cfg.ifPresent {
		if len(req.Header.Values(h)) > 0 && !slices.Contains(cfg.headers, h) {
			covered = append(covered, item{val: bareItem{kind: kindString, s: h}})
		}
	}
	if cfg.noDigest && req.Header.Get(ContentDigestHeader) == "" {
		// The body is bound by another covered component.
	} else if hasBody(req) || req.Header.Get(ContentDigestHeader) != "" {
		if err := setContentDigest(req); err != nil {
			return err
		}
		covered = append(covered, item{val: bareItem{kind: kindString, s: "content-digest"}})
	}
	created := now.Unix()
	ps := params{
		{key: "created", val: bareItem{kind: kindInteger, i: created}},
		{key: "expires", val: bareItem{kind: kindInteger, i: created + int64((cfg.expiry+time.Second-1)/time.Second)}},
		{key: "nonce", val: bareItem{kind: kindString, s: cfg.nonce}},
		{key: "alg", val: bareItem{kind: kindString, s: Algorithm}},
		{key: "keyid", val: bareItem{kind: kindString, s: key.DID().String()}},
		{key: "tag", val: bareItem{kind: kindString, s: Tag}},
	}
	msg, err := clientMessage(req)
	if err != nil {
		return err
	}
	base, err := msg.signatureBase(covered, ps)
	if err != nil {
		return err
	}
	sig, err := key.Signer().Sign(nil, base, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("httpsig: signing: %w", err)
	}
	input := dictionary{{key: Label, isList: true, list: covered, params: ps}}
	signature := dictionary{{key: Label, item: item{val: bareItem{kind: kindBytes, b: sig}}}}
	req.Header.Set(SignatureInputHeader, input.String())
	req.Header.Set(SignatureHeader, signature.String())
	return nil
}

// hasBody reports whether an outgoing request will send a body.
func hasBody(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

func setContentDigest(req *http.Request) error {
	if req.Header.Get(ContentDigestHeader) != "" {
		return nil
	}
	if req.GetBody == nil {
		return fmt.Errorf("%w\nhint: set the Content-Digest header (httpsig.ContentDigest) before signing, or give the request a GetBody", ErrBodyNotReplayable)
	}
	body, err := req.GetBody()
	if err != nil {
		return fmt.Errorf("httpsig: getting a copy of the body: %w", err)
	}
	defer body.Close()
	d, err := ContentDigest(body)
	if err != nil {
		return err
	}
	req.Header.Set(ContentDigestHeader, d)
	return nil
}

// Transport is an http.RoundTripper that signs every request with Key
// before handing it to Base. It does not modify the caller's request: it
// signs a clone.
type Transport struct {
	Key     *identity.Key
	Base    http.RoundTripper // http.DefaultTransport if nil
	Now     func() time.Time  // time.Now if nil
	Options []SignOption
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	if err := Sign(r, t.Key, now(), t.Options...); err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on errors.
		}
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
