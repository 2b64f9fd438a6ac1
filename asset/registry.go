package asset

import (
	"errors"
	"fmt"
	"slices"

	"github.com/charter-dev/charter/identity"
)

// State is an asset as the registry holds it: the registration manifest,
// which never changes, and the governed fields, which proposals change.
type State struct {
	Asset    ID       `json:"asset"`
	Manifest Manifest `json:"manifest"`
	// Version is 1 at registration and grows by one with every applied
	// proposal; a proposal names the version it changes.
	Version      uint64        `json:"version"`
	Owners       []Owner       `json:"owners"`
	Threshold    int64         `json:"threshold"`
	Contributors []Contributor `json:"contributors"`
	License      string        `json:"license"`
	Delisted     bool          `json:"delisted"`
}

// NewState returns the state of a newly registered asset.
func NewState(m *Manifest) (*State, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	id, err := m.ID()
	if err != nil {
		return nil, err
	}
	return &State{
		Asset:        id,
		Manifest:     *m,
		Version:      1,
		Owners:       slices.Clone(m.Owners),
		Threshold:    m.Threshold,
		Contributors: slices.Clone(m.Contributors),
		License:      m.License,
	}, nil
}

// clone returns a deep copy of the governed fields.
func (s *State) clone() *State {
	c := *s
	c.Owners = slices.Clone(s.Owners)
	c.Contributors = slices.Clone(s.Contributors)
	return &c
}

// IsOwner reports whether d is a current owner.
func (s *State) IsOwner(d identity.DID) bool {
	return slices.ContainsFunc(s.Owners, func(o Owner) bool { return o.DID == d })
}

// Lookup returns the registered state of an asset. It returns (nil, nil) or
// an error matching ErrUnknownAsset when the asset is not registered; any
// other error is passed on.
type Lookup func(ID) (*State, error)

func (l Lookup) get(id ID) (*State, error) {
	s, err := l(id)
	if err != nil {
		if errors.Is(err, ErrUnknownAsset) {
			return nil, fmt.Errorf("%w: %s\nhint: register the parent first", ErrUnknownAsset, id)
		}
		return nil, fmt.Errorf("asset: looking up %s: %w", id, err)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: %s\nhint: register the parent first", ErrUnknownAsset, id)
	}
	return s, nil
}

// CheckRegistration decides whether a signed manifest may be registered:
// the manifest is valid, the signers are owners whose weights reach the
// threshold, every parent is registered, the lineage holds at most
// MaxAncestors distinct ancestors and has no cycle (impossible while IDs
// are hashes, checked anyway), and the royalties of every paying path can
// be settled (see checkRoyalties and ErrRoyalties).
func CheckRegistration(m *Manifest, signers []identity.DID, lookup Lookup) error {
	if err := m.Validate(); err != nil {
		return err
	}
	w, stranger := weightOf(m.Owners, signers)
	if !stranger.IsZero() {
		return fmt.Errorf("%w: %s signed the registration but is not among its owners", ErrNotOwner, stranger)
	}
	if w < m.Threshold {
		return fmt.Errorf("%w: signers' weight %d, threshold %d\nhint: more owners must sign the manifest", ErrThresholdNotMet, w, m.Threshold)
	}
	self, err := m.ID()
	if err != nil {
		return err
	}
	parents := make([]ID, len(m.Parents))
	for i, p := range m.Parents {
		parents[i] = p.Asset
		ps, err := lookup.get(p.Asset)
		if err != nil {
			return err
		}
		if ps.Manifest.Content == m.Content {
			return invalid(ErrParents, "parent %s names the same content %s", p.Asset, m.Content)
		}
	}
	if _, err := ancestors(self, parents, lookup); err != nil {
		return err
	}
	return checkRoyalties(self, m, lookup)
}

// Ancestors returns the distinct ancestors of a registered asset, nearest
// generations first, or ErrLineageTooLarge past MaxAncestors.
func Ancestors(s *State, lookup Lookup) ([]ID, error) {
	parents := make([]ID, len(s.Manifest.Parents))
	for i, p := range s.Manifest.Parents {
		parents[i] = p.Asset
	}
	return ancestors(s.Asset, parents, lookup)
}

func ancestors(self ID, parents []ID, lookup Lookup) ([]ID, error) {
	seen := map[ID]bool{}
	var out []ID
	queue := slices.Clone(parents)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if id == self {
			return nil, fmt.Errorf("%w: %s is its own ancestor", ErrCycle, self)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
		if len(out) > MaxAncestors {
			return nil, fmt.Errorf("%w: more than %d", ErrLineageTooLarge, MaxAncestors)
		}
		s, err := lookup.get(id)
		if err != nil {
			return nil, err
		}
		for _, p := range s.Manifest.Parents {
			queue = append(queue, p.Asset)
		}
	}
	return out, nil
}

// ClaimStatus classifies a registration against earlier registrations of
// the same content.
type ClaimStatus int

const (
	// ClaimPriority: no earlier registration of this content; this one is
	// the priority claim.
	ClaimPriority ClaimStatus = iota + 1
	// ClaimSameOwners: the content is registered already, and this
	// registration is signed by a threshold of the priority claim's current
	// owners, so the rightful owners registered it again (for example under
	// other terms). It is recorded as a separate asset, not a conflict.
	ClaimSameOwners
	// ClaimConflict: the content is registered already by others. The new
	// registration is recorded and shown as a conflicting claim on both
	// assets; it never becomes the owner of the priority asset.
	ClaimConflict
)

func (c ClaimStatus) String() string {
	switch c {
	case ClaimPriority:
		return "priority"
	case ClaimSameOwners:
		return "same-owners"
	case ClaimConflict:
		return "conflict"
	}
	return fmt.Sprintf("ClaimStatus(%d)", int(c))
}

// ClassifyClaim classifies a new registration of some content, signed by
// signers, given the existing registrations of the same content in log
// order (earliest first). The first existing registration is the priority
// claim; ClassifyClaim returns its ID (zero for ClaimPriority).
func ClassifyClaim(existing []*State, signers []identity.DID) (ClaimStatus, ID) {
	if len(existing) == 0 {
		return ClaimPriority, ID{}
	}
	first := existing[0]
	// Signers outside the owner set do not spoil a claim that a threshold
	// of the owners also signed; only the owners among them count.
	w, _ := weightOf(first.Owners, signers)
	if w >= first.Threshold {
		return ClaimSameOwners, first.Asset
	}
	return ClaimConflict, first.Asset
}
