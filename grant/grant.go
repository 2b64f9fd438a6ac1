// Package grant defines the signed statements of licensing: a licensee's
// access request, the grant the server issues under the licence terms in
// force, owners' approvals of queued requests, and revocations. Like
// package asset it is pure: statements are parsed strictly, encoded
// canonically and checked against rules; the server logs and applies them.
// See docs/spec/grant.md.
package grant

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/internal/visible"
	"slices"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// Payload kinds (identity.PayloadType(kind) is the DSSE payload type).
const (
	KindRequest    = "grant-request"
	KindGrant      = "grant"
	KindApproval   = "grant-approval"
	KindRevocation = "revocation"
	KindDecision   = "decision"
)

// Errors.
var (
	ErrMalformed = errors.New("grant: malformed statement")
	ErrInvalid   = errors.New("grant: invalid statement")
)

// Errors of reading under a grant (Grant.CheckUse).
var (
	ErrNotLicensee = errors.New("grant: held by another key")
	ErrRevoked     = errors.New("grant: revoked")
	ErrNotValidNow = errors.New("grant: not valid now")
	ErrNotCovered  = errors.New("grant: does not cover this content")
)

// ErrRequestClosed reports a vote on a queued request that is no longer
// pending (CheckVote).
var ErrRequestClosed = errors.New("grant: request is not pending")

// MaxStatementSize bounds every statement's payload.
const MaxStatementSize = 16 << 10

// Request is a licensee's signed request for access to an asset.
type Request struct {
	Asset        asset.ID     `json:"asset"`
	Commercial   bool         `json:"commercial"`
	Created      asset.Time   `json:"created"`
	Derivative   bool         `json:"derivative"`
	Licensee     identity.DID `json:"licensee"`
	Nonce        string       `json:"nonce"`
	Organisation string       `json:"organisation"`
	Purpose      string       `json:"purpose"`
	Territory    string       `json:"territory"`
}

// Grant is the server's signed permission for one licensee to use one
// asset for one purpose in a time window, under the terms in force when it
// was decided.
type Grant struct {
	Asset      asset.ID `json:"asset"`
	Commercial bool     `json:"commercial"`
	// Decision is the log index of the decision record that permitted
	// the grant (for approval-required terms, the request's decision,
	// completed by the owners' approvals).
	Decision uint64 `json:"decision"`
	// Derivative: the decision allowed a derivative use (the request
	// asked for one and the terms allow derivatives), so the licensee may
	// register assets derived from this one (asset.CheckDerivation). Left
	// out of the canonical form when false.
	Derivative bool         `json:"derivative,omitempty"`
	ID         asset.ID     `json:"id"` // the request's statement id
	Issuer     identity.DID `json:"issuer"`
	Licensee   identity.DID `json:"licensee"`
	NotAfter   asset.Time   `json:"notAfter"`
	NotBefore  asset.Time   `json:"notBefore"`
	Purpose    string       `json:"purpose"`
	Quotas     Quotas       `json:"quotas"`
	// Terms is the content id of the canonical terms the grant was made
	// under; a later licence change does not alter it.
	Terms content.ID `json:"terms"`
}

// Issue returns the grant request req (whose statement id is id) gets
// under terms (termsID, their content id), permitted by the decision
// record logged at decision: signed by issuer, valid from now, whole
// seconds in UTC, for as long as the terms allow, with their quotas. The
// same request decided again under the same terms at the same second gets
// the same grant.
func Issue(req *Request, id asset.ID, terms *license.Terms, termsID content.ID, decision uint64, issuer identity.DID, now time.Time) *Grant {
	now = now.UTC().Truncate(time.Second)
	return &Grant{Asset: req.Asset, Commercial: req.Commercial, Decision: decision, Derivative: req.Derivative, ID: id, Issuer: issuer, Licensee: req.Licensee,
		NotBefore: asset.NewTime(now), NotAfter: asset.NewTime(terms.GrantExpiry(now)), Purpose: req.Purpose, Quotas: QuotasOf(terms.Quotas), Terms: termsID}
}

