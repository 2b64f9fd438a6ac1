package asset

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/charter-dev/charter/internal/canonjson"
	"time"

	"github.com/charter-dev/charter/identity"
)

// Statement kinds of governance; their DSSE payload types are
// identity.PayloadType(kind).
const (
	KindProposal = "proposal"
	KindApproval = "approval"
)

// ChangeKind names what a proposal changes.
type ChangeKind string

const (
	SetOwners       ChangeKind = "set-owners"       // owners, weights and threshold
	SetContributors ChangeKind = "set-contributors" // revenue shares
	SetLicense      ChangeKind = "set-license"      // licence reference
	Delist          ChangeKind = "delist"           // hide from listings and refuse new grants
	Relist          ChangeKind = "relist"           // undo Delist
)

// Change is the change a proposal makes. Only the fields of its Kind are
// present: Owners and Threshold for SetOwners, Contributors for
// SetContributors, License for SetLicense (may be "" to clear it), none
// for Delist and Relist.
type Change struct {
	Contributors []Contributor `json:"contributors,omitempty"`
	Kind         ChangeKind    `json:"kind"`
	License      *string       `json:"license,omitempty"`
	Owners       []Owner       `json:"owners,omitempty"`
	Threshold    int64         `json:"threshold,omitempty"`
}

func (c *Change) validate() error {
	hasOwners := c.Owners != nil || c.Threshold != 0
	switch c.Kind {
	case SetOwners:
		if c.Contributors != nil || c.License != nil {
			return invalid(ErrField, "a %s change carries only owners and threshold", c.Kind)
		}
		return checkOwners(c.Owners, c.Threshold)
	case SetContributors:
		if hasOwners || c.License != nil {
			return invalid(ErrField, "a %s change carries only contributors", c.Kind)
		}
		return checkContributors(c.Contributors)
	case SetLicense:
		if hasOwners || c.Contributors != nil {
			return invalid(ErrField, "a %s change carries only license", c.Kind)
		}
		if c.License == nil {
			return invalid(ErrField, "a %s change needs a license field", c.Kind)
		}
		return checkText("license", *c.License, maxLicense, false)
	case Delist, Relist:
		if hasOwners || c.Contributors != nil || c.License != nil {
			return invalid(ErrField, "a %s change carries no fields", c.Kind)
		}
		return nil
	}
	return invalid(ErrField, "unknown change kind %q", c.Kind)
}

// Proposal is a change to an asset that its owners approve by signing.
// The proposer signs the proposal; that signature counts as their approval.
type Proposal struct {
	Asset  ID     `json:"asset"`
	Change Change `json:"change"`
	// Expires: approvals that complete the threshold at or after this time
	// are refused.
	Expires Time `json:"expires"`
	// Nonce makes two proposals of the same change distinct (see NewNonce).
	Nonce    string       `json:"nonce"`
	Proposer identity.DID `json:"proposer"`
	// Version is the asset version the change applies to (State.Version).
	Version uint64 `json:"version"`
}

// NewNonce returns a random 128-bit nonce in hex.
func NewNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Validate checks the proposal on its own.
func (p *Proposal) Validate() error {
	if p.Asset.IsZero() {
		return invalid(ErrField, "proposal names no asset")
	}
	if p.Proposer.IsZero() {
		return invalid(ErrField, "proposal has no proposer")
	}
	if p.Version == 0 || p.Version > maxVersion {
		return invalid(ErrField, "proposal version %d, want 1..%d", p.Version, uint64(maxVersion))
	}
	if p.Expires.IsZero() {
		return invalid(ErrField, "proposal has no expiry")
	}
	if len(p.Nonce) == 0 || len(p.Nonce) > 64 {
		return invalid(ErrField, "nonce must be 1 to 64 characters")
	}
	for _, r := range p.Nonce {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return invalid(ErrField, "nonce may hold only letters, digits, '-' and '_'")
		}
	}
	return p.Change.validate()
}

// Canonical returns the proposal's canonical JSON (RFC 8785 JCS; change
// fields of other kinds are absent).
func (p *Proposal) Canonical() ([]byte, error) { return canonjson.Marshal(p) }

// ID returns the proposal's ID, which approvals bind.
func (p *Proposal) ID() (ID, error) {
	b, err := p.Canonical()
	if err != nil {
		return ID{}, err
	}
	return idOf(b), nil
}

