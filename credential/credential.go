// Package credential holds Charter's read credentials: an access key id
// and a secret that speak for a licensee's grants, so that tools which
// cannot sign Charter requests (S3 clients with AWS Signature V4, Hugging
// Face clients with a bearer token) read licensed content.
//
// A licensee gets a credential by a request it signs with its own key
// (RFC 9421, POST /v1/credentials). The credential is bound to the
// licensee, to the assets it names (none: every grant the licensee holds),
// and to an expiry. It never widens what the licensee may read: every
// request made with it is checked against the licensee's grants, quotas
// and their expiry, exactly as a request the licensee signs.
//
// Nothing secret is stored. The secret is derived: the first 20 bytes of
// HMAC-SHA256 under the server's credential key (derived from the
// server's identity key, which replicas share) of the credential's id,
// licensee, assets and expiry, hex encoded. A server recomputes it from
// the record to verify a request, so a dump of the catalog reveals no
// secret, replicas verify each other's credentials, and a record edited in
// the database (another licensee, more assets, a later expiry) no longer
// matches the secret its holder has.
//
// This package is the rule and the arithmetic, no I/O; the server keeps
// the records in its catalog (catalog.Credentials).
package credential

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/charter-dev/charter/identity"
)

// Bounds of what one licensee may hold and ask for.
const (
	// DefaultTTL is a credential's life when the request names none.
	DefaultTTL = 12 * time.Hour
	// MaxTTL is the longest life a credential may have.
	MaxTTL = 7 * 24 * time.Hour
	// MinTTL is the shortest life a credential may have.
	MinTTL = time.Minute
	// MaxLive is how many unexpired, unrevoked credentials one licensee
	// may hold at once.
	MaxLive = 32
	// MaxAssets is how many assets one credential may name.
	MaxAssets = 64
	// MaxRequestSize bounds the body of a credential request.
	MaxRequestSize = 16 << 10
)

// IDPrefix starts every access key id, so that a log reader (and a secret
// scanner) recognises one; the id has 20 characters, as AWS's do.
const IDPrefix = "CHK"

// idLen is the length of an access key id.
const idLen = 20

// TokenPrefix starts a credential written as one bearer token:
// "charter_<access key id>_<secret>".
const TokenPrefix = "charter_"

// secretLen is the length of a secret in hex characters (160 bits).
const secretLen = 40

// Credential is a read credential as the server records it: nothing in it
// is secret.
type Credential struct {
	// ID is the access key id.
	ID string
	// Licensee is the key the credential speaks for.
	Licensee identity.DID
	// Assets are the asset ids it is limited to, sorted; none means every
	// grant of the licensee.
	Assets []string
	// Created and Expires bound its life.
	Created, Expires time.Time
}

// Covers reports whether c may read under a grant on asset.
func (c *Credential) Covers(asset string) bool {
	return len(c.Assets) == 0 || slices.Contains(c.Assets, asset)
}

// ErrExpired reports a credential past its expiry.
var ErrExpired = errors.New("credential: expired")

// Check reports whether c may be used at now.
func (c *Credential) Check(now time.Time) error {
	if !now.Before(c.Expires) {
		return fmt.Errorf("%w at %s", ErrExpired, c.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// KeyFromSeed derives the server's credential key from the seed of its
// identity key: replicas sharing the identity key share it, and it is
// used for nothing else.
func KeyFromSeed(seed []byte) []byte {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte("charter credential key v1"))
	return m.Sum(nil)
}

// Secret returns c's secret under the server's credential key.
func Secret(key []byte, c *Credential) string {
	m := hmac.New(sha256.New, key)
	// Fields are joined with newlines; none of them can hold one.
	fmt.Fprintf(m, "charter credential v1\n%s\n%s\n%s\n%d\n", c.ID, c.Licensee, strings.Join(c.Assets, ","), c.Expires.Unix())
	return hex.EncodeToString(m.Sum(nil)[:secretLen/2])
}

// Equal reports whether a presented secret is c's, in constant time.
func Equal(key []byte, c *Credential, secret string) bool {
	return hmac.Equal([]byte(Secret(key, c)), []byte(secret))
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a fresh access key id read from rand (crypto/rand if nil).
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [11]byte // 85 bits, 17 base32 characters
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return IDPrefix + idEncoding.EncodeToString(b[:])[:idLen-len(IDPrefix)], nil
}

// ValidID reports whether s has the form of an access key id.
func ValidID(s string) bool {
	if len(s) != idLen || !strings.HasPrefix(s, IDPrefix) {
		return false
	}
	for _, c := range []byte(s[len(IDPrefix):]) {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Token writes a credential as one bearer token.
func Token(id, secret string) string { return TokenPrefix + id + "_" + secret }

// ParseToken splits a bearer token into access key id and secret.
func ParseToken(s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || !ValidID(id) || len(secret) != secretLen {
		return "", "", false
	}
	for _, c := range []byte(secret) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", "", false
		}
	}
	return id, secret, true
}

// Request is the body of a credential request, signed by the licensee.
type Request struct {
	// Assets limits the credential to grants on these assets; none means
	// every grant of the licensee.
	Assets []string `json:"assets,omitempty"`
	// TTL is the credential's life in seconds; 0 means DefaultTTL.
	TTL int64 `json:"ttl_seconds,omitempty"`
}

// ParseRequest reads and checks a credential request. Assets come back
// sorted without duplicates; each must parse with validAsset.
func ParseRequest(b []byte, validAsset func(string) error) (Request, time.Duration, error) {
	var q Request
	if len(b) > MaxRequestSize {
		return q, 0, fmt.Errorf("credential: request over %d bytes", MaxRequestSize)
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.DisallowUnknownFields()
		if err := d.Decode(&q); err != nil {
			return q, 0, fmt.Errorf("credential: malformed request: %w", err)
		}
		if d.More() {
			return q, 0, errors.New("credential: malformed request: data after the object")
		}
	}
	if len(q.Assets) > MaxAssets {
		return q, 0, fmt.Errorf("credential: %d assets named; at most %d", len(q.Assets), MaxAssets)
	}
	for _, a := range q.Assets {
		if err := validAsset(a); err != nil {
			return q, 0, fmt.Errorf("credential: asset %q: %w", a, err)
		}
	}
	slices.Sort(q.Assets)
	q.Assets = slices.Compact(q.Assets)
	ttl := DefaultTTL
	if q.TTL != 0 {
		if q.TTL < int64(MinTTL/time.Second) || q.TTL > int64(MaxTTL/time.Second) {
			return q, 0, fmt.Errorf("credential: ttl_seconds %d is outside %d..%d", q.TTL, int64(MinTTL/time.Second), int64(MaxTTL/time.Second))
		}
		ttl = time.Duration(q.TTL) * time.Second
	}
	return q, ttl, nil
}
