package metering

import (
	"errors"
	"fmt"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

// Dispute rules. A dispute holds an asset's revenue, so opening one needs
// standing, and each opener holds at most one open dispute per asset:
// nobody can freeze revenue by volume.
var (
	// ErrNoStanding: the opener is not an owner, contributor or licensee
	// of the asset, nor the operator.
	ErrNoStanding = errors.New("metering: no standing to dispute this asset")
	// ErrDisputeOpen: the opener has an open dispute on the asset already.
	ErrDisputeOpen = errors.New("metering: an open dispute by this opener exists")
)

// CheckStanding decides whether opener may open a dispute on an asset.
// lineage holds the asset's state first, then the states of its
// ancestors. A current owner or contributor of the asset or of an
// ancestor (whose data or model it was derived from), a licensee (who
// holds or held a grant on it) or the operator may; openDispute is the id
// of the opener's open dispute on the asset, "" if none, and refuses a
// second one. It does no I/O.
func CheckStanding(lineage []*asset.State, opener identity.DID, licensee, operator bool, openDispute string) error {
	a := lineage[0].Asset
	if openDispute != "" {
		return fmt.Errorf("%w: %s on %s\nhint: it holds the revenue until the owners resolve it; one open dispute per opener and asset", ErrDisputeOpen, openDispute, a)
	}
	if operator || licensee {
		return nil
	}
	for _, st := range lineage {
		if st.IsOwner(opener) {
			return nil
		}
		for _, c := range st.Contributors {
			if c.DID == opener {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s is not an owner, contributor or licensee of %s or of an asset it derives from\nhint: ask the operator to open it for you", ErrNoStanding, opener, a)
}

// Lineage returns st followed by the states of its ancestors, read with
// lookup (at most asset.MaxAncestors).
func Lineage(st *asset.State, lookup asset.Lookup) ([]*asset.State, error) {
	ids, err := asset.Ancestors(st, lookup)
	if err != nil {
		return nil, err
	}
	out := []*asset.State{st}
	for _, id := range ids {
		s, err := lookup(id)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}
