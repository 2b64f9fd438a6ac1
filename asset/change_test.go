package asset

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/charter-dev/charter/identity"
)

func (r registry) children(id ID) ([]ID, error) {
	var out []ID
	for k, s := range r {
		for _, p := range s.Manifest.Parents {
			if p.Asset == id {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b ID) int { return compareID(a, b) })
	return out, nil
}

func compareID(a, b ID) int {
	switch as, bs := a.String(), b.String(); {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// contributors returns n contributors with shares summing to Whole.
func contributors(t testing.TB, n int) []Contributor {
	out := make([]Contributor, n)
	left := Share(Whole)
	for i := range out {
		sh := left
		if i < n-1 {
			sh = Whole / Share(n)
		}
		out[i] = Contributor{key(t, byte(i+10)).DID(), sh}
		left -= sh
	}
	return out
}

// TestChangeCheckedAgainstDescendants: a contributor change that would push
// a descendant's lineage over the payee limit is refused, and the ledger
// agrees that the descendant could not be settled after it; changes that
// keep every lineage within the limit pass.
func TestChangeCheckedAgainstDescendants(t *testing.T) {
	signers := []identity.DID{key(t, 0).DID(), key(t, 1).DID()}
	reg := registry{}
	// A lattice in which paths double at every level, built up to the last
	// level that registers: its assets pay close to MaxPayees recipients.
	root := reg.add(t, manifest(t, "root-a"))
	level := []*State{root, reg.add(t, manifest(t, "root-b"))}
	var prev []*State
	for l := 1; ; l++ {
		var next []*State
		for j := range 2 {
			m := manifest(t, fmt.Sprintf("l%d-%d", l, j))
			m.Parents = []Parent{{Asset: level[0].Asset, Royalty: 1000}, {Asset: level[1].Asset, Royalty: 1000}}
			if err := CheckRegistration(m, signers, reg.lookup); err != nil {
				if !errors.Is(err, ErrRoyalties) {
					t.Fatal(err)
				}
				break
			}
			next = append(next, reg.add(t, m))
		}
		if len(next) < 2 {
			break
		}
		prev, level = level, next
	}
	leaf := level[0]

	// One more contributor on the root adds one payee per path from the
	// leaf to the root: thousands.
	add := Change{Kind: SetContributors, Contributors: contributors(t, 2)}
	err := CheckChange(root, add, reg.lookup, reg.children)
	if !errors.Is(err, ErrRoyalties) {
		t.Fatalf("adding a contributor to the root: got %v, want ErrRoyalties", err)
	}
	after := *root
	after.Contributors = add.Contributors
	reg[root.Asset] = &after
	if splitVerdict(reg, leaf.Asset, nil) == nil {
		t.Fatal("the ledger settles the leaf after the change; the check refused a settleable change")
	}
	reg[root.Asset] = root

	// The same number of contributors, other people: fine.
	same := Change{Kind: SetContributors, Contributors: []Contributor{{key(t, 7).DID(), Whole}}}
	if err := CheckChange(root, same, reg.lookup, reg.children); err != nil {
		t.Fatalf("replacing the contributor: %v", err)
	}
	// One more contributor just below the leaf level: one path, fits.
	near := prev[0]
	if err := CheckChange(near, add, reg.lookup, reg.children); err != nil {
		t.Fatalf("adding a contributor near the leaf: %v", err)
	}
	after = *near
	after.Contributors = add.Contributors
	reg[near.Asset] = &after
	if err := splitVerdict(reg, leaf.Asset, nil); err != nil {
		t.Fatalf("the check passed a change the ledger cannot settle: %v", err)
	}
	reg[near.Asset] = near

	// A child recording the root with royalty 0 does not pay it: a change
	// to an asset whose only descendants are royalty-free is not limited
	// by them.
	lone := reg.add(t, manifest(t, "lone"))
	free := manifest(t, "free-child")
	free.Parents = []Parent{{Asset: lone.Asset, Royalty: 0}}
	reg.add(t, free)
	if err := CheckChange(lone, Change{Kind: SetContributors, Contributors: contributors(t, MaxContributors)}, reg.lookup, reg.children); err != nil {
		t.Fatalf("royalty-free descendant limited the change: %v", err)
	}
	// Other kinds of change never touch the limits.
	lic := "x"
	if err := CheckChange(root, Change{Kind: SetLicense, License: &lic}, reg.lookup, reg.children); err != nil {
		t.Fatal(err)
	}
}
