package catalogtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
)

// testRegistry: assets, lineage and trails, read back inside and outside
// a transaction.
func testRegistry(t *testing.T, open Opener) {
	c := open(t)
	parent := state(t, "parent", "shared")
	child := state(t, "child", "child data", parent.Asset)
	second := state(t, "second", "shared") // a conflicting claim on parent's content
	apply(t, c, 1, func(tx catalog.Tx) error {
		return tx.PutAsset(catalog.AssetRecord{State: parent, Claim: "priority", Priority: parent.Asset, LogIndex: 1})
	})
	apply(t, c, 2, func(tx catalog.Tx) error {
		return tx.PutAsset(catalog.AssetRecord{State: child, Claim: "priority", Priority: child.Asset, LogIndex: 2})
	})
	apply(t, c, 3, func(tx catalog.Tx) error {
		if err := tx.PutAsset(catalog.AssetRecord{State: second, Claim: "conflict", Priority: parent.Asset, LogIndex: 3}); err != nil {
			return err
		}
		// A registration recorded again keeps its first record.
		return tx.PutAsset(catalog.AssetRecord{State: parent, Claim: "conflict", Priority: second.Asset, LogIndex: 3})
	})

	r, err := c.Asset(ctx, parent.Asset)
	must(t, err)
	if r.State.Asset != parent.Asset || r.State.Manifest.Content != parent.Manifest.Content || r.Claim != "priority" || r.Priority != parent.Asset || r.LogIndex != 1 {
		t.Fatalf("parent read back as %+v", r)
	}
	if r.State.Manifest.Name != "parent" || r.State.License != "terms parent" || r.State.Version != 1 || len(r.State.Owners) != 1 || r.State.Owners[0].DID != did("owner parent") {
		t.Fatalf("parent's state read back as %+v", r.State)
	}
	r, err = c.Asset(ctx, child.Asset)
	must(t, err)
	if len(r.State.Manifest.Parents) != 1 || r.State.Manifest.Parents[0] != child.Manifest.Parents[0] {
		t.Fatalf("child's parents read back as %+v", r.State.Manifest.Parents)
	}
	r, err = c.Asset(ctx, second.Asset)
	must(t, err)
	if r.Claim != "conflict" || r.Priority != parent.Asset || r.LogIndex != 3 {
		t.Fatalf("conflicting claim read back as %+v", r)
	}
	_, err = c.Asset(ctx, aid(t, "nobody"))
	notFound(t, "Asset of an unregistered id", err)

	all, err := c.ListAssets(ctx)
	must(t, err)
	equalIDs(t, "ListAssets", ids(all), []asset.ID{parent.Asset, child.Asset, second.Asset})
	same, err := c.AssetsByContent(ctx, parent.Manifest.Content)
	must(t, err)
	equalIDs(t, "AssetsByContent", ids(same), []asset.ID{parent.Asset, second.Asset})
	none, err := c.AssetsByContent(ctx, cid("nothing"))
	if err != nil || len(none) != 0 {
		t.Fatalf("AssetsByContent of unregistered content: %v, %v", none, err)
	}
	kids, err := c.Children(ctx, parent.Asset)
	must(t, err)
	equalIDs(t, "Children", kids, []asset.ID{child.Asset})
	if kids, err := c.Children(ctx, child.Asset); err != nil || len(kids) != 0 {
		t.Fatalf("Children of a leaf: %v, %v", kids, err)
	}

	// The same reads inside a transaction; SetState replaces the state.
	apply(t, c, 4, func(tx catalog.Tx) error {
		r, err := tx.Asset(parent.Asset)
		if err != nil {
			return err
		}
		if r.LogIndex != 1 {
			t.Errorf("tx.Asset: %+v", r)
		}
		if _, err := tx.Asset(aid(t, "nobody")); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("tx.Asset of an unregistered id: %v, want catalog.ErrNotFound", err)
		}
		same, err := tx.AssetsByContent(parent.Manifest.Content)
		if err != nil {
			return err
		}
		if got := ids(same); !slices.Equal(got, []asset.ID{parent.Asset, second.Asset}) {
			t.Errorf("tx.AssetsByContent: %v", got)
		}
		kids, err := tx.Children(parent.Asset)
		if err != nil {
			return err
		}
		if !slices.Equal(kids, []asset.ID{child.Asset}) {
			t.Errorf("tx.Children: %v", kids)
		}
		s := *r.State
		s.Version, s.License, s.Delisted = 2, "new terms", true
		s.Owners = append(slices.Clone(s.Owners), asset.Owner{DID: did("new owner"), Weight: 2})
		if err := tx.SetState(&s); err != nil {
			return err
		}
		ghost := *state(t, "ghost", "ghost data")
		if err := tx.SetState(&ghost); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("SetState of an unregistered asset: %v, want catalog.ErrNotFound", err)
		}
		return nil
	})
	r, err = c.Asset(ctx, parent.Asset)
	must(t, err)
	if r.State.Version != 2 || r.State.License != "new terms" || !r.State.Delisted || len(r.State.Owners) != 2 || r.State.Owners[1].DID != did("new owner") || r.LogIndex != 1 || r.Claim != "priority" {
		t.Fatalf("after SetState: %+v, state %+v", r, r.State)
	}

	// Trails: log order, one entry per (asset, log index).
	apply(t, c, 6, func(tx catalog.Tx) error { return tx.Trail(parent.Asset, 6, "proposal", "six") })
	apply(t, c, 5, func(tx catalog.Tx) error {
		if err := tx.Trail(parent.Asset, 5, "register", "five"); err != nil {
			return err
		}
		return tx.Trail(parent.Asset, 6, "proposal", "six again")
	})
	trail, err := c.Trail(ctx, parent.Asset)
	must(t, err)
	want := []catalog.TrailEntry{{LogIndex: 5, Type: "register", Summary: "five"}, {LogIndex: 6, Type: "proposal", Summary: "six"}}
	if !slices.Equal(trail, want) {
		t.Fatalf("Trail: %+v, want %+v", trail, want)
	}
	if trail, err := c.Trail(ctx, child.Asset); err != nil || len(trail) != 0 {
		t.Fatalf("Trail of an asset with none: %v, %v", trail, err)
	}
}

