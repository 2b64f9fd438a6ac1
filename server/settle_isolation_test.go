package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
)

// TestBadLineageDoesNotHaltSettlement: a charge whose lineage cannot be
// split (here: a catalog holding a lineage made under older rules, whose
// shares no longer sum to 100%) fails on its own and is reported with its
// reason; every other licensee's use settles in the same run.
func TestBadLineageDoesNotHaltSettlement(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	m.fund(m.consumer.DID(), 1_000_000)
	// An honest second asset, outside the model's lineage, used by the
	// same consumer.
	other := m.registerPlain(t, "other model", m.max, m.s.licenseOf(t, m.model))
	ans, err := m.c.RequestGrant(ctx, m.consumer, other, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant: %v %+v", err, ans)
	}
	for i, g := range []asset.ID{m.grant.ID, ans.Grant.ID} {
		u := &metering.Usage{Grant: g, ID: fmt.Sprintf("ev-%d", i), Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1000}
		if code, b := m.report(m.consumer, u); code != http.StatusCreated {
			t.Fatalf("%d %s", code, b)
		}
	}
	// Break the corpus's lineage underneath the server.
	rec, err := m.s.cat.Asset(ctx, m.dataset)
	if err != nil {
		t.Fatal(err)
	}
	st := *rec.State
	st.Contributors = []asset.Contributor{{DID: m.ann.DID(), Share: 600_000}}
	inject(t, m.s.cat, func(tx catalog.Tx) error { return tx.SetState(&st) })
	out, err := m.s.Settle(ctx)
	if err != nil {
		t.Fatalf("one bad lineage halted settlement for everyone: %v", err)
	}
	if out.Charged != 1 || out.Uses != 1 || len(out.Failed) != 1 {
		t.Fatalf("settlement %+v: want the other asset's use charged and the model's use failed", out)
	}
	if f := out.Failed[0]; !strings.Contains(f.Error, "lineage of asset "+m.model.String()) || !strings.Contains(f.Error, "proposal") {
		t.Fatalf("failure reason %q does not say which lineage or what to do", f.Error)
	}
	if b := m.balance(settlement.ContributorAccount(m.max.DID().String(), "USD-4")); b.Net() != 20 {
		t.Fatalf("max earned %d from the honest use, want 20", b.Net())
	}
	// The model's owner sees the failure and its reason; the other asset's
	// owner view lists nothing; a stranger may not look.
	fs, err := m.c.WithKey(m.max).Unsettled(ctx, m.model.String())
	if err != nil || len(fs) != 1 || fs[0].Error != out.Failed[0].Error {
		t.Fatalf("owner's view of the failure: %+v %v", fs, err)
	}
	if fs, err := m.c.WithKey(m.max).Unsettled(ctx, other.String()); err != nil || len(fs) != 0 {
		t.Fatalf("the honest asset lists failures: %+v %v", fs, err)
	}
	if _, err := m.c.WithKey(m.consumer).Unsettled(ctx, m.model.String()); client.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("a non-owner read the failures: %v", err)
	}
	// The failed use stays unsettled and is listed again next time.
	again, err := m.s.Settle(ctx)
	if err != nil || len(again.Failed) != 1 || again.Charged != 0 {
		t.Fatalf("second run %+v %v", again, err)
	}
}

// registerPlain registers a fresh asset owned and contributed by k alone
// under licence lic.
func (m *market) registerPlain(t *testing.T, name string, k *identity.Key, lic string, parents ...asset.Parent) asset.ID {
	t.Helper()
	ctx := context.Background()
	b := []byte(name + " " + grant.NewNonce())
	info, err := m.c.Put(ctx, strings.NewReader(string(b)), int64(len(b)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	man := &asset.Manifest{Content: id, Name: name, MediaType: "application/octet-stream", Created: asset.NewTime(time.Now()), Threshold: 1, License: lic,
		Owners:       []asset.Owner{{DID: k.DID(), Weight: 1}},
		Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}},
		Parents:      parents}
	env, _ := man.Sign(k)
	a, err := m.c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	return mustID(t, a.Asset)
}

