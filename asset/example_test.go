package asset_test

import (
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

func seedKey(n byte) *identity.Key {
	seed := make([]byte, 32)
	seed[31] = n
	k, _ := identity.NewKeyFromSeed(seed)
	return k
}

// Register an asset owned 2-of-2, then hand it to a new owner by proposal
// and approval.
func Example() {
	alice, bob, carol := seedKey(0), seedKey(1), seedKey(2)
	created := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	m := &asset.Manifest{
		Content:      content.IDFromDigest([32]byte{1}),
		Name:         "survey.csv",
		MediaType:    "text/csv",
		Owners:       []asset.Owner{{DID: alice.DID(), Weight: 1}, {DID: bob.DID(), Weight: 1}},
		Threshold:    2,
		Contributors: []asset.Contributor{{DID: alice.DID(), Share: 600_000}, {DID: bob.DID(), Share: 400_000}},
		Created:      asset.NewTime(created),
	}
	env, _ := m.Sign(alice, bob)

	// The server's side: verify, check, create the state.
	got, id, signers, _ := asset.OpenManifest(env)
	noParents := func(asset.ID) (*asset.State, error) { return nil, nil }
	fmt.Println("register:", asset.CheckRegistration(got, signers, noParents))
	state, _ := asset.NewState(got)
	fmt.Println(state.Asset == id, "version", state.Version)

	// Alice proposes to make Carol the sole owner; Bob approves.
	p := &asset.Proposal{
		Asset:    id,
		Change:   asset.Change{Kind: asset.SetOwners, Owners: []asset.Owner{{DID: carol.DID(), Weight: 1}}, Threshold: 1},
		Expires:  asset.NewTime(created.Add(7 * 24 * time.Hour)),
		Nonce:    "example",
		Proposer: alice.DID(),
		Version:  state.Version,
	}
	penv, _ := p.Sign(alice)
	now := created.Add(time.Hour)
	_, status, _ := asset.Apply(state, penv, nil, now)
	fmt.Println("alice alone:", status)
	a, _ := asset.NewApproval(p, bob.DID())
	aenv, _ := a.Sign(bob)
	state, status, _ = asset.Apply(state, penv, []*identity.Envelope{aenv}, now)
	fmt.Println("with bob:", status, "version", state.Version, "carol owns:", state.IsOwner(carol.DID()))
	// Output:
	// register: <nil>
	// true version 1
	// alice alone: pending
	// with bob: applied version 2 carol owns: true
}
