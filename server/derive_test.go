package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// deriveFixture is a registry fixture with a client and stored templates.
type deriveFixture struct {
	*regFixture
	c *client.Client
}

func newDeriveFixture(t *testing.T) *deriveFixture {
	f := &deriveFixture{regFixture: newRegFixture(t)}
	f.c, _ = client.New(f.hs.URL)
	t.Cleanup(f.shutdown)
	return f
}

// terms stores a template and returns its reference.
func (f *deriveFixture) terms(name string) string {
	tm, err := license.Template(name)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := tm.Encode()
	return f.put(b).String()
}

// parent registers an asset owned by k under the named template.
func (f *deriveFixture) parent(k *identity.Key, name, tmpl string) asset.ID {
	m := f.manifest(f.put([]byte(name+" bytes")), name, []*identity.Key{k})
	m.License = f.terms(tmpl)
	a := f.register(m, k)
	id, _ := asset.ParseID(a.Asset)
	return id
}

// grantOn requests a grant on a for k and returns the answer.
func (f *deriveFixture) grantOn(k *identity.Key, a asset.ID, opt client.GrantOptions) *api.GrantAnswer {
	ans, err := f.c.RequestGrant(context.Background(), k, a, "train", opt)
	if err != nil {
		f.t.Fatal(err)
	}
	return ans
}

// child is a manifest owned by k deriving from p, created now.
func (f *deriveFixture) child(k *identity.Key, name, tmpl string, p asset.Parent) *asset.Manifest {
	m := f.manifest(f.put([]byte(name+" weights")), name, []*identity.Key{k}, p)
	m.Created = asset.NewTime(time.Now())
	if tmpl != "" {
		m.License = f.terms(tmpl)
	}
	return m
}

// refused posts m signed by k and checks the problem: status, type, and
// that detail and hint name the parent and the term.
func (f *deriveFixture) refused(m *asset.Manifest, k *identity.Key, status int, term string) Problem {
	f.t.Helper()
	env, err := m.Sign(k)
	if err != nil {
		f.t.Fatal(err)
	}
	code, _, body := f.post("/v1/assets", env)
	var p Problem
	json.Unmarshal(body, &p)
	if code != status {
		f.t.Fatalf("want %d refusing on %s, got %d %s", status, term, code, body)
	}
	if status == 403 {
		parent := m.Parents[0].Asset.String()
		if p.Type != ProblemTypeBase+"no-right-to-derive" || !strings.Contains(p.Detail, parent) || !strings.Contains(p.Detail, ", "+term+": ") || p.Hint == "" {
			f.t.Fatalf("problem does not name parent %s and term %s: %s", parent, term, body)
		}
	}
	return p
}