// Quotas bound a grant's use; zero means unlimited. They are copied from
// the licence terms when the grant is made.
type Quotas struct {
	MaxBytes    int64 `json:"maxBytes"`
	MaxRequests int64 `json:"maxRequests"`
	MaxRuns     int64 `json:"maxRuns"`
	MaxTokens   int64 `json:"maxTokens"`
}

// QuotasOf copies the quotas of licence terms.
func QuotasOf(q license.Quotas) Quotas {
	return Quotas{MaxBytes: q.MaxBytes, MaxRequests: q.MaxRequests, MaxRuns: q.MaxRuns, MaxTokens: q.MaxTokens}
}

// Approval is one owner's decision on a queued request.
type Approval struct {
	Approve  bool         `json:"approve"`
	Approver identity.DID `json:"approver"`
	Asset    asset.ID     `json:"asset"`
	Request  asset.ID     `json:"request"`
}

// Revocation withdraws a grant; owners reaching the asset's threshold sign
// it.
type Revocation struct {
	Asset   asset.ID   `json:"asset"`
	Created asset.Time `json:"created"`
	Grant   asset.ID   `json:"grant"`
	Reason  string     `json:"reason"`
}

// NewNonce returns a random 128-bit nonce in hex.
func NewNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StatementID is the id of a statement: the content id of its payload.
func StatementID(payload []byte) asset.ID {
	id, _ := asset.ParseID(content.IDFromDigest(blake3Sum(payload)).String())
	return id
}

// Statement formats: every grant statement is bounded by
// MaxStatementSize and reports a bad payload with ErrMalformed.
var (
	requestFormat    = identity.Format{Kind: KindRequest, MaxSize: MaxStatementSize, Malformed: ErrMalformed}
	grantFormat      = identity.Format{Kind: KindGrant, MaxSize: MaxStatementSize, Malformed: ErrMalformed}
	approvalFormat   = identity.Format{Kind: KindApproval, MaxSize: MaxStatementSize, Malformed: ErrMalformed}
	revocationFormat = identity.Format{Kind: KindRevocation, MaxSize: MaxStatementSize, Malformed: ErrMalformed}
)

// Validate checks a request on its own.
func (r *Request) Validate() error {
	switch {
	case r.Asset.IsZero() || r.Licensee.IsZero():
		return fmt.Errorf("%w: request needs asset and licensee", ErrInvalid)
	case len(r.Nonce) < 16 || len(r.Nonce) > 64:
		return fmt.Errorf("%w: nonce must be 16 to 64 characters", ErrInvalid)
	case r.Created.IsZero():
		return fmt.Errorf("%w: request needs a creation time", ErrInvalid)
	}
	valid := false
	for _, p := range license.Purposes() {
		if string(p) == r.Purpose {
			valid = true
		}
	}
	if !valid {
		return fmt.Errorf("%w: unknown purpose %q\nhint: one of %v", ErrInvalid, r.Purpose, license.Purposes())
	}
	if r.Territory != "" && !license.ValidTerritory(r.Territory) {
		return fmt.Errorf("%w: territory %q is not an ISO 3166-1 alpha-2 code", ErrInvalid, r.Territory)
	}
	return nil
}

