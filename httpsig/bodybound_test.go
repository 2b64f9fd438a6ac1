package httpsig

import (
	"errors"
	"strings"
	"testing"
)

// TestBodyBoundElsewhere: a body signed without a Content-Digest is
// refused unless the verifier says the body is bound another way, and a
// Content-Digest that is present is still checked.
func TestBodyBoundElsewhere(t *testing.T) {
	k := seedKey(t, 9)
	body := "bytes whose content id the query declares"
	req := signedPost(t, k, t0, body, WithBodyBoundElsewhere())
	if req.Header.Get(ContentDigestHeader) != "" {
		t.Fatal("WithBodyBoundElsewhere set a Content-Digest")
	}
	signed := wireString(t, req)
	if _, err := Verify(parseWire(t, signed), t0, newOpts(t0)); !errors.Is(err, ErrMissingComponent) {
		t.Fatalf("no digest, not allowed: %v, want ErrMissingComponent", err)
	}
	opts := newOpts(t0)
	opts.BodyBoundElsewhere = true
	if did, err := Verify(parseWire(t, signed), t0, opts); err != nil || did != k.DID() {
		t.Fatalf("no digest, allowed: %v %v", did, err)
	}
	// A present digest is checked even when it is optional.
	signed = wireString(t, signedPost(t, k, t0, body))
	tampered := parseWire(t, strings.Replace(signed, body, strings.ToUpper(body[:1])+body[1:], 1))
	opts = newOpts(t0)
	opts.BodyBoundElsewhere = true
	if _, err := Verify(tampered, t0, opts); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("tampered body with digest: %v, want ErrDigestMismatch", err)
	}
}