// ParseProposal parses and validates a proposal payload in canonical form.
func ParseProposal(b []byte) (*Proposal, error) {
	var p Proposal
	if err := proposalFormat.Parse(b, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Sign returns the proposal signed by the proposer's key.
func (p *Proposal) Sign(k *identity.Key) (*identity.Envelope, error) {
	if k.DID() != p.Proposer {
		return nil, fmt.Errorf("%w: key %s is not the proposer %s", ErrInvalid, k.DID(), p.Proposer)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return proposalFormat.Sign(p, k)
}

// OpenProposal verifies a proposal envelope: one signature, by the proposer.
func OpenProposal(env *identity.Envelope) (*Proposal, ID, error) {
	var p Proposal
	signers, payload, err := proposalFormat.Open(env, &p)
	if err != nil {
		return nil, ID{}, err
	}
	if err := p.Validate(); err != nil {
		return nil, ID{}, err
	}
	if len(signers) != 1 || signers[0] != p.Proposer {
		return nil, ID{}, fmt.Errorf("%w: a proposal is signed by its proposer %s alone", ErrInvalid, p.Proposer)
	}
	return &p, idOf(payload), nil
}

// Approval is one owner's signed consent to one proposal.
type Approval struct {
	Approver identity.DID `json:"approver"`
	Asset    ID           `json:"asset"`
	Proposal ID           `json:"proposal"`
	// Version repeats the proposal's base version, so an approval can
	// never count towards a change of another version.
	Version uint64 `json:"version"`
}

// NewApproval returns the approval of proposal p by approver.
func NewApproval(p *Proposal, approver identity.DID) (*Approval, error) {
	id, err := p.ID()
	if err != nil {
		return nil, err
	}
	return &Approval{Approver: approver, Asset: p.Asset, Proposal: id, Version: p.Version}, nil
}

// Validate checks the approval on its own.
func (a *Approval) Validate() error {
	if a.Approver.IsZero() || a.Asset.IsZero() || a.Proposal.IsZero() || a.Version == 0 || a.Version > maxVersion {
		return invalid(ErrField, "approval needs approver, asset, proposal and a version in 1..%d", uint64(maxVersion))
	}
	return nil
}

// Canonical returns the approval's canonical JSON (RFC 8785 JCS).
func (a *Approval) Canonical() ([]byte, error) { return canonjson.Marshal(a) }

// ParseApproval parses and validates an approval payload in canonical form.
func ParseApproval(b []byte) (*Approval, error) {
	var a Approval
	if err := approvalFormat.Parse(b, &a); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Sign returns the approval signed by the approver's key.
func (a *Approval) Sign(k *identity.Key) (*identity.Envelope, error) {
	if k.DID() != a.Approver {
		return nil, fmt.Errorf("%w: key %s is not the approver %s", ErrInvalid, k.DID(), a.Approver)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return approvalFormat.Sign(a, k)
}

// OpenApproval verifies an approval envelope: one signature, by the approver.
func OpenApproval(env *identity.Envelope) (*Approval, error) {
	var a Approval
	signers, _, err := approvalFormat.Open(env, &a)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if len(signers) != 1 || signers[0] != a.Approver {
		return nil, fmt.Errorf("%w: an approval is signed by its approver %s alone", ErrInvalid, a.Approver)
	}
	return &a, nil
}

// Status is the outcome of Apply.
type Status int

const (
	// Pending: the approvals so far are valid but do not reach the threshold.
	Pending Status = iota + 1
	// Applied: the threshold was reached and the change applied.
	Applied
)

func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case Applied:
		return "applied"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Apply evaluates a signed proposal and the signed approvals collected for
// it at time now. Every envelope is verified here. The proposer's own
// signature counts as their approval. Apply refuses (with an error, leaving
// the state alone):
//   - a proposal for another asset or against another version than the
//     state's (ErrWrongProposal, ErrStaleVersion);
//   - any approval once the proposal has expired (ErrExpired);
//   - a proposer or approver who is not a current owner (ErrNotOwner);
//   - an approval binding another proposal, asset or version
//     (ErrWrongProposal, ErrStaleVersion);
//   - two approvals by the same owner, the proposer included
//     (ErrDuplicateApproval).
//
// If the approvers' weight (distinct current owners) reaches the current
// threshold, Apply returns the new state, one version later, and Applied;
// otherwise the unchanged state and Pending. s is never modified.
func Apply(s *State, proposal *identity.Envelope, approvals []*identity.Envelope, now time.Time) (*State, Status, error) {
	p, pid, err := OpenProposal(proposal)
	if err != nil {
		return s, 0, err
	}
	if p.Asset != s.Asset {
		return s, 0, fmt.Errorf("%w: proposal is for asset %s, not %s", ErrWrongProposal, p.Asset, s.Asset)
	}
	if p.Version != s.Version {
		return s, 0, fmt.Errorf("%w: proposal changes version %d, the asset is at version %d\nhint: propose the change again against the current version", ErrStaleVersion, p.Version, s.Version)
	}
	if !now.Before(p.Expires.Time()) {
		return s, 0, fmt.Errorf("%w: it expired at %s", ErrExpired, p.Expires.Time().Format(time.RFC3339))
	}
	if !s.IsOwner(p.Proposer) {
		return s, 0, fmt.Errorf("%w: proposer %s", ErrNotOwner, p.Proposer)
	}
	approvers := []identity.DID{p.Proposer}
	for i, env := range approvals {
		a, err := OpenApproval(env)
		if err != nil {
			return s, 0, fmt.Errorf("approval %d: %w", i, err)
		}
		if a.Proposal != pid || a.Asset != p.Asset {
			return s, 0, fmt.Errorf("%w: approval %d by %s binds proposal %s, not %s", ErrWrongProposal, i, a.Approver, a.Proposal, pid)
		}
		if a.Version != p.Version {
			return s, 0, fmt.Errorf("%w: approval %d by %s is for version %d, the proposal for %d", ErrStaleVersion, i, a.Approver, a.Version, p.Version)
		}
		if !s.IsOwner(a.Approver) {
			return s, 0, fmt.Errorf("%w: approval %d by %s", ErrNotOwner, i, a.Approver)
		}
		for _, d := range approvers {
			if d == a.Approver {
				return s, 0, fmt.Errorf("%w: %s", ErrDuplicateApproval, a.Approver)
			}
		}
		approvers = append(approvers, a.Approver)
	}
	if w, _ := weightOf(s.Owners, approvers); w < s.Threshold {
		return s, Pending, nil
	}
	n := s.clone()
	n.Version++
	switch c := p.Change; c.Kind {
	case SetOwners:
		n.Owners, n.Threshold = append([]Owner(nil), c.Owners...), c.Threshold
	case SetContributors:
		n.Contributors = append([]Contributor(nil), c.Contributors...)
	case SetLicense:
		n.License = *c.License
	case Delist:
		n.Delisted = true
	case Relist:
		n.Delisted = false
	}
	return n, Applied, nil
}