// TestDeriveNeedsRight: the registry registers a derived asset only with
// a derivative grant on the parent, held by an owner, unrevoked, in its
// window, and with a royalty and licence the parent's terms allow; each
// refusal names the parent and the term, and the accepted registrations
// apply on replay exactly as live.
func TestDeriveNeedsRight(t *testing.T) {
	f := newDeriveFixture(t)
	alice, bob, stranger := f.keys[0], f.keys[1], f.keys[2]

	// The case: a stranger derives from research-only terms
	// without a grant.
	research := f.parent(alice, "research corpus", "research-only")
	p := f.refused(f.child(stranger, "z", "open", asset.Parent{Asset: research}), stranger, 403, "grant")
	if !strings.Contains(p.Hint, "charter grant request "+research.String()+" --purpose train --derivative --commercial") {
		t.Fatalf("hint: %q", p.Hint)
	}
	// Research-only terms deny a derivative grant to anyone.
	if ans := f.grantOn(stranger, research, client.GrantOptions{Derivative: true}); ans.Status != "denied" {
		t.Fatalf("derivative grant under research-only: %+v", ans)
	}
	// A grant for research use is not a right to derive.
	ra, err := f.c.RequestGrant(context.Background(), stranger, research, "research", client.GrantOptions{})
	if err != nil || ra.Status != "granted" || ra.Grant.Derivative {
		t.Fatalf("research grant: %v %+v", err, ra)
	}
	f.refused(f.child(stranger, "z", "research-only", asset.Parent{Asset: research, Grant: ra.Grant.ID}), stranger, 403, "grant.derivative")

	// Commercial-training terms allow derivatives that pay 5% relative.
	corpus := f.parent(alice, "corpus", "commercial-training")
	g := f.grantOn(stranger, corpus, client.GrantOptions{Derivative: true, Commercial: true})
	if g.Status != "granted" || !g.Grant.Derivative {
		t.Fatalf("derivative grant: %+v", g)
	}
	right := asset.Parent{Asset: corpus, Grant: g.Grant.ID, Royalty: 50_000, Stacking: asset.Relative}
	low := right
	low.Royalty = 20_000
	f.refused(f.child(stranger, "low", "inference-metered", low), stranger, 403, "derivatives.royalty")
	abs := right
	abs.Stacking = asset.Absolute
	f.refused(f.child(stranger, "abs", "inference-metered", abs), stranger, 403, "derivatives.stacking")
	f.refused(f.child(bob, "borrowed", "inference-metered", right), bob, 403, "grant.licensee")
	other := f.parent(bob, "other corpus", "commercial-training")
	wrong := right
	wrong.Asset = other
	f.refused(f.child(stranger, "wrong", "inference-metered", wrong), stranger, 403, "grant")
	stale := f.child(stranger, "stale", "inference-metered", right)
	stale.Created = asset.NewTime(time.Now().Add(-time.Hour))
	f.refused(stale, stranger, 422, "created")
	// A non-commercial grant does not cover a commercial derivative.
	nc := f.grantOn(stranger, corpus, client.GrantOptions{Derivative: true})
	ncp := right
	ncp.Grant = nc.Grant.ID
	f.refused(f.child(stranger, "nc", "inference-metered", ncp), stranger, 403, "grant.commercial")
	okNC := f.register(f.child(stranger, "nc-ok", "research-only", ncp), stranger)

	// The right way: accepted, and the lineage pays what the terms ask.
	model := f.register(f.child(stranger, "model", "inference-metered", right), stranger)
	mid, _ := asset.ParseID(model.Asset)

	// Revoked: the grant no longer gives the right.
	rv := &grant.Revocation{Asset: corpus, Created: asset.NewTime(time.Now()), Grant: g.Grant.ID, Reason: "test"}
	renv, _ := rv.Sign(alice)
	if _, err := f.c.Revoke(context.Background(), renv); err != nil {
		t.Fatal(err)
	}
	f.refused(f.child(stranger, "after", "inference-metered", right), stranger, 403, "grant.revoked")

	// Replay decides as the live path did: the catalog rebuilt from the
	// log holds exactly the same rows, the two children included.
	f.stop()
	rep, err := CheckCatalog(context.Background(), Config{DataDir: f.dir, ScrubInterval: -1})
	if err != nil || !rep.Clean() {
		t.Fatalf("replay differs: %v %+v", err, rep)
	}
	f.start()
	f.c, _ = client.New(f.hs.URL)
	for _, id := range []string{model.Asset, okNC.Asset} {
		a, _ := asset.ParseID(id)
		if _, err := f.s.cat.Asset(context.Background(), a); err != nil {
			t.Fatalf("%s after restart: %v", id, err)
		}
	}
	l, err := f.c.Lineage(context.Background(), mid)
	if err != nil || len(l.Up) != 1 || l.Up[0].Royalty != "5%" {
		t.Fatalf("lineage: %v %+v", err, l)
	}
}

// TestDeriveReplayRefusesForgedEntry: an entry the live path would have
// refused (no right) does not apply on replay, even if it reached the log.
func TestDeriveReplayRefusesForgedEntry(t *testing.T) {
	f := newDeriveFixture(t)
	alice, stranger := f.keys[0], f.keys[2]
	corpus := f.parent(alice, "corpus", "research-only")
	m := f.child(stranger, "z", "open", asset.Parent{Asset: corpus, Grant: grant.StatementID([]byte("no such grant"))})
	env, _ := m.Sign(stranger)
	raw, _ := env.Marshal()
	ctx := context.Background()
	// Appended past the live checks, as a forged or raced entry would be:
	// the log holds it, the applier gives it no effect.
	if _, err := f.s.commit(ctx, "asset.register", raw); !errors.Is(err, catalog.ErrNoEffect) {
		t.Fatalf("commit: %v, want no effect", err)
	}
	id, _ := m.ID()
	if _, err := f.s.cat.Asset(ctx, id); err == nil {
		t.Fatal("a derived asset without a right was applied")
	}
}