// Sign signs the request with the licensee's key.
func (r *Request) Sign(k *identity.Key) (*identity.Envelope, error) {
	if k.DID() != r.Licensee {
		return nil, fmt.Errorf("%w: key %s is not the licensee %s", ErrInvalid, k.DID(), r.Licensee)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return requestFormat.Sign(r, k)
}

// OpenRequest verifies a request envelope: one signature, the licensee's.
func OpenRequest(env *identity.Envelope) (*Request, asset.ID, error) {
	var r Request
	signers, payload, err := requestFormat.Open(env, &r)
	if err != nil {
		return nil, asset.ID{}, err
	}
	if err := r.Validate(); err != nil {
		return nil, asset.ID{}, err
	}
	if len(signers) != 1 || signers[0] != r.Licensee {
		return nil, asset.ID{}, fmt.Errorf("%w: a request is signed by its licensee %s alone", ErrInvalid, r.Licensee)
	}
	return &r, StatementID(payload), nil
}

// LicenseRequest is the policy request for r at time now.
func (r *Request) LicenseRequest(now time.Time) license.Request {
	lr := license.Request{
		Licensee: r.Licensee.String(), Asset: r.Asset.String(), Purpose: license.Purpose(r.Purpose),
		Commercial: r.Commercial, Derivative: r.Derivative, Territory: r.Territory, Time: now.UTC().Truncate(time.Second),
	}
	if r.Organisation != "" {
		// Organisation membership is asserted by the licensee's signed
		// request; see docs/spec/grant.md.
		lr.Organisation, lr.Organisations = r.Organisation, []string{r.Organisation}
	}
	return lr
}

// Sign signs the grant with the issuing server's key.
func (g *Grant) Sign(k *identity.Key) (*identity.Envelope, error) {
	if k.DID() != g.Issuer {
		return nil, fmt.Errorf("%w: key is not the issuer", ErrInvalid)
	}
	return grantFormat.Sign(g, k)
}

// OpenGrant verifies a grant envelope signed by its issuer.
func OpenGrant(env *identity.Envelope) (*Grant, error) {
	var g Grant
	signers, _, err := grantFormat.Open(env, &g)
	if err != nil {
		return nil, err
	}
	if len(signers) != 1 || signers[0] != g.Issuer {
		return nil, fmt.Errorf("%w: a grant is signed by its issuer %s alone", ErrInvalid, g.Issuer)
	}
	if !g.NotBefore.Time().Before(g.NotAfter.Time()) {
		return nil, fmt.Errorf("%w: empty validity window", ErrInvalid)
	}
	return &g, nil
}

// Right is the grant as asset.CheckDerivation sees it: revoked says
// whether it was revoked before the registration being checked, terms are
// the terms it was made under (g.Terms).
func (g *Grant) Right(revoked bool, terms *license.Terms) *asset.Right {
	return &asset.Right{Grant: g.ID, Asset: g.Asset, Licensee: g.Licensee, Derivative: g.Derivative, Commercial: g.Commercial,
		NotBefore: g.NotBefore.Time(), NotAfter: g.NotAfter.Time(), Revoked: revoked, Terms: terms}
}

// ValidAt reports whether the grant's window contains t.
func (g *Grant) ValidAt(t time.Time) bool {
	return !t.Before(g.NotBefore.Time()) && t.Before(g.NotAfter.Time())
}

// CheckUse checks that who may read under g at now: who is its licensee,
// it is not revoked (as the catalog says), now is within its validity,
// and, when covers is not nil, it is for one of the assets listed there
// (those a grant for may read the content asked for). The checks run in
// that order; the first that fails is reported.
func (g *Grant) CheckUse(who identity.DID, revoked bool, now time.Time, covers []string) error {
	switch {
	case g.Licensee != who:
		return fmt.Errorf("%w: grant %s is for %s, not %s", ErrNotLicensee, g.ID, g.Licensee, who)
	case revoked:
		return fmt.Errorf("%w: grant %s", ErrRevoked, g.ID)
	case !g.ValidAt(now):
		return fmt.Errorf("%w: grant %s is valid from %s until %s", ErrNotValidNow, g.ID, g.NotBefore.Time().Format(time.RFC3339), g.NotAfter.Time().Format(time.RFC3339))
	case covers != nil && !slices.Contains(covers, g.Asset.String()):
		return fmt.Errorf("%w: grant %s is for asset %s", ErrNotCovered, g.ID, g.Asset)
	}
	return nil
}

// Sign signs an approval with the approver's key.
func (a *Approval) Sign(k *identity.Key) (*identity.Envelope, error) {
	if k.DID() != a.Approver {
		return nil, fmt.Errorf("%w: key is not the approver", ErrInvalid)
	}
	return approvalFormat.Sign(a, k)
}

// OpenApproval verifies an approval envelope signed by its approver.
func OpenApproval(env *identity.Envelope) (*Approval, error) {
	var a Approval
	signers, _, err := approvalFormat.Open(env, &a)
	if err != nil {
		return nil, err
	}
	if len(signers) != 1 || signers[0] != a.Approver {
		return nil, fmt.Errorf("%w: an approval is signed by its approver alone", ErrInvalid)
	}
	return &a, nil
}

// CheckReason checks a revocation's reason as shown to people: at most
// 1024 bytes of visible text (internal/visible, as dispute reasons): no
// control or bidirectional characters. Servers check it before logging a
// revocation; replay does not, so revocations logged before the rule
// still apply.
func (r *Revocation) CheckReason() error {
	if len(r.Reason) > 1024 {
		return fmt.Errorf("%w: reason over 1024 bytes", ErrInvalid)
	}
	if err := visible.Check(r.Reason, true); err != nil {
		return fmt.Errorf("%w: reason %q: %w", ErrInvalid, r.Reason, err)
	}
	return nil
}

// Sign signs a revocation with owners' keys.
func (r *Revocation) Sign(keys ...*identity.Key) (*identity.Envelope, error) {
	if err := r.CheckReason(); err != nil {
		return nil, err
	}
	return revocationFormat.Sign(r, keys...)
}

// OpenRevocation verifies a revocation envelope and returns its signers;
// whether they reach the owners' threshold is the caller's check
// (Weight).
func OpenRevocation(env *identity.Envelope) (*Revocation, []identity.DID, error) {
	var r Revocation
	signers, _, err := revocationFormat.Open(env, &r)
	if err != nil {
		return nil, nil, err
	}
	if r.Grant.IsZero() || r.Asset.IsZero() {
		return nil, nil, fmt.Errorf("%w: revocation needs grant and asset", ErrInvalid)
	}
	return &r, signers, nil
}

// CheckVote checks an owner's vote a on a queued request, given the
// request's status ("pending" until the owners decide) and the votes cast
// so far (approver DID → approve), under the asset's state st: the request
// is pending (ErrRequestClosed), the approver is a current owner
// (asset.ErrNotOwner) and has not voted on it (asset.ErrDuplicateApproval).
func CheckVote(st *asset.State, status string, votes map[string]bool, a *Approval) error {
	switch {
	case status != "pending":
		return fmt.Errorf("%w: request %s is %s", ErrRequestClosed, a.Request, status)
	case !st.IsOwner(a.Approver):
		return fmt.Errorf("%w: %s", asset.ErrNotOwner, a.Approver)
	}
	if _, dup := votes[a.Approver.String()]; dup {
		return fmt.Errorf("%w: %s", asset.ErrDuplicateApproval, a.Approver)
	}
	return nil
}

// CheckThreshold checks that signers, the distinct signers of a statement
// (what names it in the error: "revocation", "resolution"), are owners of
// the asset in state s whose weight reaches its threshold
// (asset.ErrThresholdNotMet).
func CheckThreshold(s *asset.State, signers []identity.DID, what string) error {
	if w := Weight(s, signers); w < s.Threshold {
		return fmt.Errorf("%w: %s signed with weight %d, threshold %d", asset.ErrThresholdNotMet, what, w, s.Threshold)
	}
	return nil
}

// Weight returns the total weight of the distinct current owners among
// signers.
func Weight(s *asset.State, signers []identity.DID) int64 {
	seen := map[identity.DID]bool{}
	var w int64
	for _, d := range signers {
		if seen[d] {
			continue
		}
		seen[d] = true
		for _, o := range s.Owners {
			if o.DID == d {
				w += o.Weight
			}
		}
	}
	return w
}

// NeedsGrant reports whether content under these terms may be read only
// with a grant. Only terms that let anyone use the asset for every
// purpose, commercially, anywhere, at any time, free, without approval or
// quotas, leave it open.
func NeedsGrant(t *license.Terms) bool {
	if t == nil {
		return false
	}
	open := t.Who == license.Anyone && t.Commercial && t.Approval == license.Automatic &&
		t.Price.Model == license.Free && len(t.Purposes) == len(license.Purposes()) &&
		len(t.TerritoryAllow) == 0 && len(t.TerritoryDeny) == 0 && t.NotBefore.IsZero() && t.NotAfter.IsZero() &&
		t.Quotas == (license.Quotas{})
	return !open
}
