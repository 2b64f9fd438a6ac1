package asset

import "fmt"

// Children returns the assets that name id as a direct parent (with any
// royalty). It returns an empty list for an asset without children.
type Children func(id ID) ([]ID, error)

// CheckChange decides whether change, made to the asset s, keeps every
// lineage it affects settleable. Parents, royalties and stacking are fixed
// at registration, so the only governed field that reaches a lineage's
// limits is the number of contributors: each one is a payee on every paying
// path that runs through the asset. A change that adds contributors is
// refused with ErrRoyalties when the asset itself, or any asset below it
// (a descendant that reaches it through parents with a royalty), would then
// pay more than MaxPayees (path, contributor) recipients per use; the ledger
// could not settle that descendant's uses.
//
// CheckChange does no I/O: lookup reads asset states and children lists the
// assets derived from one. Every descendant reached through paying edges is
// visited once; states are read once each.
func CheckChange(s *State, change Change, lookup Lookup, children Children) error {
	if change.Kind != SetContributors {
		return nil
	}
	delta := len(change.Contributors) - len(s.Contributors)
	if delta <= 0 {
		return nil // fewer payees never break a limit
	}
	states := map[ID]*State{s.Asset: s}
	get := func(id ID) (*State, error) {
		if st, ok := states[id]; ok {
			return st, nil
		}
		st, err := lookup.get(id)
		if err != nil {
			return nil, err
		}
		states[id] = st
		return st, nil
	}
	// The assets that pay s: s and every descendant reaching it through
	// edges with a royalty, in breadth-first order.
	affected := map[ID]bool{s.Asset: true}
	order := []ID{s.Asset}
	for i := 0; i < len(order); i++ {
		kids, err := children(order[i])
		if err != nil {
			return fmt.Errorf("asset: children of %s: %w", order[i], err)
		}
		for _, k := range kids {
			if affected[k] {
				continue
			}
			ks, err := get(k)
			if err != nil {
				return err
			}
			paying := false
			for _, p := range ks.Manifest.Parents {
				paying = paying || (p.Asset == order[i] && p.Royalty > 0)
			}
			if paying {
				affected[k] = true
				order = append(order, k)
			}
		}
	}
	capped := func(v int) int { return min(v, MaxPayees+1) }
	// paths(x): paying paths from x up to s; payees(x): (path,
	// contributor) recipients of a use of x today. Both memoised and
	// capped just above the limit, since they grow exponentially on
	// lattices.
	paths := map[ID]int{s.Asset: 1}
	var pathsOf func(id ID) (int, error)
	pathsOf = func(id ID) (int, error) {
		if n, ok := paths[id]; ok {
			return n, nil
		}
		st, err := get(id)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, p := range st.Manifest.Parents {
			if p.Royalty == 0 || !affected[p.Asset] {
				continue
			}
			m, err := pathsOf(p.Asset)
			if err != nil {
				return 0, err
			}
			n = capped(n + m)
		}
		paths[id] = n
		return n, nil
	}
	payees := map[ID]int{}
	var payeesOf func(id ID, depth int) (int, error)
	payeesOf = func(id ID, depth int) (int, error) {
		if n, ok := payees[id]; ok {
			return n, nil
		}
		if depth > MaxRoyaltyDepth {
			return 0, fmt.Errorf("%w: a paying path longer than %d assets", ErrRoyalties, MaxRoyaltyDepth)
		}
		st, err := get(id)
		if err != nil {
			return 0, err
		}
		n := len(st.Contributors)
		for _, p := range st.Manifest.Parents {
			if p.Royalty == 0 {
				continue
			}
			m, err := payeesOf(p.Asset, depth+1)
			if err != nil {
				return 0, err
			}
			n = capped(n + m)
		}
		payees[id] = n
		return n, nil
	}
	for _, id := range order {
		pa, err := pathsOf(id)
		if err != nil {
			return err
		}
		now, err := payeesOf(id, 1)
		if err != nil {
			return err
		}
		if after := capped(now + capped(delta*pa)); after > MaxPayees {
			who := "a use of it"
			if id != s.Asset {
				who = fmt.Sprintf("a use of %s, derived from it,", id)
			}
			return fmt.Errorf("%w: with %d contributors, %s would pay more than %d (path, contributor) recipients\nhint: keep the number of contributors at %d or fewer",
				ErrRoyalties, len(change.Contributors), who, MaxPayees, len(s.Contributors)+(MaxPayees-now)/max(pa, 1))
		}
	}
	return nil
}
