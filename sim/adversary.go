package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/zeebo/blake3"
)

func blake3Sum(b []byte) [32]byte { return blake3.Sum256(b) }

// The adversary holds many keys, makes new ones at will, reads everything
// public (ids and sizes from /info, grant ids and session ids it saw on
// the wire), and sends whatever it likes. Its operations never count as
// honest failures; what they may break is checked by the invariants.

const maxAdvKeys = 16

// advKey picks one of the adversary's keys, sometimes a fresh one.
func (w *world) advKey() *identity.Key {
	if len(w.adv.keys) < maxAdvKeys && w.rng.IntN(3) == 0 {
		w.adv.keys = append(w.adv.keys, w.newKey())
	}
	return w.adv.keys[w.rng.IntN(len(w.adv.keys))]
}

func (w *world) advManifest(k *identity.Key, c content.ID, mediaType, terms string) *asset.Manifest {
	return &asset.Manifest{Content: c, Name: fmt.Sprintf("mine-%d", w.step), MediaType: mediaType, Created: asset.NewTime(time.Now()), Threshold: 1,
		License: w.termsRef[terms], Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
}

// governed picks up to n contents of honest registrations whose terms
// need a grant.
func (w *world) governed(n int) []content.ID {
	var out []content.ID
	for range n {
		p := w.pickPub(func(p *pub) bool { return p.terms != termsOpen })
		if p == nil {
			break
		}
		cs := p.contents()
		out = append(out, cs[w.rng.IntN(len(cs))])
	}
	return out
}

// wrap stores a dataset index naming ids (sizes from the model, as /info
// gives them) and registers it under terms, sent dups times at once.
func (w *world) wrap(ctx context.Context, k *identity.Key, ids []content.ID, terms string, dups int) {
	files := make([]content.File, 0, len(ids))
	seen := map[content.ID]bool{}
	for i, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		files = append(files, content.File{Path: fmt.Sprintf("loot-%d-%d", w.step, i), Size: int64(len(w.model.data[id])), ID: id})
	}
	idx, err := content.NewIndex(files)
	if err != nil {
		return
	}
	raw, _ := idx.Encode()
	members := make([]content.ID, len(files))
	for i, f := range files {
		members[i] = f.ID
	}
	w.smu.Lock()
	w.model.members[content.IDFromDigest(blake3Sum(raw))] = members
	w.smu.Unlock()
	iid, err := put(ctx, w.adv.c.WithKey(k), raw, client.PutOptions{Kind: client.KindDataset})
	if err != nil {
		return
	}
	env, err := w.advManifest(k, iid, content.DatasetMediaType, terms).Sign(k)
	if err != nil {
		return
	}
	registerDup(ctx, w.adv.c, env, dups)
}

// tryRead reads ids without a grant, verified and raw.
func (w *world) tryRead(ctx context.Context, ids []content.ID) {
	for _, id := range ids {
		w.adv.c.Stream(ctx, id, io.Discard, nil)
		if resp, err := http.Get(w.adv.base + "/v1/blobs/" + id.String()); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// planAdvWrap: the licence bypass by wrapping — a dataset of one's own,
// under open terms, naming other people's licensed content; then read it
// without a grant.
func (w *world) planAdvWrap(ctx context.Context) func() {
	ids := w.governed(1 + w.rng.IntN(3))
	if len(ids) == 0 {
		return nil
	}
	k, dups := w.advKey(), 1+w.rng.IntN(4)
	return func() {
		w.wrap(ctx, k, ids, termsOpen, dups)
		w.tryRead(ctx, ids)
	}
}

// planAdvClaim: register a licensed dataset's file on its own, as one's
// own open asset; then read it without a grant.
func (w *world) planAdvClaim(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms != termsOpen && len(p.members) > 0 })
	if p == nil {
		return nil
	}
	m := p.members[w.rng.IntN(len(p.members))]
	k := w.advKey()
	return func() {
		if env, err := w.advManifest(k, m, "application/octet-stream", termsOpen).Sign(k); err == nil {
			w.adv.c.Register(ctx, env)
		}
		w.tryRead(ctx, []content.ID{m})
	}
}

// planAdvWrapOpen: the reverse — wrap someone's open content in a
// licensed dataset, which must not make it unreadable (free-download
// checks that).
func (w *world) planAdvWrapOpen(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms == termsOpen })
	if p == nil {
		return nil
	}
	cs := p.contents()
	ids := []content.ID{cs[w.rng.IntN(len(cs))]}
	k, terms := w.advKey(), []string{termsResearch, termsApproval, termsMetered}[w.rng.IntN(3)]
	return func() { w.wrap(ctx, k, ids, terms, 1) }
}