// openTerms stores the open template (derivatives allowed, no royalty
// asked) with put and returns its reference: for tests whose parents only
// need to allow derivation.
func openTerms(t testing.TB, put func([]byte) content.ID) string {
	tm, _ := license.Template("open")
	b, _ := tm.Encode()
	return put(b).String()
}

// rightTo requests, as k, a commercial derivative grant on parent from
// the server at url, and returns its id to cite in a child's manifest.
func rightTo(t testing.TB, url string, k *identity.Key, parent asset.ID) asset.ID {
	t.Helper()
	c, _ := client.New(url)
	ans, err := c.RequestGrant(context.Background(), k, parent, "train", client.GrantOptions{Derivative: true, Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("derivative grant on %s: %v %+v", parent, err, ans)
	}
	return ans.Grant.ID
}

// TestUnpayableLineageIsRefusedClearly: a lineage whose royalties cannot
// be settled (an absolute royalty reached through a smaller relative one)
// is refused as an invalid statement, not as an internal error.
func TestUnpayableLineageIsRefusedClearly(t *testing.T) {
	f := newDeriveFixture(t)
	alice, bob, carol := f.keys[0], f.keys[1], f.keys[2]
	corpus := f.parent(alice, "corpus", "open")
	mm := f.child(bob, "model", "open", asset.Parent{Asset: corpus, Grant: rightTo(t, f.hs.URL, bob, corpus), Royalty: 100_000, Stacking: asset.Absolute})
	model, _ := asset.ParseID(f.register(mm, bob).Asset)
	tune := f.child(carol, "tune", "open", asset.Parent{Asset: model, Grant: rightTo(t, f.hs.URL, carol, model), Royalty: 50_000, Stacking: asset.Relative})
	if p := f.refused(tune, carol, 422, ""); p.Type != ProblemTypeBase+"lineage-limit" || !strings.Contains(p.Detail, "royalties") {
		t.Fatalf("problem: %+v", p)
	}
}

// TestRelicenseDerivedChecked: governance cannot give a derived asset a
// licence its right to derive does not cover (a commercial licence, or
// none, on a derivative made under a non-commercial grant); a licence the
// right covers is still accepted, and replay decides the same.
func TestRelicenseDerivedChecked(t *testing.T) {
	f := newDeriveFixture(t)
	alice, stranger := f.keys[0], f.keys[2]
	ctx := context.Background()
	corpus := f.parent(alice, "corpus", "commercial-training")
	nc := f.grantOn(stranger, corpus, client.GrantOptions{Derivative: true})
	right := asset.Parent{Asset: corpus, Grant: nc.Grant.ID, Royalty: 50_000, Stacking: asset.Relative}
	child := f.register(f.child(stranger, "nc-model", "research-only", right), stranger)
	cid, _ := asset.ParseID(child.Asset)
	propose := func(ref string) (*api.RegisterAnswer, error) {
		v, err := f.c.Asset(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		pr := &asset.Proposal{Asset: cid, Change: asset.Change{Kind: asset.SetLicense, License: &ref},
			Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: stranger.DID(), Version: v.State.Version}
		env, _ := pr.Sign(stranger)
		return f.c.Propose(ctx, env)
	}
	for _, ref := range []string{f.terms("inference-metered"), ""} {
		if a, err := propose(ref); err == nil || !strings.Contains(err.Error(), "grant.commercial") {
			t.Fatalf("relicense to %q: %v %+v, want a refusal naming grant.commercial", ref, err, a)
		}
	}
	research := f.terms("research-only")
	if a, err := propose(research); err != nil || a.Status != "applied" {
		t.Fatalf("relicense within the right: %v %+v", err, a)
	}
	if rec, _ := f.s.cat.Asset(ctx, cid); rec.State.License != research {
		t.Fatalf("licence after the changes: %q", rec.State.License)
	}
	f.stop()
	rep, err := CheckCatalog(ctx, Config{DataDir: f.dir, ScrubInterval: -1})
	if err != nil || !rep.Clean() {
		t.Fatalf("replay differs: %v %+v", err, rep)
	}
	f.start()
}