// testProposals: proposals with their approvals, the first approval of
// each approver kept.
func testProposals(t *testing.T, open Opener) {
	c := open(t)
	a := aid(t, "asset")
	p1, p2 := aid(t, "p1"), aid(t, "p2")
	apply(t, c, 9, func(tx catalog.Tx) error { return tx.PutProposal(p2, a, []byte("env p2"), "pending", 9) })
	apply(t, c, 10, func(tx catalog.Tx) error {
		if err := tx.PutProposal(p1, a, []byte("env p1"), "pending", 10); err != nil {
			return err
		}
		return tx.PutProposal(p2, a, []byte("other"), "applied", 10) // kept as first recorded
	})
	apply(t, c, 11, func(tx catalog.Tx) error { return tx.AddApproval(p1, "did:key:b", []byte("approval b"), 11) })
	apply(t, c, 12, func(tx catalog.Tx) error {
		if err := tx.AddApproval(p1, "did:key:a", []byte("approval a"), 12); err != nil {
			return err
		}
		if err := tx.AddApproval(p1, "did:key:b", []byte("approval b again"), 12); err != nil {
			return err
		}
		p, err := tx.Proposal(p1)
		if err != nil {
			return err
		}
		if len(p.Approvers) != 2 {
			t.Errorf("tx.Proposal sees approvers %v", p.Approvers)
		}
		if _, err := tx.Proposal(aid(t, "none")); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("tx.Proposal of an unknown id: %v, want catalog.ErrNotFound", err)
		}
		return tx.SetProposalStatus(p1, "applied")
	})
	p, err := c.Proposal(ctx, p1)
	must(t, err)
	if p.ID != p1 || p.Asset != a || string(p.Envelope) != "env p1" || p.Status != "applied" || p.LogIndex != 10 {
		t.Fatalf("proposal read back as %+v", p)
	}
	if !slices.Equal(p.Approvers, []string{"did:key:b", "did:key:a"}) || len(p.Approvals) != 2 || string(p.Approvals[0]) != "approval b" || string(p.Approvals[1]) != "approval a" {
		t.Fatalf("approvals %v %q, want b then a (log order), b's first approval kept", p.Approvers, p.Approvals)
	}
	p, err = c.Proposal(ctx, p2)
	must(t, err)
	if p.Status != "pending" || string(p.Envelope) != "env p2" || len(p.Approvers) != 0 {
		t.Fatalf("a proposal recorded again changed: %+v", p)
	}
	_, err = c.Proposal(ctx, aid(t, "none"))
	notFound(t, "Proposal of an unknown id", err)
	ps, err := c.Proposals(ctx, a)
	must(t, err)
	if len(ps) != 2 || ps[0].ID != p1 || ps[1].ID != p2 || len(ps[0].Approvers) != 2 {
		t.Fatalf("Proposals: %+v, want p1 then p2 (newest first), with their approvals", ps)
	}
	if ps, err := c.Proposals(ctx, aid(t, "other")); err != nil || len(ps) != 0 {
		t.Fatalf("Proposals of an asset with none: %v, %v", ps, err)
	}
}

