package httpsig

import (
	"errors"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
)

// TestCoveredIfPresent: a header that changes what is served (Range, a
// session id) must be covered whenever the request carries it. Added after
// signing, it is refused; signed with WithHeadersIfPresent, accepted; and a
// request without it needs no coverage.
func TestCoveredIfPresent(t *testing.T) {
	k := seedKey(t, 7)
	opts := newOpts(t0)
	opts.CoveredIfPresent = []string{"range", "charter-session"}

	// Signed without Range, Range added on the way: refused.
	req := signedGet(t, k, t0)
	req.Header.Set("Range", "bytes=0-99")
	if _, err := Verify(wire(t, req), t0, opts); !errors.Is(err, ErrMissingComponent) {
		t.Fatalf("range added after signing: %v", err)
	}
	// Signed with Range covered: accepted; the value is then bound.
	req = signedGet(t, k, t0)
	req.Header.Set("Range", "bytes=0-99")
	req.Header.Set("Charter-Session", "s1")
	if err := Sign(req, k, t0, WithHeadersIfPresent("Range", "Charter-Session")); err != nil {
		t.Fatal(err)
	}
	tampered := wire(t, req)
	tampered.Header.Set("Range", "bytes=0-")
	if _, err := Verify(tampered, t0, opts); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered range: %v", err)
	}
	if _, err := Verify(wire(t, req), t0, opts); err != nil {
		t.Fatalf("covered range: %v", err)
	}
	// No such header: nothing to cover.
	if _, err := Verify(wire(t, signedGet(t, k, t0, WithHeadersIfPresent("range"))), t0, opts); err != nil {
		t.Fatalf("request without range: %v", err)
	}
}

// TestAuthorizeBeforeNonce: a signer that Authorize refuses consumes no
// nonce, so keys without standing cannot fill the store; an authorized
// signer's nonce is recorded and its replay refused.
func TestAuthorizeBeforeNonce(t *testing.T) {
	good, stranger := seedKey(t, 1), seedKey(t, 2)
	store := NewMemoryNonceStore(0, func() time.Time { return t0 })
	errNoGrant := errors.New("no grant")
	opts := VerifyOptions{Nonces: store, Authorize: func(d identity.DID) error {
		if d != good.DID() {
			return errNoGrant
		}
		return nil
	}}
	for range 50 {
		if _, err := Verify(wire(t, signedGet(t, stranger, t0)), t0, opts); !errors.Is(err, errNoGrant) {
			t.Fatalf("stranger: %v", err)
		}
	}
	if n := store.Len(); n != 0 {
		t.Fatalf("%d nonces stored for refused signers", n)
	}
	req := wire(t, signedGet(t, good, t0))
	s := wireString(t, req)
	if _, err := Verify(req, t0, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(parseWire(t, s), t0, opts); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
}