func (s *Server) licenseOf(t *testing.T, a asset.ID) string {
	rec, err := s.cat.Asset(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return rec.State.License
}

// TestContributorChangeCheckedAgainstDescendants: a contributor change that
// would push a descendant's lineage over the payee limit is refused when
// proposed, and when the last approval comes in after descendants were
// registered meanwhile; nothing is logged for a refused statement.
func TestContributorChangeCheckedAgainstDescendants(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	k1, k2 := m.ann, m.bea
	put := func(name string) content.ID {
		b := []byte(name)
		info, err := m.c.Put(ctx, strings.NewReader(name), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		return id
	}
	reg := func(man *asset.Manifest, ks ...*identity.Key) (asset.ID, error) {
		env, _ := man.Sign(ks...)
		a, err := m.c.Register(ctx, env)
		if err != nil {
			return asset.ID{}, err
		}
		return mustID(t, a.Asset), nil
	}
	open := openTerms(t, func(b []byte) content.ID { return put(string(b)) })
	rights := map[asset.ID]asset.ID{} // parent -> k1's derivative grant
	man := func(name string, parents ...asset.ID) *asset.Manifest {
		mm := &asset.Manifest{Content: put(name), Name: name, MediaType: "text/plain", Created: asset.NewTime(time.Now()), Threshold: 1, License: open,
			Owners:       []asset.Owner{{DID: k1.DID(), Weight: 1}},
			Contributors: []asset.Contributor{{DID: k1.DID(), Share: asset.Whole}}}
		for _, p := range parents {
			if rights[p].IsZero() {
				rights[p] = rightTo(t, m.hs.URL, k1, p)
			}
			mm.Parents = append(mm.Parents, asset.Parent{Asset: p, Grant: rights[p], Royalty: 1000})
		}
		return mm
	}
	rootMan := man("root-a")
	rootMan.Owners, rootMan.Threshold = []asset.Owner{{DID: k1.DID(), Weight: 1}, {DID: k2.DID(), Weight: 1}}, 2
	root, err := reg(rootMan, k1, k2)
	if err != nil {
		t.Fatal(err)
	}
	rootB, err := reg(man("root-b"), k1)
	if err != nil {
		t.Fatal(err)
	}
	level := []asset.ID{root, rootB}
	build := func(l int) {
		var next []asset.ID
		for j := range 2 {
			id, err := reg(man(fmt.Sprintf("l%d-%d", l, j), level...), k1)
			if err != nil {
				t.Fatalf("level %d: %v", l, err)
			}
			next = append(next, id)
		}
		level = next
	}
	for l := 1; l <= 11; l++ {
		build(l)
	}
	two := []asset.Contributor{{DID: k1.DID(), Share: 500_000}, {DID: k2.DID(), Share: 500_000}}
	p := &asset.Proposal{Asset: root, Change: asset.Change{Kind: asset.SetContributors, Contributors: two}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: k1.DID(), Version: 1}
	penv, err := p.Sign(k1)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := m.c.Propose(ctx, penv); err != nil || a.Status != "pending" {
		t.Fatalf("proposal within the limits: %v %+v", err, a)
	}
	build(12) // now one more contributor on the root adds 2,048 payees to level 12
	size, _, _ := m.s.cat.Applied(ctx)
	ap, _ := asset.NewApproval(p, k2.DID())
	aenv, _ := ap.Sign(k2)
	_, err = m.c.Approve(ctx, aenv)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Problem.Status != http.StatusUnprocessableEntity || !strings.HasSuffix(ce.Problem.Type, "lineage-limit") {
		t.Fatalf("approval completing an over-limit change: %v", err)
	}
	if after, _, _ := m.s.cat.Applied(ctx); after != size {
		t.Fatal("a refused approval was logged")
	}
	p2 := *p
	p2.Nonce = asset.NewNonce()
	penv2, _ := p2.Sign(k1)
	if _, err := m.c.Propose(ctx, penv2); !errors.As(err, &ce) || ce.Problem.Status != http.StatusUnprocessableEntity {
		t.Fatalf("proposal over the limit: %v", err)
	}
	// The leaf still settles: its lineage compiles.
	if rec, _ := m.s.cat.Asset(ctx, root); len(rec.State.Contributors) != 1 {
		t.Fatalf("root contributors changed: %+v", rec.State.Contributors)
	}
}