// testClaims: claimants and their claims on content.
func testClaims(t *testing.T, open Opener) {
	c := open(t)
	a, b, d, e := aid(t, "a"), aid(t, "b"), aid(t, "d"), aid(t, "e")
	shared, file := cid("shared").String(), cid("file").String()
	apply(t, c, 1, func(tx catalog.Tx) error {
		return tx.PutClaimant(catalog.Claimant{Asset: a, Content: shared, LogIndex: 1, Signers: []identity.DID{did("1"), did("2")}, Dataset: true})
	})
	apply(t, c, 2, func(tx catalog.Tx) error {
		if err := tx.PutClaimant(catalog.Claimant{Asset: b, Content: shared, LogIndex: 2, Signers: []identity.DID{did("3")}, Conflict: true}); err != nil {
			return err
		}
		return tx.Claims(a.String(), func(add func(string) error) error {
			for _, f := range []string{file, cid("file 2").String(), file} {
				if err := add(f); err != nil {
					return err
				}
			}
			return nil
		})
	})
	cl, err := c.ContentClaims(ctx, shared)
	must(t, err)
	if len(cl) != 2 || cl[0].Asset != a || cl[0].LogIndex != 1 || cl[0].Conflict || !slices.Equal(cl[0].Signers, []identity.DID{did("1"), did("2")}) ||
		cl[1].Asset != b || cl[1].LogIndex != 2 || !cl[1].Conflict || !slices.Equal(cl[1].Signers, []identity.DID{did("3")}) {
		t.Fatalf("ContentClaims: %+v", cl)
	}
	cl, err = c.ContentClaims(ctx, file)
	must(t, err)
	if len(cl) != 1 || cl[0].Asset != a {
		t.Fatalf("claims on a dataset's file: %+v, want a's alone", cl)
	}
	if ok, err := c.IndexedDataset(ctx, shared); err != nil || !ok {
		t.Fatalf("IndexedDataset of an indexed dataset: %v, %v", ok, err)
	}
	if ok, err := c.IndexedDataset(ctx, file); err != nil || ok {
		t.Fatalf("IndexedDataset of a file: %v, %v", ok, err)
	}
	apply(t, c, 3, func(tx catalog.Tx) error { return tx.DropFileClaims(a, shared) })
	if cl, err := c.ContentClaims(ctx, file); err != nil || len(cl) != 0 {
		t.Fatalf("claims after DropFileClaims: %+v, %v", cl, err)
	}
	if cl, err := c.ContentClaims(ctx, shared); err != nil || len(cl) != 2 {
		t.Fatalf("DropFileClaims dropped the claim on the asset's own content: %+v, %v", cl, err)
	}

	// Unindexed datasets, and a claimant recorded again: its dataset
	// flags change, nothing else.
	apply(t, c, 4, func(tx catalog.Tx) error {
		if err := tx.PutClaimant(catalog.Claimant{Asset: d, Content: cid("d").String(), LogIndex: 4, Signers: []identity.DID{did("4")}, Unindexed: true}); err != nil {
			return err
		}
		return tx.PutClaimant(catalog.Claimant{Asset: e, Content: cid("e").String(), LogIndex: 4, Signers: []identity.DID{did("5")}, Unindexed: true})
	})
	un, err := c.Unindexed(ctx)
	must(t, err)
	if len(un) != 2 || un[0].Asset != d || un[0].Content != cid("d").String() || un[0].LogIndex != 4 || !un[0].Unindexed || un[1].Asset != e {
		t.Fatalf("Unindexed: %+v", un)
	}
	apply(t, c, 5, func(tx catalog.Tx) error {
		return tx.PutClaimant(catalog.Claimant{Asset: e, Content: cid("e").String(), LogIndex: 5, Signers: []identity.DID{did("6")}, Dataset: true})
	})
	un, err = c.Unindexed(ctx)
	must(t, err)
	if len(un) != 1 || un[0].Asset != d {
		t.Fatalf("Unindexed after e was indexed: %+v", un)
	}
	if ok, err := c.IndexedDataset(ctx, cid("e").String()); err != nil || !ok {
		t.Fatalf("IndexedDataset after a claimant's flags changed: %v, %v", ok, err)
	}
	cl, err = c.ContentClaims(ctx, cid("e").String())
	must(t, err)
	if len(cl) != 1 || cl[0].LogIndex != 4 || !slices.Equal(cl[0].Signers, []identity.DID{did("5")}) {
		t.Fatalf("a claimant recorded again changed more than its flags: %+v", cl)
	}
}