// planAdvSteal: use an honest licensee's grant id (seen on the wire) with
// one's own key.
func (w *world) planAdvSteal(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	gid, _, p := w.heldGrant(l)
	if p == nil {
		return nil
	}
	k := w.advKey()
	cs := p.contents()
	id := cs[w.rng.IntN(len(cs))]
	return func() {
		w.adv.c.WithGrant(k, gid).Stream(ctx, id, io.Discard, nil)
		// The grant header without any signature.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.adv.base+"/v1/blobs/"+id.String(), nil)
		req.Header.Set(client.HeaderGrant, gid)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// planAdvNoGrant: read licensed content with no grant at all.
func (w *world) planAdvNoGrant(ctx context.Context) func() {
	ids := w.governed(1)
	if len(ids) == 0 {
		return nil
	}
	return func() { w.tryRead(ctx, ids) }
}

// planAdvRelabel: upload a valid dataset index declaring the id of
// someone's stored file, to relabel the file as a dataset.
func (w *world) planAdvRelabel(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.kind == client.KindBlob })
	if p == nil {
		return nil
	}
	own := w.randBytes(1 + w.rng.IntN(4096))
	victim := p.content
	return func() {
		id, err := put(ctx, w.adv.c, own, client.PutOptions{})
		if err != nil {
			return
		}
		idx, err := content.NewIndex([]content.File{{Path: "x", Size: int64(len(own)), ID: id}})
		if err != nil {
			return
		}
		raw, _ := idx.Encode()
		put(ctx, w.adv.c, raw, client.PutOptions{Kind: client.KindDataset, Want: &victim})
	}
}

// planAdvDrop: take a grant on metered content and hang up mid-body,
// hoping the bytes that flowed go unbilled.
func (w *world) planAdvDrop(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms == termsMetered })
	if p == nil {
		return nil
	}
	k := w.adv.keys[0] // the adversary's "licensee" identity
	cs := p.contents()
	id := cs[w.rng.IntN(len(cs))]
	size := int64(len(w.model.data[id]))
	t, _ := simTerms(termsMetered)
	purpose := string(t.Purposes[0])
	return func() {
		var gc *client.Client
		w.smu.Lock()
		for gid, c := range w.adv.held {
			if gi := w.model.grants[gid]; gi != nil && gi.g.Asset == p.asset {
				gc = c
			}
		}
		w.smu.Unlock()
		if gc == nil {
			ans, err := w.adv.c.RequestGrant(ctx, k, p.asset, purpose, client.GrantOptions{Commercial: true})
			if err != nil || ans.Grant == nil {
				return
			}
			gc = w.adv.c.WithGrant(k, ans.Grant.ID.String())
			w.smu.Lock()
			w.adv.held[ans.Grant.ID.String()] = gc
			w.smu.Unlock()
		}
		dropMidBody(ctx, gc, id, size)
	}
}

// planAdvDupGrant: the adversary's own signed grant request, eight times
// at once.
func (w *world) planAdvDupGrant(ctx context.Context) func() {
	p := w.pickPub(func(p *pub) bool { return p.terms != termsOpen })
	if p == nil {
		return nil
	}
	t, _ := simTerms(p.terms)
	k, purpose := w.advKey(), string(t.Purposes[w.rng.IntN(len(t.Purposes))])
	return func() { w.requestGrant(ctx, w.adv, k, p.asset, purpose, t.Commercial, 8) }
}

// planAdvCloseSession: close an honest licensee's download session, whose
// id it saw on the wire.
func (w *world) planAdvCloseSession(ctx context.Context) func() {
	l := w.licensees[w.rng.IntN(len(w.licensees))]
	_, gc, p := w.heldGrant(l)
	if p == nil {
		return nil
	}
	sid := gc.Session()
	return func() {
		if resp, err := http.Post(w.adv.base+"/v1/sessions/"+sid+"/close", "application/json", strings.NewReader("{}")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// planAdvDispute: open a dispute on an honest asset, with no standing.
func (w *world) planAdvDispute(ctx context.Context) func() {
	p := w.pickPub(func(*pub) bool { return true })
	if p == nil {
		return nil
	}
	k := w.advKey()
	return func() {
		d := &metering.Dispute{Asset: p.asset, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: k.DID(), Reason: "simulation: no standing"}
		if env, err := d.Sign(k); err == nil {
			w.adv.c.OpenDispute(ctx, env)
		}
	}
}
