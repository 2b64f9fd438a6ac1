package asset

import (
	"errors"
	"fmt"
	"math/big"
)

// Limits of a lineage that pays royalties; they equal those of the
// settlement engine (ledger/split MaxDepth and MaxSlots), so that every
// registered asset can be settled. TestRoyaltiesAgreeWithLedger holds them
// to it.
const (
	// MaxRoyaltyDepth is the most assets on one paying path from an asset
	// up its lineage, the asset included. Parents with royalty 0 do not
	// count: they record lineage without payment.
	MaxRoyaltyDepth = 32
	// MaxPayees is the most (path, contributor) recipients a use of one
	// asset may pay.
	MaxPayees = 10000
)

// ErrRoyalties reports a lineage whose royalties could never be paid:
// too deep, too many payees, or an ancestor owing more in absolute
// royalties than it receives.
var ErrRoyalties = errors.New("asset: lineage royalties cannot be settled")

// rnode is one asset of a lineage as royalty checks see it.
type rnode struct {
	parents      []Parent
	contributors int
}

// checkRoyalties checks that a use of the new asset (self, manifest m) can
// be settled the way the ledger settles it: money received by an asset X
// first pays X's parents (relative: a share of what X received; absolute:
// a share of the gross of the use), then X's contributors. On every paying
// path an asset must receive at least what it owes. Existing assets were
// checked when they were registered, and lineage never changes, so only
// paths starting at the new asset need checking.
func checkRoyalties(self ID, m *Manifest, lookup Lookup) error {
	nodes := map[ID]*rnode{self: {parents: m.Parents, contributors: len(m.Contributors)}}
	load := func(id ID) (*rnode, error) {
		if n, ok := nodes[id]; ok {
			return n, nil
		}
		s, err := lookup.get(id)
		if err != nil {
			return nil, err
		}
		n := &rnode{parents: s.Manifest.Parents, contributors: len(s.Contributors)}
		nodes[id] = n
		return n, nil
	}

	// Depth-first over paying edges: longest path, payee count, and a
	// topological order (parents after children).
	depth := map[ID]int{}
	payees := map[ID]int{}
	state := map[ID]int{} // 1 visiting, 2 done
	var order []ID
	var visit func(id ID) error
	visit = func(id ID) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("%w: through %s", ErrCycle, id)
		case 2:
			return nil
		}
		state[id] = 1
		n, err := load(id)
		if err != nil {
			return err
		}
		d, p := 1, n.contributors
		for _, par := range n.parents {
			if par.Royalty == 0 {
				continue
			}
			if err := visit(par.Asset); err != nil {
				return err
			}
			d = max(d, 1+depth[par.Asset])
			p = min(p+payees[par.Asset], MaxPayees+1)
		}
		depth[id], payees[id], state[id] = d, p, 2
		order = append(order, id)
		return nil
	}
	if err := visit(self); err != nil {
		return err
	}
	if depth[self] > MaxRoyaltyDepth {
		return fmt.Errorf("%w: a paying path of %d assets, limit %d\nhint: record distant ancestors with royalty 0", ErrRoyalties, depth[self], MaxRoyaltyDepth)
	}
	if payees[self] > MaxPayees {
		return fmt.Errorf("%w: a use would pay more than %d (path, contributor) recipients", ErrRoyalties, MaxPayees)
	}

	// The least fraction of the gross each asset receives on any paying
	// path, children before parents; check each asset against it.
	whole := big.NewRat(int64(Whole), 1)
	least := map[ID]*big.Rat{self: big.NewRat(1, 1)}
	for i := len(order) - 1; i >= 0; i-- {
		id := order[i]
		f := least[id]
		n := nodes[id]
		abs, rel := new(big.Rat), new(big.Rat)
		for _, par := range n.parents {
			if par.Royalty == 0 {
				continue
			}
			share := new(big.Rat).Quo(big.NewRat(int64(par.Royalty), 1), whole)
			due := share
			if par.Stacking == Absolute {
				abs.Add(abs, share)
			} else {
				rel.Add(rel, share)
				due = new(big.Rat).Mul(f, share)
			}
			if cur, ok := least[par.Asset]; !ok || due.Cmp(cur) < 0 {
				least[par.Asset] = due
			}
		}
		// Owed: abs + f*rel; received: f.
		owed := new(big.Rat).Add(abs, new(big.Rat).Mul(f, rel))
		if owed.Cmp(f) > 0 {
			return fmt.Errorf("%w: %s receives as little as %s of the gross but owes %s in royalties\nhint: lower the absolute royalties above it, or make them relative",
				ErrRoyalties, id, f.FloatString(6), owed.FloatString(6))
		}
	}
	return nil
}
