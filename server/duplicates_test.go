package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// copies is how many identical requests each burst sends at once.
const copies = 8

// burst posts the same body copies times in parallel and returns the
// answers. No copy may fail with a server error.
func (m *market) burst(path string, body []byte) (codes []int, bodies [][]byte) {
	m.t.Helper()
	codes, bodies = make([]int, copies), make([][]byte, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			resp, err := http.Post(m.hs.URL+path, "application/json", bytes.NewReader(body))
			if err != nil {
				codes[i] = -1
				bodies[i] = []byte(err.Error())
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			bodies[i], _ = io.ReadAll(resp.Body)
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c < 200 || c >= 500 && c != 503 {
			m.t.Fatalf("POST %s: copy %d answered %d: %s", path, i, c, bodies[i])
		}
	}
	return codes, bodies
}

// burstEnv is burst for a signed statement; it returns the body of the
// first 2xx answer.
func (m *market) burstEnv(path string, env *identity.Envelope, wantOK int) []byte {
	m.t.Helper()
	raw, err := env.Marshal()
	if err != nil {
		m.t.Fatal(err)
	}
	codes, bodies := m.burst(path, raw)
	ok := -1
	for i, c := range codes {
		if c >= 200 && c < 300 {
			if ok < 0 {
				ok = i
			}
			continue
		}
		if c != http.StatusConflict {
			m.t.Fatalf("POST %s: copy %d answered %d: %s", path, i, c, bodies[i])
		}
	}
	if n := countIn(codes, func(c int) bool { return c >= 200 && c < 300 }); n < wantOK {
		m.t.Fatalf("POST %s: %d copies succeeded, want at least %d: %v %s", path, n, wantOK, codes, bodies[0])
	}
	if ok < 0 {
		return nil
	}
	return bodies[ok]
}

func countIn(codes []int, f func(int) bool) int {
	n := 0
	for _, c := range codes {
		if f(c) {
			n++
		}
	}
	return n
}

// TestConcurrentDuplicatesReplay sends copies of every kind of statement
// in parallel (a client's retries), then copies of every entry of the log
// straight into the log (what an older server left behind). Every copy
// applies as a no-op live; afterwards the server restarts, `admin check`
// finds the catalog equal to a rebuild, and every prefix of the log
// replays without error into a fresh catalog, ending equal to the live
// one.
func TestConcurrentDuplicatesReplay(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	ctx := context.Background()
	now := func() asset.Time { return asset.NewTime(time.Now()) }
	put := func(b []byte) content.ID {
		info, err := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		return id
	}
	terms, _ := license.Template("approval-required")
	tb, _ := terms.Encode()
	approvalTerms := put(tb)

	// Asset registration: an asset owned by Ann and Bea (threshold 2)
	// under approval-required terms.
	man := &asset.Manifest{Content: put([]byte("shared data")), Name: "shared", MediaType: "application/octet-stream", Created: now(), Threshold: 2, License: approvalTerms.String(),
		Owners:       []asset.Owner{{DID: m.ann.DID(), Weight: 1}, {DID: m.bea.DID(), Weight: 1}},
		Contributors: []asset.Contributor{{DID: m.ann.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(m.ann, m.bea)
	var reg RegisterAnswer
	json.Unmarshal(m.burstEnv("/v1/assets", env, copies), &reg)
	shared := mustID(t, reg.Asset)

	// Proposal and approval (governance).
	p := &asset.Proposal{Asset: shared, Change: asset.Change{Kind: asset.Delist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: m.ann.DID(), Version: 1}
	penv, _ := p.Sign(m.ann)
	var pa RegisterAnswer
	json.Unmarshal(m.burstEnv("/v1/assets/"+shared.String()+"/proposals", penv, 1), &pa)

	// Grant request, approval-required: queued once.
	lic, _ := identity.Generate()
	qr := &grant.Request{Asset: shared, Created: now(), Licensee: lic.DID(), Nonce: grant.NewNonce(), Purpose: "research"}
	qenv, _ := qr.Sign(lic)
	var qa GrantAnswer
	json.Unmarshal(m.burstEnv("/v1/assets/"+shared.String()+"/grants", qenv, 1), &qa)
	if qa.Status != "pending" {
		t.Fatalf("approval-required request: %+v", qa)
	}
	// Votes: Ann's copies, then Bea's, which reach the threshold and
	// issue the grant once.
	for _, k := range []*identity.Key{m.ann, m.bea} {
		v := &grant.Approval{Approve: true, Approver: k.DID(), Asset: shared, Request: mustID(t, qa.Request)}
		venv, _ := v.Sign(k)
		m.burstEnv("/v1/grant-requests/"+qa.Request+"/approvals", venv, 1)
	}
	if gs, _ := m.s.cat.Grants(ctx, shared.String(), ""); len(gs) != 1 {
		t.Fatalf("%d grants issued on approval, want 1", len(gs))
	}

	// Now the proposal's approval (it delists the asset).
	ap, _ := asset.NewApproval(p, m.bea.DID())
	aenv, _ := ap.Sign(m.bea)
	m.burstEnv("/v1/proposals/"+pa.Proposal+"/approvals", aenv, 1)

	// Grant request, automatic: granted once.
	r := &grant.Request{Asset: m.model, Commercial: true, Created: now(), Licensee: lic.DID(), Nonce: grant.NewNonce(), Purpose: "infer"}
	renv, _ := r.Sign(lic)
	var ga GrantAnswer
	json.Unmarshal(m.burstEnv("/v1/assets/"+m.model.String()+"/grants", renv, 1), &ga)
	if ga.Status != "granted" {
		t.Fatalf("automatic request: %+v", ga)
	}

	// Revocation of that grant by the model's owner.
	rv := &grant.Revocation{Asset: m.model, Created: now(), Grant: ga.Grant.ID, Reason: "test"}
	rvenv, _ := rv.Sign(m.max)
	m.burstEnv("/v1/grants/"+ga.Grant.ID.String()+"/revoke", rvenv, 1)

	// Usage report.
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-dup", Licensee: m.consumer.DID(), Time: now(), Tokens: 1000}
	uenv, _ := u.Sign(m.consumer)
	m.burstEnv("/v1/usage", uenv, copies) // the same event again is answered with the original

	// Dispute and its resolution.
	d := &metering.Dispute{Asset: m.model, Created: now(), Nonce: grant.NewNonce(), Opener: m.consumer.DID(), Reason: "mine"} // a licensee has standing
	denv, _ := d.Sign(m.consumer)
	var da api.DisputeAnswer
	json.Unmarshal(m.burstEnv("/v1/disputes", denv, copies), &da)
	res := &metering.Resolution{Asset: m.model, Created: now(), Dispute: mustID(t, da.Dispute), Outcome: metering.Release}
	resenv, _ := res.Sign(m.max)
	m.burstEnv("/v1/disputes/"+da.Dispute+"/resolve", resenv, 1)

	// Receipts: a download session closed by its licensee while the idle
	// closer runs several times at once.
	dc, _ := client.New(m.hs.URL)
	m.download(dc)
	var cw sync.WaitGroup
	cw.Go(func() {
		if _, err := dc.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx); err != nil {
			t.Error(err)
		}
	})
	for range copies - 1 {
		cw.Go(func() { m.s.closeIdle(ctx, 0) })
	}
	cw.Wait()
	if rs, _ := m.s.cat.Receipts(ctx, m.grant.ID.String(), 10); len(rs) != 1 {
		t.Fatalf("%d receipts for one session, want 1", len(rs))
	}
	// Settlement, run by several requests at once.
	m.fund(m.consumer.DID(), 1_000_000)
	oc := m.c.WithKey(m.s.key) // settling on demand is the operator's
	var sw sync.WaitGroup
	for range copies {
		sw.Go(func() {
			if _, err := oc.Settle(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	sw.Wait()

	// Old logs hold duplicates: append a copy of every entry so far
	// straight to the log. Each applies live as a no-op.
	before := dump(t, m.s.cat)
	waitCovered(t, m.s)
	var entries []auditlog.Entry
	for rec, err := range m.s.tlog.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, rec.Entry)
	}
	kinds := map[string]int{}
	var wg sync.WaitGroup
	for _, e := range entries {
		kinds[e.Type]++
		wg.Go(func() {
			idx, err := m.s.commit(ctx, e.Type, e.Payload)
			if err != nil && !errors.Is(err, catalog.ErrNoEffect) {
				t.Errorf("copy of a %s entry (index %d): %v", e.Type, idx, err)
			}
		})
	}
	wg.Wait()
	for _, k := range []string{auditlog.TypeAssetRegister, auditlog.TypeAssetProposal, auditlog.TypeAssetApproval, TypeGrantRequest, TypeGrantApproval,
		auditlog.TypeGrant, auditlog.TypeDecision, auditlog.TypeRevocation, auditlog.TypeUsage, auditlog.TypeDispute, auditlog.TypeReceipt, auditlog.TypeSettlement} {
		if kinds[k] == 0 {
			t.Errorf("no %s entry in the log: the test misses a kind", k)
		}
	}
	if after := dump(t, m.s.cat); !slices.Equal(before, after) {
		t.Fatalf("copies of logged statements changed the catalog:\n%s", diffLines(before, after))
	}
	live := dump(t, m.s.cat)

	// The server restarts on the same folder.
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: m.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1}
	s2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("restart after duplicates: %v", err)
	}
	if got := dump(t, s2.cat); !slices.Equal(got, live) {
		t.Fatalf("catalog changed across the restart:\n%s", diffLines(live, got))
	}
	// Every prefix of the log replays without error into a fresh catalog;
	// the whole log replays to the live catalog.
	n := replayEveryPrefix(t, s2, live)
	s2.Close()
	if n < 2*len(entries) {
		t.Fatalf("replayed %d entries, want at least %d", n, 2*len(entries))
	}
	// admin check: the catalog equals a rebuild from the log.
	rep, err := CheckCatalog(ctx, cfg)
	if err != nil || !rep.Clean() {
		t.Fatalf("check: %v %+v", err, rep)
	}
	// admin rebuild into SQLite and into PostgreSQL: the same rows.
	rebuildEverywhere(t, m.dir, live)
}

// replayEveryPrefix applies the log of s entry by entry to a fresh catalog
// (so each step is the replay of one more prefix), failing on any error,
// and checks that the result equals want. It returns the entries applied.
func replayEveryPrefix(t *testing.T, s *Server, want []string) int {
	t.Helper()
	ctx := context.Background()
	cat, err := catsqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	r := registry.New(registry.Config{Operator: s.key.DID(), Logger: s.log})
	n := 0
	for rec, err := range s.tlog.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		err := cat.Update(ctx, rec.Index, func(tx catalog.Tx) error { return r.Apply(ctx, tx, rec.Index, rec.Entry) })
		if err != nil && !errors.Is(err, catalog.ErrNoEffect) {
			t.Fatalf("replay of the log prefix of %d entries: entry %d (%s): %v", rec.Index+1, rec.Index, rec.Entry.Type, err)
		}
		n++
	}
	if err := registry.RecordObjects(ctx, s.blobs, cat); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, cat); !slices.Equal(got, want) {
		t.Fatalf("replayed catalog differs from the live one:\n%s", diffLines(want, got))
	}
	return n
}

// waitCovered waits until a checkpoint covers every entry s applied.
func waitCovered(t *testing.T, s *Server) {
	t.Helper()
	next := s.seq.Next()
	if next == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.cpw.await(ctx, next-1); err != nil {
		t.Fatal(err)
	}
}

func dump(t *testing.T, c catalog.Checker) []string {
	t.Helper()
	d, err := c.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func diffLines(want, got []string) string {
	missing, extra := registry.Diff(want, got)
	var b strings.Builder
	for _, l := range missing {
		fmt.Fprintf(&b, "- %.200s\n", l)
	}
	for _, l := range extra {
		fmt.Fprintf(&b, "+ %.200s\n", l)
	}
	return b.String()
}

// TestApplierFillsGap appends an entry without handing it to the ordered
// applier (its writer died between append and hand-over): the entries
// after it still apply, once the applier has read the missing one from
// the log, and replay has nothing left to do.
func TestApplierFillsGap(t *testing.T) {
	f := newRegFixture(t)
	defer f.stop()
	ctx := context.Background()
	lost, err := f.s.tlog.Append(ctx, "test.lost", []byte("appended, never handed over"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := f.s.commit(ctx, "test.after", []byte("the next entry"))
	if err != nil || idx != lost+1 {
		t.Fatalf("commit after a gap: index %d, %v", idx, err)
	}
	next, above, err := f.s.cat.Applied(ctx)
	if err != nil || next != idx+1 || len(above) != 0 {
		t.Fatalf("catalog applied through %d (above: %v), want %d: %v", next, above, idx+1, err)
	}
}
