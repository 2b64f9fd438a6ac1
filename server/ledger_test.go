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
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
)

// market is a server holding a dataset with two contributors (Ann 60%,
// Bea 40%) and a model trained on it (Max, passing 20% upstream) under
// inference-metered terms, and a consumer holding a grant for the model.
type market struct {
	t                       testing.TB
	dir                     string
	blobs                   blob.Store // nil: files in dir
	s                       *Server
	hs                      *httptest.Server
	c                       *client.Client
	ann, bea, max, consumer *identity.Key
	dataset, model          asset.ID
	modelContent            content.ID
	grant                   *grant.Grant
	modelSize               int
}

func newMarket(t testing.TB, cfg Config) *market { return newMarketTerms(t, cfg, 2, nil) }

func newMarketLevels(t testing.TB, cfg Config, levels int) *market {
	return newMarketTerms(t, cfg, levels, nil)
}

// newMarketLevels makes a market whose model's lineage has 2 levels
// (model -> corpus) or 3 (model -> finetune set, Bea's, -> corpus, 20%
// royalty at each edge).
// newMarketTerms is newMarketLevels with the model's terms changed by edit
// (inference-metered when nil).
func newMarketTerms(t testing.TB, cfg Config, levels int, edit func(*license.Terms)) *market {
	return newMarketSized(t, cfg, levels, edit, 300<<10)
}

// newMarketSized is newMarketTerms with a model of size bytes.
func newMarketSized(t testing.TB, cfg Config, levels int, edit func(*license.Terms), size int) *market {
	t.Helper()
	return newMarketOn(t, cfg, levels, edit, size, nil)
}

