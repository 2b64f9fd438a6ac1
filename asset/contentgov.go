package asset

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/charter-dev/charter/identity"
)

// Content governance: which registered assets decide who may read a piece
// of content. An asset claims its own content and, for a dataset, every
// file its index lists; anybody can make such a claim about any content id,
// so a claim alone must not change who may read. The rule (specified in
// docs/spec/content-governance.md):
//
//  1. Conflicting claims (ClaimConflict) never govern.
//  2. Of the other claims, the earliest in log order is the content's
//     first governor: its owners control the content.
//  3. A later claim governs too only if its registration was signed by
//     owners of the first governor whose weights reach that governor's
//     threshold (its current owners and threshold).
//  4. Content that no asset governs is free to read. Content is free when
//     any governor's terms need no grant (the controllers published it
//     openly); otherwise a grant for any one governor covers it.
//  5. A registered dataset whose index could not be read when it was
//     applied (unindexed) might claim any content. Until its index is
//     stored again, content whose first governor it could have preceded in
//     log order is refused (ErrUnindexed): guards fail closed.

// ContentClaim is one registered asset's claim on a content id: the
// asset's own content or a file listed in its dataset index.
type ContentClaim struct {
	Asset ID
	// LogIndex is the log position of the asset's registration.
	LogIndex uint64
	// Signers signed the asset's registration.
	Signers []identity.DID
	// Conflict is set when the registration is a conflicting claim on its
	// own content (ClaimConflict).
	Conflict bool
}

// Unindexed is a registered dataset whose index was missing or did not
// parse when its registration was applied, so its claims are unknown.
type Unindexed struct {
	Asset    ID
	LogIndex uint64
}

// Access is what reading a content id takes.
type Access struct {
	// Governors are the assets that govern the content, first governor
	// first; empty for content no asset governs.
	Governors []ID
	// Free reports that the content may be read without a grant.
	Free bool
	// Needing lists the governors a grant may name to read the content;
	// empty when Free.
	Needing []ID
}

// ErrUnindexed reports content whose governance cannot be decided because
// a registered dataset's index is missing.
var ErrUnindexed = errors.New("asset: a registered dataset's index is missing, so who governs this content is unknown")

// GrantRule reports whether reading content governed by an asset in state
// st needs a grant under its current terms.
type GrantRule func(st *State) (bool, error)

// ContentAccess applies the content governance rule to every claim on one
// content id (in any order), the unindexed datasets, the current asset
// states (lookup) and the terms (needsGrant). It does no I/O of its own.
func ContentAccess(claims []ContentClaim, unindexed []Unindexed, lookup Lookup, needsGrant GrantRule) (Access, error) {
	govs, err := Governors(claims, unindexed, lookup)
	if err != nil || len(govs) == 0 {
		return Access{Free: err == nil}, err
	}
	a := Access{Governors: govs}
	for _, g := range govs {
		st, err := lookup.get(g)
		if err != nil {
			return Access{}, err
		}
		need, err := needsGrant(st)
		if err != nil {
			return Access{}, err
		}
		if !need {
			a.Free = true
			return a, nil
		}
	}
	a.Needing = govs
	return a, nil
}

// Governors returns the assets governing a content id, first governor
// first, given every claim on it; see ContentAccess.
func Governors(claims []ContentClaim, unindexed []Unindexed, lookup Lookup) ([]ID, error) {
	live := make([]ContentClaim, 0, len(claims))
	for _, c := range claims {
		if !c.Conflict {
			live = append(live, c)
		}
	}
	slices.SortStableFunc(live, func(a, b ContentClaim) int {
		if c := cmp.Compare(a.LogIndex, b.LogIndex); c != 0 {
			return c
		}
		return cmp.Compare(a.Asset.String(), b.Asset.String())
	})
	for _, u := range unindexed {
		if len(live) == 0 || u.LogIndex < live[0].LogIndex {
			return nil, fmt.Errorf("%w: dataset %s (log entry %d)", ErrUnindexed, u.Asset, u.LogIndex)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	first, err := lookup.get(live[0].Asset)
	if err != nil {
		return nil, err
	}
	govs := []ID{live[0].Asset}
	for _, c := range live[1:] {
		if slices.Contains(govs, c.Asset) {
			continue
		}
		if w, _ := weightOf(first.Owners, c.Signers); w >= first.Threshold {
			govs = append(govs, c.Asset)
		}
	}
	return govs, nil
}