// testReindex: an unindexed dataset whose index is back claims its files;
// one whose index still does not read stays unindexed, its claims undone.
func testReindex(t *testing.T, open Opener) {
	c := open(t)
	d, g := aid(t, "d"), aid(t, "g")
	apply(t, c, 1, func(tx catalog.Tx) error {
		if err := tx.PutClaimant(catalog.Claimant{Asset: d, Content: cid("index d").String(), LogIndex: 1, Unindexed: true}); err != nil {
			return err
		}
		return tx.PutClaimant(catalog.Claimant{Asset: g, Content: cid("index g").String(), LogIndex: 1, Unindexed: true})
	})
	if done, err := c.Reindex(ctx, cid("no such index").String(), func(func(string) error) error { t.Fatal("called"); return nil }); err != nil || len(done) != 0 {
		t.Fatalf("Reindex of content no dataset waits for: %v, %v", done, err)
	}
	done, err := c.Reindex(ctx, cid("index d").String(), func(add func(string) error) error {
		if err := add(cid("f1").String()); err != nil {
			return err
		}
		return add(cid("f2").String())
	})
	must(t, err)
	equalIDs(t, "Reindex", done, []asset.ID{d})
	for _, f := range []string{"f1", "f2"} {
		cl, err := c.ContentClaims(ctx, cid(f).String())
		if err != nil || len(cl) != 1 || cl[0].Asset != d {
			t.Fatalf("claims on reindexed file %s: %+v, %v", f, cl, err)
		}
	}
	if ok, err := c.IndexedDataset(ctx, cid("index d").String()); err != nil || !ok {
		t.Fatalf("IndexedDataset after Reindex: %v, %v", ok, err)
	}
	bad := errors.New("index does not parse")
	if _, err := c.Reindex(ctx, cid("index g").String(), func(add func(string) error) error {
		if err := add(cid("f9").String()); err != nil {
			return err
		}
		return bad
	}); !errors.Is(err, bad) {
		t.Fatalf("Reindex with an unreadable index: %v, want its error", err)
	}
	un, err := c.Unindexed(ctx)
	must(t, err)
	if len(un) != 1 || un[0].Asset != g {
		t.Fatalf("Unindexed after one reindex failed: %+v, want g", un)
	}
	if cl, err := c.ContentClaims(ctx, cid("f9").String()); err != nil || len(cl) != 0 {
		t.Fatalf("a failed reindex left claims: %+v, %v", cl, err)
	}
}