// newMarketOn is newMarketSized with its blobs in bs (nil: files).
func newMarketOn(t testing.TB, cfg Config, levels int, edit func(*license.Terms), size int, bs blob.Store) *market {
	t.Helper()
	m := &market{t: t, dir: t.TempDir(), modelSize: size, blobs: bs}
	for _, k := range []**identity.Key{&m.ann, &m.bea, &m.max, &m.consumer} {
		*k, _ = identity.Generate()
	}
	cfg.DataDir, cfg.Logger, cfg.ScrubInterval = m.dir, slog.New(slog.NewTextHandler(io.Discard, nil)), -1
	if cfg.SettleInterval == 0 {
		cfg.SettleInterval = -1
	}
	m.start(cfg)
	ctx := context.Background()
	put := func(b []byte) content.ID {
		info, err := m.c.WithKey(m.ann).Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		return id
	}
	terms, _ := license.Template("inference-metered")
	if edit != nil {
		edit(terms)
		if err := terms.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	tb, _ := terms.Encode()
	tid := put(tb)
	reg := func(man *asset.Manifest, k *identity.Key) asset.ID {
		env, _ := man.Sign(k)
		a, err := m.c.Register(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := asset.ParseID(a.Asset)
		return id
	}
	now := asset.NewTime(time.Now())
	open := openTerms(t, put)
	m.dataset = reg(&asset.Manifest{Content: put([]byte("the corpus")), Name: "corpus", MediaType: "application/octet-stream", Created: now, Threshold: 1, License: open,
		Owners:       []asset.Owner{{DID: m.ann.DID(), Weight: 1}},
		Contributors: []asset.Contributor{{DID: m.ann.DID(), Share: 600_000}, {DID: m.bea.DID(), Share: 400_000}}}, m.ann)
	parent := m.dataset
	if levels == 3 {
		parent = reg(&asset.Manifest{Content: put([]byte("the finetune set")), Name: "finetune", MediaType: "application/octet-stream", Created: now, Threshold: 1, License: open,
			Owners:       []asset.Owner{{DID: m.bea.DID(), Weight: 1}},
			Contributors: []asset.Contributor{{DID: m.bea.DID(), Share: asset.Whole}},
			Parents:      []asset.Parent{{Asset: m.dataset, Grant: rightTo(t, m.hs.URL, m.bea, m.dataset), Royalty: 200_000, Stacking: asset.Relative}}}, m.bea)
	}
	model := make([]byte, m.modelSize)
	for i := range model {
		model[i] = byte(i * 13)
	}
	m.modelContent = put(model)
	m.model = reg(&asset.Manifest{Content: m.modelContent, Name: "model", MediaType: "application/octet-stream", Created: now, Threshold: 1, License: tid.String(),
		Owners:       []asset.Owner{{DID: m.max.DID(), Weight: 1}},
		Contributors: []asset.Contributor{{DID: m.max.DID(), Share: asset.Whole}},
		Parents:      []asset.Parent{{Asset: parent, Grant: rightTo(t, m.hs.URL, m.max, parent), Royalty: 200_000, Stacking: asset.Relative}}}, m.max)
	ans, err := m.c.RequestGrant(ctx, m.consumer, m.model, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant: %v %+v", err, ans)
	}
	m.grant = ans.Grant
	return m
}

func (m *market) start(cfg Config) {
	d := Deps{Catalog: cfg.Catalog, Blobs: m.blobs, Config: cfg}
	err := OpenDefaults(context.Background(), cfg.DataDir, &d)
	var s *Server
	if err == nil {
		s, err = New(context.Background(), d)
	}
	if err != nil {
		m.t.Fatal(err)
	}
	m.s, m.hs = s, httptest.NewServer(s.Handler())
	m.c, _ = client.New(m.hs.URL)
	m.c = m.c.WithKey(uploaderKey) // signs uploads
	m.t.Cleanup(func() { m.hs.Close(); m.s.Close() })
}

// post sends raw bytes and returns the status and body.
func (m *market) post(path string, body []byte) (int, []byte) {
	resp, err := http.Post(m.hs.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// usage signs a usage payload as given, without client-side validation.
func (m *market) usage(k *identity.Key, payload string) (int, []byte) {
	env, err := identity.Sign(identity.PayloadType(metering.KindUsage), []byte(payload), k)
	if err != nil {
		m.t.Fatal(err)
	}
	raw, _ := env.Marshal()
	return m.post("/v1/usage", raw)
}

func (m *market) report(k *identity.Key, u *metering.Usage) (int, []byte) {
	env, err := u.Sign(k)
	if err != nil {
		m.t.Fatal(err)
	}
	raw, _ := env.Marshal()
	return m.post("/v1/usage", raw)
}

func (m *market) fund(did identity.DID, amount int64) {
	f := &metering.Fund{Amount: amount, Created: asset.NewTime(time.Now()), Currency: "USD-4", From: "bank", Licensee: did, Nonce: grant.NewNonce()}
	env, _ := f.Sign(m.s.key)
	if _, err := m.c.Fund(context.Background(), env); err != nil {
		m.t.Fatal(err)
	}
}

func (m *market) balance(id string) ledger.AccountBalance {
	a, err := m.s.ledger.LookupAccount(context.Background(), id)
	if err != nil && !errors.Is(err, ledger.ErrAccountNotFound) {
		m.t.Fatal(err)
	}
	return a
}

func problemType(b []byte) string {
	var p Problem
	json.Unmarshal(b, &p)
	return p.Type
}

func TestUsageRules(t *testing.T) {
	m := newMarket(t, Config{})
	g := m.grant
	u := &metering.Usage{Grant: g.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1000}
	env, _ := u.Sign(m.consumer)
	raw, _ := env.Marshal()
	if code, b := m.post("/v1/usage", raw); code != http.StatusCreated {
		t.Fatalf("first report: %d %s", code, b)
	}
	// The same event again: answered with the original, recorded once.
	code, b := m.post("/v1/usage", raw)
	var a api.UsageAnswer
	json.Unmarshal(b, &a)
	if code != http.StatusOK || !a.Existed {
		t.Fatalf("identical retry: %d %s", code, b)
	}
	// Other content under the same id: refused.
	u2 := *u
	u2.Tokens = 999
	if code, b := m.report(m.consumer, &u2); code != http.StatusConflict || problemType(b) != ProblemTypeBase+"duplicate-usage" {
		t.Fatalf("duplicate id: %d %s", code, b)
	}
	// Not the licensee.
	u3 := *u
	u3.ID, u3.Licensee = "ev-3", m.max.DID()
	if code, b := m.report(m.max, &u3); code != http.StatusUnprocessableEntity {
		t.Fatalf("usage by another key: %d %s", code, b)
	}
	// Negative, zero and overflowing quantities, and a number past int64.
	tm := asset.NewTime(time.Now())
	tmb, _ := tm.MarshalText()
	for _, q := range []string{`"runs":0,"time":"T","tokens":-5`, `"runs":0,"time":"T","tokens":0`, `"runs":0,"time":"T","tokens":1000000000000001`, `"runs":0,"time":"T","tokens":99999999999999999999`} {
		p := `{"calls":0,"grant":"` + g.ID.String() + `","id":"ev-q","licensee":"` + m.consumer.DID().String() + `",` + string(bytes.Replace([]byte(q), []byte("T"), tmb, 1)) + `}`
		if code, b := m.usage(m.consumer, p); code != http.StatusUnprocessableEntity {
			t.Errorf("quantity %s: %d %s", q, code, b)
		}
	}
	// Dated outside the grant.
	u4 := *u
	u4.ID, u4.Time = "ev-4", asset.NewTime(time.Now().Add(-48*time.Hour))
	if code, b := m.report(m.consumer, &u4); code != http.StatusForbidden || problemType(b) != ProblemTypeBase+"expired" {
		t.Fatalf("usage before the grant: %d %s", code, b)
	}
	// Revoked: refused.
	rv := &grant.Revocation{Asset: m.model, Created: asset.NewTime(time.Now()), Grant: g.ID, Reason: "test"}
	renv, _ := rv.Sign(m.max)
	if _, err := m.c.Revoke(context.Background(), renv); err != nil {
		t.Fatal(err)
	}
	u5 := *u
	u5.ID = "ev-5"
	if code, b := m.report(m.consumer, &u5); code != http.StatusForbidden || problemType(b) != ProblemTypeBase+"revoked" {
		t.Fatalf("usage under a revoked grant: %d %s", code, b)
	}
	// Exactly one event recorded.
	if n := dumpCount(t, m.s.cat, "usage "); n != 1 {
		t.Fatalf("%d usage events recorded, want 1", n)
	}
}

// download fetches the model under the consumer's grant.
func (m *market) download(c *client.Client) {
	gc := c.WithGrant(m.consumer, m.grant.ID.String())
	if _, err := gc.DownloadFile(context.Background(), m.modelContent, filepath.Join(m.t.TempDir(), "model"), client.DownloadOptions{}); err != nil {
		m.t.Fatal(err)
	}
}

func TestReceiptsAfterSessionClose(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	ctx := context.Background()
	c, _ := client.New(m.hs.URL)
	c.ChunkSize = 64 << 10
	m.download(c)
	if rs, _ := m.s.cat.Receipts(ctx, "", 10); len(rs) != 0 {
		t.Fatalf("receipt before the session closed: %+v", rs)
	}
	gc := c.WithGrant(m.consumer, m.grant.ID.String())
	a, err := gc.CloseSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Receipts) != 1 || a.Receipts[0].Bytes != int64(m.modelSize) || a.Receipts[0].Requests < 2 {
		t.Fatalf("receipts %+v, want one of %d bytes over several requests", a.Receipts, m.modelSize)
	}
	env, _ := identity.ParseEnvelope(a.Receipts[0].Envelope)
	rc, _, err := metering.OpenReceipt(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Ranges) != 1 || rc.Ranges[0].Offset != 0 || rc.Ranges[0].Length != int64(m.modelSize) || rc.Licensee != m.consumer.DID() || rc.Issuer != m.s.key.DID() {
		t.Fatalf("receipt %+v: want one merged range over the whole model", rc)
	}
	rs, err := m.s.cat.Receipts(ctx, m.grant.ID.String(), 10)
	if err != nil || len(rs) != 1 || rs[0].ID != a.Receipts[0].ID {
		t.Fatalf("catalog receipts %+v %v", rs, err)
	}
	// Closing again logs nothing.
	if a, err := gc.CloseSession(ctx); err != nil || len(a.Receipts) != 0 {
		t.Fatalf("second close: %+v %v", a, err)
	}
}

func TestIdleSessionGetsReceipt(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: 100 * time.Millisecond})
	c, _ := client.New(m.hs.URL)
	m.download(c)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if rs, _ := m.s.cat.Receipts(context.Background(), "", 10); len(rs) == 1 {
			if rs[0].Bytes != int64(m.modelSize) {
				t.Fatalf("receipt of %d bytes, want %d", rs[0].Bytes, m.modelSize)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no receipt after the session went idle")
}

// settleOK settles and fails the test on any failed use.
func (m *market) settleOK() *Settlement {
	s, err := m.s.Settle(context.Background())
	if err != nil {
		m.t.Fatal(err)
	}
	if len(s.Failed) > 0 {
		m.t.Fatalf("failed uses: %+v", s.Failed)
	}
	return s
}

func TestDisputeHoldAndRelease(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	m.fund(m.consumer.DID(), 1_000_000)
	// A licensee disputes the model.
	third, _ := identity.Generate()
	d := &metering.Dispute{Asset: m.model, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: m.consumer.DID(), Reason: "it reproduces my data"}
	denv, _ := d.Sign(m.consumer)
	da, err := m.c.OpenDispute(ctx, denv)
	if err != nil {
		t.Fatal(err)
	}
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1_234_567}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	st := m.settleOK()
	if st.Gross["USD-4"] != 24692 || st.Charged != 1 {
		t.Fatalf("settlement %+v", st)
	}
	maxAcct := settlement.ContributorAccount(m.max.DID().String(), "USD-4")
	annAcct := settlement.ContributorAccount(m.ann.DID().String(), "USD-4")
	beaAcct := settlement.ContributorAccount(m.bea.DID().String(), "USD-4")
	want := map[string]int64{maxAcct: 19754, annAcct: 2963, beaAcct: 1975}
	for id, v := range want {
		b := m.balance(id)
		if b.Net() != 0 || b.CreditsPending != v {
			t.Fatalf("%s while disputed: net %d pending %d, want 0 and %d", id, b.Net(), b.CreditsPending, v)
		}
	}
	if e := m.earnings(m.ann.DID()); len(e.Currencies) != 1 || e.Currencies[0].Held != 2963 || e.Currencies[0].Total != 0 {
		t.Fatalf("ann's statement while disputed: %+v", e)
	}
	// Not the owners: refused.
	res := &metering.Resolution{Asset: m.model, Created: asset.NewTime(time.Now()), Dispute: mustID(t, da.Dispute), Outcome: metering.Release}
	renv, _ := res.Sign(third)
	if _, err := m.c.ResolveDispute(ctx, da.Dispute, renv); client.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("resolution by a non-owner: %v", err)
	}
	renv, _ = res.Sign(m.max)
	ra, err := m.c.ResolveDispute(ctx, da.Dispute, renv)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Released != 3 || ra.Status != "released" {
		t.Fatalf("resolution %+v", ra)
	}
	var sum int64
	for id, v := range want {
		b := m.balance(id)
		if b.Net() != v || b.CreditsPending != 0 {
			t.Fatalf("%s after release: net %d pending %d, want %d", id, b.Net(), b.CreditsPending, v)
		}
		sum += b.Net()
	}
	if lic := m.balance(settlement.LicenseeAccount(m.consumer.DID().String(), "USD-4")); 1_000_000-lic.Net() != sum {
		t.Fatalf("consumer charged %d, contributors got %d", 1_000_000-lic.Net(), sum)
	}
	if _, err := ledger.Audit(ctx, m.s.ledger); err != nil {
		t.Fatal(err)
	}
	if e := m.earnings(m.ann.DID()); len(e.Currencies) != 1 || e.Currencies[0].Held != 0 || e.Currencies[0].Royalties != 2963 || e.Currencies[0].Lines[0].Used != m.model.String() {
		t.Fatalf("ann's statement after release: %+v", e)
	}
	// A second settlement resolves nothing twice.
	if st := m.settleOK(); st.Released != 0 || st.Charged != 0 {
		t.Fatalf("second settlement %+v", st)
	}
}

func mustID(t *testing.T, s string) asset.ID {
	id, err := asset.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSettlementRebuild settles receipts and usage, including a use that
// cannot be charged yet, then rebuilds the catalog from the log: it equals
// the original. A re-run after the catalog lost the settlement (a crash
// between the ledger commit and the log entry) charges nothing twice.
func TestSettlementRebuild(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	ctx := context.Background()
	c, _ := client.New(m.hs.URL)
	m.download(c)
	if _, err := c.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx); err != nil {
		t.Fatal(err)
	}
	for i, tok := range []int64{1000, 2001, 999_999} {
		u := &metering.Usage{Grant: m.grant.ID, ID: "ev-" + string(rune('a'+i)), Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: tok}
		if code, b := m.report(m.consumer, u); code != http.StatusCreated {
			t.Fatalf("%d %s", code, b)
		}
	}
	// No funds: every use fails and stays unsettled.
	st, err := m.s.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 3 || st.Uses != 1 || st.LogIndex == 0 {
		t.Fatalf("unfunded settlement %+v: want the free receipt settled, three usage events failed", st)
	}
	// Failing again logs nothing new (a periodic run does not fill the log).
	if st, err := m.s.Settle(ctx); err != nil || st.LogIndex != 0 || len(st.Failed) != 3 {
		t.Fatalf("second unfunded settlement %+v %v", st, err)
	}
	m.fund(m.consumer.DID(), 1_000_000)
	st = m.settleOK()
	// ceil(1000*20/1000)=20, ceil(2001*20/1000)=41 (40.02), ceil(999999*20/1000)=20000 (19999.98); the receipt is free under per_1k_tokens.
	if st.Gross["USD-4"] != 20+41+20000 || st.Uses != 3 || st.LogIndex == 0 {
		t.Fatalf("settlement %+v", st)
	}
	unsettled := 0
	m.s.cat.Unsettled(ctx, 1<<62, func(catalog.Use) error { unsettled++; return nil })
	if unsettled != 0 {
		t.Fatalf("%d uses unsettled after settlement", unsettled)
	}
	before, err := m.s.cat.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	balances, _ := m.s.ledger.Balances(ctx)
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Rebuild(ctx, Config{DataDir: m.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SettleInterval: -1}); err != nil {
		t.Fatal(err)
	}
	m.start(Config{DataDir: m.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1})
	after, err := m.s.cat.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatalf("rebuilt catalog differs:\nbefore %d rows\nafter  %d rows", len(before), len(after))
	}
	hasSettlement := false
	for _, r := range after {
		hasSettlement = hasSettlement || bytes.HasPrefix([]byte(r), []byte("settlement "))
	}
	if !hasSettlement {
		t.Fatal("no settlement row in the rebuilt catalog")
	}
	// The catalog forgets the settlement (as if the entry was never
	// logged): a re-run charges nothing twice.
	if err := sqliteCatalog(t, m.s.cat).ForgetSettled(ctx); err != nil {
		t.Fatal(err)
	}
	st = m.settleOK()
	if st.Charged != 0 || st.Existed != 3 || st.Uses != 4 {
		t.Fatalf("re-run %+v: want nothing charged again", st)
	}
	now, _ := m.s.ledger.Balances(ctx)
	for id, b := range balances {
		if now[id] != b {
			t.Fatalf("%s changed on re-run: %+v -> %+v", id, b, now[id])
		}
	}
}

