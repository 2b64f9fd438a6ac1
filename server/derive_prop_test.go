package server

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"pgregory.net/rapid"
)

// heldGrant is what the property test knows of a grant it was issued.
type heldGrant struct {
	id                     asset.ID
	parent                 asset.ID
	licensee               *identity.Key
	derivative, commercial bool
	notBefore, notAfter    time.Time
	terms                  string // template the parent carried when it was granted
	revoked                bool
}

// TestDeriveProperty: no sequence of registrations, grant requests,
// licence proposals and revocations, against a real server, creates a
// lineage edge without a derivative grant that was valid when the edge
// was registered: cited, on that parent, given for a derivative use, held
// by the new asset's owner, unrevoked, in its window, commercial if the
// derivative's licence is, and with at least the royalty the terms it was
// granted under ask. At the end the catalog rebuilt from the log equals
// the live one: every edge the live path accepted applies on replay, and
// nothing it refused does.
func TestDeriveProperty(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		f.Value.Set("20") // each step is a real HTTP round trip with a log append
	}
	f := newDeriveFixture(t)
	ctx := context.Background()
	refs := map[string]string{}
	templates := []string{"open", "research-only", "commercial-training", "inference-metered"}
	for _, n := range templates {
		refs[n] = f.terms(n)
	}
	edges := 0
	rapid.Check(t, func(rt *rapid.T) {
		keys := []*identity.Key{}
		for range 3 {
			k, _ := identity.Generate()
			keys = append(keys, k)
		}
		type parentInfo struct {
			id    asset.ID
			owner *identity.Key
			terms string
		}
		var parents []*parentInfo
		var grants []*heldGrant
		newParent := func(rt *rapid.T) {
			owner := rapid.SampledFrom(keys).Draw(rt, "owner")
			tmpl := rapid.SampledFrom(templates).Draw(rt, "terms")
			m := f.manifest(f.put([]byte("parent "+grant.NewNonce())), "p", []*identity.Key{owner})
			m.License = refs[tmpl]
			m.Created = asset.NewTime(time.Now())
			id, _ := asset.ParseID(f.register(m, owner).Asset)
			parents = append(parents, &parentInfo{id, owner, tmpl})
		}
		newParent(rt)
		steps := rapid.IntRange(2, 12).Draw(rt, "steps")
		for range steps {
			switch rapid.SampledFrom([]int{0, 1, 1, 1, 2, 3, 4, 4, 4}).Draw(rt, "action") {
			case 0:
				newParent(rt)
			case 1: // request a grant
				p := rapid.SampledFrom(parents).Draw(rt, "parent")
				k := rapid.SampledFrom(keys).Draw(rt, "licensee")
				opt := client.GrantOptions{Derivative: rapid.IntRange(0, 3).Draw(rt, "derivative") > 0, Commercial: rapid.Bool().Draw(rt, "commercial")}
				purpose := rapid.SampledFrom([]string{"train", "evaluate"}).Draw(rt, "purpose")
				ans, err := f.c.RequestGrant(ctx, k, p.id, purpose, opt)
				if err != nil {
					rt.Fatal(err)
				}
				if ans.Grant != nil {
					g := ans.Grant
					if g.Derivative != opt.Derivative {
						rt.Fatalf("grant derivative %v, requested %v", g.Derivative, opt.Derivative)
					}
					grants = append(grants, &heldGrant{id: g.ID, parent: p.id, licensee: k, derivative: g.Derivative, commercial: g.Commercial,
						notBefore: g.NotBefore.Time(), notAfter: g.NotAfter.Time(), terms: p.terms})
				}
			case 2: // the parent's owner revokes a grant
				if len(grants) == 0 {
					continue
				}
				g := rapid.SampledFrom(grants).Draw(rt, "revoke")
				var owner *identity.Key
				for _, p := range parents {
					if p.id == g.parent {
						owner = p.owner
					}
				}
				rv := &grant.Revocation{Asset: g.parent, Created: asset.NewTime(time.Now()), Grant: g.id, Reason: "property"}
				env, _ := rv.Sign(owner)
				if _, err := f.c.Revoke(ctx, env); err == nil {
					g.revoked = true
				} else if !g.revoked {
					rt.Fatalf("revoking %s: %v", g.id, err)
				}
			case 3: // the parent's owner changes its licence
				p := rapid.SampledFrom(parents).Draw(rt, "relicense")
				tmpl := rapid.SampledFrom(templates).Draw(rt, "new terms")
				v, err := f.c.Asset(ctx, p.id)
				if err != nil {
					rt.Fatal(err)
				}
				ref := refs[tmpl]
				pr := &asset.Proposal{Asset: p.id, Change: asset.Change{Kind: asset.SetLicense, License: &ref},
					Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: p.owner.DID(), Version: v.State.Version}
				env, _ := pr.Sign(p.owner)
				if a, err := f.c.Propose(ctx, env); err != nil || a.Status != "applied" {
					rt.Fatalf("relicense: %v %+v", err, a)
				}
				p.terms = tmpl
			case 4: // someone registers a derived asset
				p := rapid.SampledFrom(parents).Draw(rt, "derive from")
				k := rapid.SampledFrom(keys).Draw(rt, "deriver")
				var cited *heldGrant
				if len(grants) > 0 && rapid.Bool().Draw(rt, "as a licensee") {
					// Half the time the deriver is a licensee deriving
					// from the grant's parent, so edges are made, too.
					cited = rapid.SampledFrom(grants).Draw(rt, "own grant")
					k = cited.licensee
					for _, q := range parents {
						if q.id == cited.parent {
							p = q
						}
					}
				}
				par := asset.Parent{Asset: p.id, Royalty: rapid.SampledFrom([]asset.Share{0, 50_000, 200_000}).Draw(rt, "royalty"),
					Stacking: rapid.SampledFrom([]asset.Stacking{asset.Relative, asset.Absolute}).Draw(rt, "stacking")}
				if cited == nil && len(grants) > 0 && rapid.IntRange(0, 4).Draw(rt, "cite") > 0 {
					cited = rapid.SampledFrom(grants).Draw(rt, "grant")
				}
				if cited != nil {
					par.Grant = cited.id
				}
				childTerms := rapid.SampledFrom(append([]string{""}, templates...)).Draw(rt, "child terms")
				m := f.manifest(f.put([]byte("child "+grant.NewNonce())), "c", []*identity.Key{k}, par)
				m.Created = asset.NewTime(time.Now())
				m.License = refs[childTerms]
				env, _ := m.Sign(k)
				code, _, body := f.post("/v1/assets", env)
				if code != http.StatusCreated {
					if code != http.StatusForbidden && code != http.StatusUnprocessableEntity && code != http.StatusConflict {
						rt.Fatalf("derive: %d %s", code, body)
					}
					continue
				}
				// An edge was created: it must rest on a valid right.
				now := m.Created.Time()
				switch {
				case cited == nil:
					rt.Fatalf("edge to %s registered citing no grant", p.id)
				case cited.parent != p.id:
					rt.Fatalf("edge to %s registered citing a grant on %s", p.id, cited.parent)
				case !cited.derivative:
					rt.Fatalf("edge registered under a grant not given for derivatives")
				case cited.licensee != k:
					rt.Fatalf("edge registered under someone else's grant")
				case cited.revoked:
					rt.Fatalf("edge registered under a revoked grant")
				case now.Add(asset.ClockSkew).Before(cited.notBefore) || !now.Before(cited.notAfter):
					rt.Fatalf("edge registered outside the grant's window")
				}
				var child *license.Terms
				if childTerms != "" {
					child, _ = license.Template(childTerms)
				}
				if license.AllowsCommercial(child) && !cited.commercial {
					rt.Fatalf("commercial derivative under a non-commercial grant")
				}
				pt, _ := license.Template(cited.terms)
				if !pt.Derivatives.Allowed || int64(par.Royalty) < pt.Derivatives.Royalty {
					rt.Fatalf("edge registered that %s terms refuse (royalty %d)", cited.terms, par.Royalty)
				}
				edges++
			}
		}
	})
	t.Logf("%d lineage edges registered", edges)
	f.stop()
	rep, err := CheckCatalog(ctx, Config{DataDir: f.dir, ScrubInterval: -1})
	if err != nil || !rep.Clean() {
		t.Fatalf("replay differs from the live catalog: %v %+v", err, rep)
	}
	f.start()
}
