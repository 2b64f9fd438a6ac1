package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/receipt"
	"github.com/charter-dev/charter/registry"
)

type regFixture struct {
	t    *testing.T
	dir  string
	s    *Server
	hs   *httptest.Server
	keys []*identity.Key
	// down is set while no server runs (stop, shutdown).
	down bool
}

// shutdown stops the server if it runs; every fixture's cleanup calls it,
// so no test leaves a server writing into a folder being removed.
func (f *regFixture) shutdown() {
	if f.s != nil && !f.down {
		f.down = true
		f.hs.Close()
		f.s.Close()
	}
}

func newRegFixture(t *testing.T) *regFixture {
	f := &regFixture{t: t, dir: t.TempDir()}
	for range 3 {
		k, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, k)
	}
	f.start()
	t.Cleanup(f.shutdown)
	return f
}

func (f *regFixture) start() {
	s, err := Open(context.Background(), Config{DataDir: f.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1})
	if err != nil {
		f.t.Fatal(err)
	}
	f.s, f.hs = s, httptest.NewServer(s.Handler())
	f.down = false
}

func (f *regFixture) stop() {
	f.down = true
	f.hs.Close()
	if err := f.s.Close(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *regFixture) put(b []byte) content.ID {
	resp, body := upload(f.t, f.hs, "", b)
	if resp.StatusCode != 201 {
		f.t.Fatalf("put: %s", body)
	}
	var info BlobInfo
	json.Unmarshal(body, &info)
	id, _ := content.ParseID(info.ID)
	return id
}

func (f *regFixture) post(path string, env *identity.Envelope) (int, api.RegisterAnswer, []byte) {
	b, _ := env.Marshal()
	resp, err := http.Post(f.hs.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a api.RegisterAnswer
	json.Unmarshal(body, &a)
	return resp.StatusCode, a, body
}

func (f *regFixture) manifest(c content.ID, name string, owners []*identity.Key, parents ...asset.Parent) *asset.Manifest {
	m := &asset.Manifest{Content: c, Name: name, MediaType: "application/octet-stream", Created: asset.NewTime(time.Unix(1700000000, 0)), Threshold: int64(len(owners)), Parents: parents}
	for _, k := range owners {
		m.Owners = append(m.Owners, asset.Owner{DID: k.DID(), Weight: 1})
	}
	m.Contributors = []asset.Contributor{{DID: owners[0].DID(), Share: asset.Whole}}
	return m
}

func (f *regFixture) register(m *asset.Manifest, signers ...*identity.Key) api.RegisterAnswer {
	env, err := m.Sign(signers...)
	if err != nil {
		f.t.Fatal(err)
	}
	code, a, body := f.post("/v1/assets", env)
	if code != 201 {
		f.t.Fatalf("register: %d %s", code, body)
	}
	return a
}

// TestRegistryFlowAndRebuild registers, governs and then deletes the
// catalog: the rebuilt catalog equals the original, and an edited row is
// detected.
func TestRegistryFlowAndRebuild(t *testing.T) {
	f := newRegFixture(t)
	alice, bob, mallory := f.keys[0], f.keys[1], f.keys[2]
	data := f.put([]byte("a dataset"))
	dsm := f.manifest(data, "data", []*identity.Key{alice, bob})
	dsm.License = openTerms(t, f.put)
	ds := f.register(dsm, alice, bob)
	if ds.Claim != "priority" || ds.Receipt == nil {
		t.Fatalf("answer: %+v", ds)
	}
	// The receipt verifies offline against the log key.
	res, err := receipt.Verify(ds.Receipt, f.s.tlog.VerifierKey())
	if err != nil || res.EntryType != "asset.register" || len(res.Signers) != 2 {
		t.Fatalf("receipt: %+v %v", res, err)
	}
	dsID, _ := asset.ParseID(ds.Asset)
	model := f.put([]byte("model weights"))
	mm := f.manifest(model, "model", []*identity.Key{alice}, asset.Parent{Asset: dsID, Grant: rightTo(t, f.hs.URL, alice, dsID), Royalty: 200_000, Stacking: asset.Relative})
	mm.Created = asset.NewTime(time.Now())
	f.register(mm, alice)

	// Below threshold: refused. A non-owner signer: refused.
	env, _ := f.manifest(f.put([]byte("x")), "x", []*identity.Key{alice, bob}).Sign(alice)
	if code, _, body := f.post("/v1/assets", env); code != 403 {
		t.Fatalf("below threshold: %d %s", code, body)
	}
	env, _ = f.manifest(f.put([]byte("y")), "y", []*identity.Key{alice}).Sign(alice, mallory)
	if code, _, body := f.post("/v1/assets", env); code != 403 {
		t.Fatalf("non-owner signer: %d %s", code, body)
	}
	// A forged signature: refused.
	env, _ = f.manifest(f.put([]byte("z")), "z", []*identity.Key{alice}).Sign(alice)
	env.Signatures[0].Sig = env.Signatures[0].Sig[:10] + "AAAA" + env.Signatures[0].Sig[14:]
	if code, _, body := f.post("/v1/assets", env); code != 401 && code != 400 {
		t.Fatalf("forged signature: %d %s", code, body)
	}
	// Mallory claims the same data: a conflicting claim.
	conf := f.register(f.manifest(data, "mine", []*identity.Key{mallory}), mallory)
	if conf.Claim != "conflict" || conf.Priority != ds.Asset {
		t.Fatalf("conflict: %+v", conf)
	}

	// Governance: Bob proposes, Mallory cannot approve, Alice completes it.
	p := &asset.Proposal{Asset: dsID, Change: asset.Change{Kind: asset.Delist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: bob.DID(), Version: 1}
	penv, _ := p.Sign(bob)
	code, pa, body := f.post("/v1/assets/"+ds.Asset+"/proposals", penv)
	if code != 201 || pa.Status != "pending" {
		t.Fatalf("propose: %d %s", code, body)
	}
	// Replaying the proposal is refused.
	if code, _, _ := f.post("/v1/assets/"+ds.Asset+"/proposals", penv); code != 409 {
		t.Fatalf("replayed proposal: %d", code)
	}
	ma, _ := asset.NewApproval(p, mallory.DID())
	menv, _ := ma.Sign(mallory)
	if code, _, body := f.post("/v1/proposals/"+pa.Proposal+"/approvals", menv); code != 403 {
		t.Fatalf("non-owner approval: %d %s", code, body)
	}
	aa, _ := asset.NewApproval(p, alice.DID())
	aenv, _ := aa.Sign(alice)
	code, ans, body := f.post("/v1/proposals/"+pa.Proposal+"/approvals", aenv)
	if code != 201 || ans.Status != "applied" || ans.Version != 2 {
		t.Fatalf("approve: %d %s", code, body)
	}
	// Replaying the approval is refused.
	if code, _, _ := f.post("/v1/proposals/"+pa.Proposal+"/approvals", aenv); code != 409 {
		t.Fatalf("replayed approval: %d", code)
	}
	rec, _ := f.s.cat.Asset(context.Background(), dsID)
	if !rec.State.Delisted || rec.State.Version != 2 {
		t.Fatalf("state after approval: %+v", rec.State)
	}
	// An expired proposal's approvals are refused.
	p2 := &asset.Proposal{Asset: dsID, Change: asset.Change{Kind: asset.Relist}, Expires: asset.NewTime(time.Now().Add(2 * time.Second)), Nonce: asset.NewNonce(), Proposer: bob.DID(), Version: 2}
	p2env, _ := p2.Sign(bob)
	code, pa2, _ := f.post("/v1/assets/"+ds.Asset+"/proposals", p2env)
	if code != 201 {
		t.Fatal("second proposal refused")
	}
	time.Sleep(2100 * time.Millisecond)
	a2, _ := asset.NewApproval(p2, alice.DID())
	a2env, _ := a2.Sign(alice)
	if code, _, body := f.post("/v1/proposals/"+pa2.Proposal+"/approvals", a2env); code != 409 {
		t.Fatalf("approval after expiry: %d %s", code, body)
	}

	ctx := context.Background()
	before, err := f.s.cat.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.stop()

	// Delete the catalog; starting the server replays the log.
	for _, p := range catalogFiles(f.dir) {
		os.Remove(p)
	}
	if _, err := Rebuild(ctx, Config{DataDir: f.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	f.start()
	after, err := f.s.cat.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.stop()
	if m, x := registry.Diff(before, after); len(m)+len(x) > 0 {
		t.Fatalf("rebuilt catalog differs:\nmissing %q\nextra %q", m, x)
	}
	if len(before) < 10 {
		t.Fatalf("dump too small to mean anything: %d lines", len(before))
	}

	// An edited catalog row is detected by the check.
	cat, err := catsqlite.Open(ctx, filepath.Join(f.dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := cat.ListAssets(ctx)
	if err != nil || len(all) == 0 {
		t.Fatal(all, err)
	}
	edited := *all[0].State
	edited.License = "edited outside the log"
	inject(t, cat, func(tx catalog.Tx) error { return tx.SetState(&edited) })
	cat.Close()
	rep, err := CheckCatalog(ctx, Config{DataDir: f.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	missing, extra := rep.Missing, rep.Extra
	if len(missing) != 1 || len(extra) != 1 {
		t.Fatalf("edited row not detected: missing %d, extra %d", len(missing), len(extra))
	}
}