// TestPricingByGrantTerms prices receipts per GiB (rounded up per
// receipt) and a flat price once per grant, by the terms of the grant.
func TestPricingByGrantTerms(t *testing.T) {
	ctx := context.Background()
	m := newMarketTerms(t, Config{SessionIdle: time.Hour}, 2, func(tm *license.Terms) {
		tm.Price = license.Price{Model: license.PerGiB, Currency: "USD", Amount: 1000, Exponent: 2} // 10.00 USD per GiB
	})
	f := &metering.Fund{Amount: 100_000, Created: asset.NewTime(time.Now()), Currency: "USD-2", From: "bank", Licensee: m.consumer.DID(), Nonce: grant.NewNonce()}
	env, _ := f.Sign(m.s.key)
	if _, err := m.c.Fund(ctx, env); err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(m.hs.URL)
	for range 2 {
		m.download(c)
		if _, err := c.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := m.settleOK()
	// 300 KiB at 1000 units per GiB: 0.286 units, rounded up per receipt.
	if st.Gross["USD-2"] != 2 || st.Charged != 2 || st.Uses != 2 {
		t.Fatalf("per-GiB settlement %+v, want 2 receipts of 1 unit", st)
	}
	e := m.earnings(m.max.DID())
	if len(e.Currencies) != 1 || e.Currencies[0].Currency != "USD-2" || e.Currencies[0].Own != 2 || e.Currencies[0].Royalties != 0 {
		t.Fatalf("max's earnings %+v", e)
	}

	// Flat: charged once per grant, however many uses.
	m2 := newMarketTerms(t, Config{}, 2, func(tm *license.Terms) {
		tm.Price = license.Price{Model: license.Flat, Currency: "USD", Amount: 500, Exponent: 2}
	})
	f.Licensee, f.Nonce = m2.consumer.DID(), grant.NewNonce()
	env, _ = f.Sign(m2.s.key)
	if _, err := m2.c.Fund(ctx, env); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		u := &metering.Usage{Grant: m2.grant.ID, ID: fmt.Sprintf("ev-%d", i), Licensee: m2.consumer.DID(), Time: asset.NewTime(time.Now()), Calls: 1}
		if code, b := m2.report(m2.consumer, u); code != http.StatusCreated {
			t.Fatalf("%d %s", code, b)
		}
		st := m2.settleOK()
		if want := map[bool]int{true: 1, false: 0}[i == 0]; st.Charged != want {
			t.Fatalf("flat settlement %d: %+v", i, st)
		}
	}
	if b := m2.balance(settlement.LicenseeAccount(m2.consumer.DID().String(), "USD-2")); b.Net() != 100_000-500 {
		t.Fatalf("consumer balance %d after a flat price of 500", b.Net())
	}
}

