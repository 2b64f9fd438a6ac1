package asset

import (
	"errors"
	"fmt"
	"testing"

	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger/split"
	"pgregory.net/rapid"
)

// splitVerdict asks the settlement engine whether a use of leaf (registered
// in reg, or the unregistered manifest m) can be settled.
func splitVerdict(reg registry, leaf ID, m *Manifest) error {
	node := func(id ID, parents []Parent, cs []Contributor) split.Node {
		n := split.Node{Asset: id.String()}
		for _, c := range cs {
			n.Contributors = append(n.Contributors, split.Contributor{Account: c.DID.String(), Share: int64(c.Share)})
		}
		for _, p := range parents {
			st := split.Relative
			if p.Stacking == Absolute {
				st = split.Absolute
			}
			n.Parents = append(n.Parents, split.Parent{Asset: p.Asset.String(), Share: int64(p.Royalty), Stacking: st})
		}
		return n
	}
	_, err := split.Compile(leaf.String(), func(a string) (split.Node, error) {
		id, err := ParseID(a)
		if err != nil {
			return split.Node{}, err
		}
		if id == leaf && m != nil {
			return node(id, m.Parents, m.Contributors), nil
		}
		s := reg[id]
		if s == nil {
			return split.Node{}, fmt.Errorf("unknown %s", a)
		}
		return node(id, s.Manifest.Parents, s.Contributors), nil
	})
	return err
}

// TestRoyaltiesAgreeWithLedger: on random lineages, registration refuses
// exactly the assets whose uses the ledger could not settle.
func TestRoyaltiesAgreeWithLedger(t *testing.T) {
	signers := []identity.DID{key(t, 0).DID(), key(t, 1).DID()}
	dids := []identity.DID{key(t, 0).DID(), key(t, 1).DID(), key(t, 2).DID()}
	refusedSome, acceptedSome := false, false
	rapid.Check(t, func(rt *rapid.T) {
		reg := registry{}
		var ids []ID
		n := rapid.IntRange(1, 10).Draw(rt, "assets")
		for i := range n {
			m := manifest(t, fmt.Sprintf("a%d", i))
			nc := rapid.IntRange(1, 3).Draw(rt, "contributors")
			m.Contributors = nil
			left := Whole
			for j := range nc {
				sh := left
				if j < nc-1 {
					sh = Share(rapid.Int64Range(1, int64(left)-int64(nc-1-j)).Draw(rt, "share"))
				}
				m.Contributors = append(m.Contributors, Contributor{dids[j], sh})
				left -= sh
			}
			if len(ids) > 0 {
				np := rapid.IntRange(0, min(3, len(ids))).Draw(rt, "parents")
				picked := rapid.Permutation(ids).Draw(rt, "perm")[:np]
				budget := Whole
				for _, pid := range picked {
					r := Share(rapid.SampledFrom([]int64{0, 1, 50_000, 200_000, 500_000, 900_000}).Draw(rt, "royalty"))
					r = min(r, budget)
					budget -= r
					st := rapid.SampledFrom([]Stacking{Relative, Absolute}).Draw(rt, "stacking")
					m.Parents = append(m.Parents, Parent{Asset: pid, Royalty: r, Stacking: st})
				}
			}
			id, _ := m.ID()
			got := CheckRegistration(m, signers, reg.lookup)
			want := splitVerdict(reg, id, m)
			if got != nil && !errors.Is(got, ErrRoyalties) {
				rt.Fatalf("unexpected refusal: %v", got)
			}
			if (got == nil) != (want == nil) {
				rt.Fatalf("registration says %v, ledger says %v", got, want)
			}
			if got == nil {
				acceptedSome = true
				ids = append(ids, reg.add(t, m).Asset)
			} else {
				refusedSome = true
			}
		}
	})
	if !refusedSome || !acceptedSome {
		t.Fatalf("property never exercised both outcomes: refused %v accepted %v", refusedSome, acceptedSome)
	}
}

func TestRoyaltyLimits(t *testing.T) {
	signers := []identity.DID{key(t, 0).DID(), key(t, 1).DID()}
	// Depth: a chain of paying parents.
	reg := registry{}
	var prev *State
	for i := 0; ; i++ {
		m := manifest(t, fmt.Sprintf("chain-%d", i))
		if prev != nil {
			m.Parents = []Parent{{Asset: prev.Asset, Royalty: 10_000}}
		}
		id, _ := m.ID()
		err := CheckRegistration(m, signers, reg.lookup)
		ledger := splitVerdict(reg, id, m)
		if (err == nil) != (ledger == nil) {
			t.Fatalf("chain of %d: registration %v, ledger %v", i+1, err, ledger)
		}
		if err != nil {
			if !errors.Is(err, ErrRoyalties) || i+1 != MaxRoyaltyDepth+1 {
				t.Fatalf("chain of %d refused: %v", i+1, err)
			}
			// The same chain recording the parent with royalty 0 is fine.
			m.Parents[0].Royalty = 0
			if err := CheckRegistration(m, signers, reg.lookup); err != nil {
				t.Fatalf("royalty-free link: %v", err)
			}
			break
		}
		prev = reg.add(t, m)
	}
	// Payees: a lattice in which paths double at every level.
	reg = registry{}
	level := []*State{reg.add(t, manifest(t, "root-a")), reg.add(t, manifest(t, "root-b"))}
	for l := 1; l < MaxRoyaltyDepth; l++ {
		var next []*State
		for j := range 2 {
			m := manifest(t, fmt.Sprintf("l%d-%d", l, j))
			m.Parents = []Parent{{Asset: level[0].Asset, Royalty: 1000}, {Asset: level[1].Asset, Royalty: 1000}}
			id, _ := m.ID()
			err := CheckRegistration(m, signers, reg.lookup)
			// Compiling is costly past the first levels; compare near the limit.
			if l >= 11 {
				ledger := splitVerdict(reg, id, m)
				if (err == nil) != (ledger == nil) {
					t.Fatalf("level %d: registration %v, ledger %v", l, err, ledger)
				}
			}
			if err != nil {
				if !errors.Is(err, ErrRoyalties) || l < 11 {
					t.Fatalf("level %d: %v", l, err)
				}
				return // refused where the ledger gives up
			}
			next = append(next, reg.add(t, m))
		}
		level = next
	}
	t.Fatal("lattice never reached the payee limit")
}

func TestAbsoluteRoyaltyOverAllocation(t *testing.T) {
	signers := []identity.DID{key(t, 0).DID(), key(t, 1).DID()}
	reg := registry{}
	gp := reg.add(t, manifest(t, "grandparent"))
	pm := manifest(t, "parent")
	pm.Parents = []Parent{{Asset: gp.Asset, Royalty: 300_000, Stacking: Absolute}} // 30% of any gross
	p := reg.add(t, pm)
	// A child paying its parent 10% relative: the parent receives 10% of
	// the gross but owes 30% of it.
	c := manifest(t, "child")
	c.Parents = []Parent{{Asset: p.Asset, Royalty: 100_000}}
	if err := CheckRegistration(c, signers, reg.lookup); !errors.Is(err, ErrRoyalties) {
		t.Fatalf("got %v, want ErrRoyalties", err)
	}
	c.Parents[0].Royalty = 300_000 // now it receives exactly what it owes
	if err := CheckRegistration(c, signers, reg.lookup); err != nil {
		t.Fatal(err)
	}
}
