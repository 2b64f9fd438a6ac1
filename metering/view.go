package metering

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

// KindView is the statement kind of a view token.
const KindView = "view"

// MaxViewLifetime is the longest a view token may be valid.
const MaxViewLifetime = time.Hour

// MaxViewToken bounds an encoded view token, in bytes.
const MaxViewToken = 4096

// ErrView reports a view token that is malformed, expired or not signed by
// the DID it names.
var ErrView = errors.New("metering: invalid view token")

// View lets a browser read a DID's money (earnings, accounts) for a short
// while without holding its key: the DID's key signs it (see
// docs/spec/http-api.md, "Who may read"). It is a bearer token: anyone who
// holds it may read that DID's money until it expires.
type View struct {
	Created asset.Time   `json:"created"`
	DID     identity.DID `json:"did"`
	Expires asset.Time   `json:"expires"`
	Scope   string       `json:"scope"` // "money"
}

// Validate checks a view on its own.
func (v *View) Validate() error {
	switch {
	case v.DID.IsZero() || v.Created.IsZero() || v.Expires.IsZero():
		return fmt.Errorf("%w: needs did, created and expires", ErrView)
	case v.Scope != "money":
		return fmt.Errorf("%w: scope %q (want money)", ErrView, v.Scope)
	case !v.Expires.Time().After(v.Created.Time()):
		return fmt.Errorf("%w: expires before it is created", ErrView)
	case v.Expires.Time().Sub(v.Created.Time()) > MaxViewLifetime:
		return fmt.Errorf("%w: valid for more than %s", ErrView, MaxViewLifetime)
	}
	return nil
}

// NewView returns a money view of did valid from now for d (at most
// MaxViewLifetime).
func NewView(did identity.DID, now time.Time, d time.Duration) *View {
	d = min(d, MaxViewLifetime)
	return &View{Created: asset.NewTime(now), DID: did, Expires: asset.NewTime(now.Add(d)), Scope: "money"}
}

// Token signs the view with k and encodes it for a URL or a header:
// the DSSE envelope's JSON, base64url without padding.
func (v *View) Token(k *identity.Key) (string, error) {
	env, err := sign(KindView, v, k)
	if err != nil {
		return "", err
	}
	b, err := env.Marshal()
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// OpenView decodes and verifies a view token at time now. It returns the
// view and its signer; the caller decides whether the signer may read the
// view's DID (the DID itself, or the operator).
func OpenView(token string, now time.Time) (*View, identity.DID, error) {
	if len(token) > MaxViewToken {
		return nil, identity.DID{}, fmt.Errorf("%w: %d bytes, limit %d", ErrView, len(token), MaxViewToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, identity.DID{}, fmt.Errorf("%w: not base64url: %v", ErrView, err)
	}
	env, err := identity.ParseEnvelope(raw)
	if err != nil {
		return nil, identity.DID{}, fmt.Errorf("%w: %w", ErrView, err)
	}
	var v View
	signers, _, err := open(env, KindView, &v)
	if err != nil {
		return nil, identity.DID{}, fmt.Errorf("%w: %w", ErrView, err)
	}
	if len(signers) != 1 {
		return nil, identity.DID{}, fmt.Errorf("%w: signed by %d keys, want one", ErrView, len(signers))
	}
	const skew = 30 * time.Second
	if now.Add(skew).Before(v.Created.Time()) || !now.Before(v.Expires.Time()) {
		return nil, identity.DID{}, fmt.Errorf("%w: valid from %s until %s\nhint: make a new one with `charter earnings --console`", ErrView, v.Created.Time().Format(time.RFC3339), v.Expires.Time().Format(time.RFC3339))
	}
	return &v, signers[0], nil
}