func (m *market) earnings(d identity.DID) *api.Earnings {
	e, err := m.c.WithKey(m.s.key).Earnings(context.Background(), client.EarningsQuery{DID: d.String()}) // the operator may read anyone's
	if err != nil {
		m.t.Fatal(err)
	}
	return e
}

// TestPeriodicSettlement: the server settles on its own.
func TestPeriodicSettlement(t *testing.T) {
	m := newMarket(t, Config{SettleInterval: 100 * time.Millisecond})
	m.fund(m.consumer.DID(), 1_000_000)
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1_234_567}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if e := m.earnings(m.ann.DID()); len(e.Currencies) == 1 && e.Currencies[0].Royalties == 2963 {
			ce := e.Currencies[0]
			if len(ce.Assets) != 1 || ce.Assets[0].Asset != m.dataset.String() || len(ce.Assets[0].Sources) != 1 ||
				ce.Assets[0].Sources[0].Used != m.model.String() || ce.Assets[0].Sources[0].Uses != 1 ||
				len(ce.Periods) != 1 || ce.Periods[0].Royalties != 2963 || len(ce.Lines) != 1 || ce.Lines[0].Uses[0] != "u:"+m.grant.ID.String()+"/ev-1" {
				t.Fatalf("ann's statement %+v", ce)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("usage not settled by the periodic run")
}

// TestDisputeVoid: a voided dispute leaves the held revenue with the asset.
func TestDisputeVoid(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	m.fund(m.consumer.DID(), 1_000_000)
	d := &metering.Dispute{Asset: m.model, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: m.ann.DID(), Reason: "unpaid upstream"}
	denv, _ := d.Sign(m.ann)
	da, err := m.c.OpenDispute(ctx, denv)
	if err != nil {
		t.Fatal(err)
	}
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1_234_567}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	m.settleOK()
	res := &metering.Resolution{Asset: m.model, Created: asset.NewTime(time.Now()), Dispute: mustID(t, da.Dispute), Outcome: metering.Void}
	renv, _ := res.Sign(m.max)
	ra, err := m.c.ResolveDispute(ctx, da.Dispute, renv)
	if err != nil || ra.Voided != 3 || ra.Status != "voided" {
		t.Fatalf("void: %+v %v", ra, err)
	}
	for _, k := range []*identity.Key{m.max, m.ann, m.bea} {
		if b := m.balance(settlement.ContributorAccount(k.DID().String(), "USD-4")); b.Net() != 0 || b.CreditsPending != 0 {
			t.Fatalf("contributor after void: %+v", b)
		}
	}
	if b := m.balance(ledger.AssetAccount(settlement.InCurrency(m.model.String(), "USD-4"))); b.Net() != 24692 || b.DebitsPending != 0 {
		t.Fatalf("model revenue after void: net %d, pending %d; want 24692, 0", b.Net(), b.DebitsPending)
	}
	// Resolved: a second resolution is refused.
	if _, err := m.c.ResolveDispute(ctx, da.Dispute, renv); client.StatusCode(err) != http.StatusConflict {
		t.Fatalf("second resolution: %v", err)
	}
}
