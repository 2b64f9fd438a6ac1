package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/console"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/server"
)

// mount serves the API and the console on one origin, as charter serve
// does: API paths go to the server, everything else to the console.
func mount(apiH http.Handler) http.Handler {
	ui := console.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/log/") || p == "/openapi.json" || p == "/healthz" {
			apiH.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
}

// startServer runs a real Charter server on a temporary data folder.
// wrap, when set, sits between the browser and the server.
func startServer(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, *client.Client) {
	ts, c, _ := startServerDir(t, wrap)
	return ts, c
}

// startServerDir is startServer that also returns the data folder (where
// the operator's key is).
func startServerDir(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, *client.Client, string) {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	s, err := server.Open(ctx, server.Config{
		DataDir:       dataDir,
		ScrubInterval: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := mount(s.Handler())
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	uk, err := identity.Generate() // signs uploads
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(uk)
	return ts, c, dataDir
}

// world is the seeded registry the browser tests click through.
type world struct {
	alice, bob, carol, mallory   *identity.Key
	corpus, model, tuned, stolen asset.ID
	proposal                     string
	grantRequest                 string
	modelGrant                   asset.ID
}

func putBytes(t *testing.T, c *client.Client, b []byte) string {
	t.Helper()
	info, err := c.Put(context.Background(), bytes.NewReader(b), int64(len(b)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

func putTerms(t *testing.T, c *client.Client, template string) string {
	t.Helper()
	terms, err := license.Template(template)
	if err != nil {
		t.Fatal(err)
	}
	b, err := terms.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return putBytes(t, c, b)
}

func register(t *testing.T, c *client.Client, m *asset.Manifest, signers ...*identity.Key) asset.ID {
	t.Helper()
	if m.Created.Time().IsZero() {
		m.Created = asset.NewTime(time.Now())
	}
	env, err := m.Sign(signers...)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := c.Register(context.Background(), env)
	if err != nil {
		t.Fatalf("register %s: %v", m.Name, err)
	}
	id, err := asset.ParseID(ans.Asset)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newKey(t *testing.T) *identity.Key {
	t.Helper()
	k, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// seed registers, through the Go client, a story that holds under the
// licence rules: a dataset owned by Alice and Bob (threshold 2,
// contributors 60/40) under terms that need the owners' approval and ask
// derivatives for 10% absolute; Alice's approved derivative grant and the
// model she trained on it (10% absolute) under commercial-training terms
// (5% relative); Carol's grant to train on the model and publish a
// fine-tune, and the fine-tune (10% relative) under inference-metered
// terms; Mallory's conflicting claim on the model's bytes; a pending
// proposal by Bob; and a pending request (Carol asks to research on the
// dataset).
func seed(t *testing.T, c *client.Client) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{alice: newKey(t), bob: newKey(t), carol: newKey(t), mallory: newKey(t)}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b", "c.txt"), []byte("gamma\n"), 0o644)
	ds, _, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	dsID, _ := content.ParseID(ds.ID)
	// The corpus's terms: every grant waits for the owners, derivatives
	// are allowed and pay 10% of the gross back (approval-required without
	// reciprocity, so the model may carry its own commercial terms).
	curated, err := license.Template("approval-required")
	if err != nil {
		t.Fatal(err)
	}
	curated.Name, curated.Derivatives.Reciprocal = "curated", false
	cb, err := curated.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w.corpus = register(t, c, &asset.Manifest{
		Content: dsID, Name: "corpus", Description: "Two small text files.", MediaType: content.DatasetMediaType,
		Owners:       []asset.Owner{{DID: w.alice.DID(), Weight: 1}, {DID: w.bob.DID(), Weight: 1}},
		Threshold:    2,
		Contributors: []asset.Contributor{{DID: w.alice.DID(), Share: 600000}, {DID: w.bob.DID(), Share: 400000}},
		License:      putBytes(t, c, cb),
	}, w.alice, w.bob)

	// Alice asks for the right to train a model on the corpus; both owners
	// approve.
	rq, err := c.RequestGrant(ctx, w.alice, w.corpus, "train", client.GrantOptions{Commercial: true, Derivative: true})
	if err != nil || rq.Status != "pending" {
		t.Fatalf("derivative request on the corpus: %v %+v", err, rq)
	}
	var right *api.GrantAnswer
	for _, k := range []*identity.Key{w.alice, w.bob} {
		rid, _ := asset.ParseID(rq.Request)
		env, err := (&grant.Approval{Approve: true, Approver: k.DID(), Asset: w.corpus, Request: rid}).Sign(k)
		if err != nil {
			t.Fatal(err)
		}
		if right, err = c.Vote(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	if right.Grant == nil || !right.Grant.Derivative {
		t.Fatalf("derivative grant on the corpus: %+v", right)
	}

	modelBytes := []byte("weights of a small model\n")
	mID, _ := content.ParseID(putBytes(t, c, modelBytes))
	w.model = register(t, c, &asset.Manifest{
		Content: mID, Name: "model", MediaType: "application/x-safetensors",
		Owners: []asset.Owner{{DID: w.alice.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: w.alice.DID(), Share: asset.Whole}},
		Parents:      []asset.Parent{{Asset: w.corpus, Grant: right.Grant.ID, Royalty: 100000, Stacking: asset.Absolute}},
		License:      putTerms(t, c, "commercial-training"),
	}, w.alice)

	// Carol's grant on the model: to train on it, commercially, and
	// publish the fine-tune.
	g, err := c.RequestGrant(ctx, w.carol, w.model, "train", client.GrantOptions{Commercial: true, Derivative: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != "granted" {
		t.Fatalf("grant on the model: %s %v", g.Status, g.Reasons)
	}
	w.modelGrant = g.Grant.ID

	tID, _ := content.ParseID(putBytes(t, c, []byte("fine-tuned weights\n")))
	w.tuned = register(t, c, &asset.Manifest{
		Content: tID, Name: "model-chat", MediaType: "application/x-safetensors",
		Owners: []asset.Owner{{DID: w.carol.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: w.carol.DID(), Share: asset.Whole}},
		Parents:      []asset.Parent{{Asset: w.model, Grant: w.modelGrant, Royalty: 100000, Stacking: asset.Relative}},
		License:      putTerms(t, c, "inference-metered"),
	}, w.carol)

	w.stolen = register(t, c, &asset.Manifest{
		Content: mID, Name: "stolen", MediaType: "application/x-safetensors",
		Owners: []asset.Owner{{DID: w.mallory.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: w.mallory.DID(), Share: asset.Whole}},
	}, w.mallory)

	v, err := c.Asset(ctx, w.corpus)
	if err != nil {
		t.Fatal(err)
	}
	p := &asset.Proposal{Asset: w.corpus, Change: asset.Change{Kind: asset.SetOwners,
		Owners: []asset.Owner{{DID: w.alice.DID(), Weight: 1}, {DID: w.bob.DID(), Weight: 2}}, Threshold: 2},
		Expires: asset.NewTime(time.Now().Add(72 * time.Hour)), Nonce: asset.NewNonce(), Proposer: w.bob.DID(), Version: v.State.Version}
	env, err := p.Sign(w.bob)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := c.Propose(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	w.proposal = ans.Proposal

	g, err = c.RequestGrant(ctx, w.carol, w.corpus, "research", client.GrantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != "pending" {
		t.Fatalf("grant on the corpus: %s %v", g.Status, g.Reasons)
	}
	w.grantRequest = g.Request
	return w
}

// settleTraining has Carol report one training run of the model under her
// grant, the operator fund her account, and the server settle: Alice
// earns the model's own revenue and, as the dataset's 60% contributor,
// royalties from it.
func settleTraining(t *testing.T, c *client.Client, dataDir string, w *world) {
	t.Helper()
	ctx := context.Background()
	u := &metering.Usage{Grant: w.modelGrant, ID: "run-1", Licensee: w.carol.DID(), Runs: 1, Time: asset.NewTime(time.Now())}
	env, err := u.Sign(w.carol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReportUsage(ctx, env); err != nil {
		t.Fatal(err)
	}
	op, err := identity.Load(filepath.Join(dataDir, "keys", "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &metering.Fund{Amount: 100000, Created: asset.NewTime(time.Now()), Currency: "USD-2", From: "bank", Licensee: w.carol.DID(), Nonce: asset.NewNonce()}
	if env, err = f.Sign(op); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fund(ctx, env); err != nil {
		t.Fatal(err)
	}
	st, err := c.WithKey(op).Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Charged != 1 || len(st.Failed) != 0 {
		t.Fatalf("settlement charged %d, failed %v", st.Charged, st.Failed)
	}
}

// TestSeedStoryHolds seeds the console's story without a browser and
// checks that it tells no contradiction: every derived asset's licence and
// declared royalty are what its parent's terms allow, and settling a use
// of the model pays the corpus.
func TestSeedStoryHolds(t *testing.T) {
	_, c, dir := startServerDir(t, nil)
	w := seed(t, c)
	ctx := context.Background()
	termsOf := func(ref string) *license.Terms {
		if ref == "" {
			return nil
		}
		id, err := content.ParseID(ref)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := c.Stream(ctx, id, &buf, nil); err != nil {
			t.Fatal(err)
		}
		tm, err := license.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, id := range []asset.ID{w.model, w.tuned} {
		v, err := c.Asset(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range v.State.Manifest.Parents {
			pv, err := c.Asset(ctx, p.Asset)
			if err != nil {
				t.Fatal(err)
			}
			err = license.CheckDerivative(termsOf(pv.State.License), license.Derived{Royalty: int64(p.Royalty), Stacking: license.Stacking(p.Stacking), Terms: termsOf(v.State.License)})
			if err != nil {
				t.Errorf("%s under %s contradicts its parent %s: %v", v.State.Manifest.Name, v.State.License, pv.State.Manifest.Name, err)
			}
		}
	}
	settleTraining(t, c, dir, w)
	// One training run of the model: 500.00 USD; the corpus is owed 10%
	// of it (absolute), 40% of which is Bob's: 20.00 USD.
	st, err := c.WithKey(w.bob).Earnings(ctx, client.EarningsQuery{DID: w.bob.DID().String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Currencies) != 1 || st.Currencies[0].Royalties != 2000 || st.Currencies[0].Own != 0 {
		t.Fatalf("bob's earnings: %+v", st.Currencies)
	}
}
