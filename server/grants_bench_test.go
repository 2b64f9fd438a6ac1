package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// licensedFixture starts a server holding one asset of size bytes under
// terms, and returns its client, the asset and content ids and the owner.
func licensedFixture(tb testing.TB, size int, terms string) (*Server, *httptest.Server, *client.Client, asset.ID, content.ID, *identity.Key) {
	tb.Helper()
	return licensedFixtureOn(tb, nil, size, terms)
}

// licensedFixtureOn is licensedFixture on catalog cat (nil: SQLite).
func licensedFixtureOn(tb testing.TB, cat catalog.Catalog, size int, terms string) (*Server, *httptest.Server, *client.Client, asset.ID, content.ID, *identity.Key) {
	tb.Helper()
	s, err := Open(context.Background(), Config{DataDir: tb.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, Catalog: cat, Crowd: noCrowdPool})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(hs.Close)
	c, _ := client.New(hs.URL)
	uk, _ := identity.Generate()
	c = c.WithKey(uk)
	ctx := context.Background()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	info, err := c.Put(ctx, bytes.NewReader(data), int64(size), client.PutOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	cid, _ := content.ParseID(info.ID)
	t, _ := license.Template(terms)
	tb2, _ := t.Encode()
	tinfo, err := c.Put(ctx, bytes.NewReader(tb2), int64(len(tb2)), client.PutOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	owner, _ := identity.Generate()
	m := &asset.Manifest{Content: cid, Name: "bench", MediaType: "application/octet-stream", Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}, License: tinfo.ID}
	env, _ := m.Sign(owner)
	ans, err := c.Register(ctx, env)
	if err != nil {
		tb.Fatal(err)
	}
	aid, _ := asset.ParseID(ans.Asset)
	return s, hs, c, aid, cid, owner
}

// BenchmarkGrants measures end-to-end grants (signed request, Cedar
// decision, decision and grant logged, answered with both inclusion
// proofs) with concurrent clients. Target: >= 1,000 grants/s on 2 cores.
// The baseline in the same run is the policy decision alone.
func BenchmarkGrants(b *testing.B) {
	_, hs, _, aid, _, _ := licensedFixture(b, 1024, "research-only")
	b.ResetTimer()
	keys, rate := runGrants(b, hs, aid, b.N)
	b.StopTimer()
	b.ReportMetric(rate, "grants/s")
	// Baseline: the policy decision alone, in the same run.
	t, _ := license.Template("research-only")
	req := license.Request{Licensee: keys[0].DID().String(), Asset: aid.String(), Purpose: "research", Time: time.Now().Truncate(time.Second)}
	t1 := time.Now()
	for range 2000 {
		license.Decide(t, req)
	}
	b.ReportMetric(2000/time.Since(t1).Seconds(), "decisions/s")
}

// runGrants has 1,024 clients request n0 grants on asset aid of the
// server at hs, each answered with its proofs, and returns the clients'
// keys and the grants per second.
func runGrants(b *testing.B, hs *httptest.Server, aid asset.ID, n0 int) ([]*identity.Key, float64) {
	b.Helper()
	return runGrantsClients(b, hs, aid, n0, 1024)
}

// runGrantsClients is runGrants with the given number of clients.
func runGrantsClients(b *testing.B, hs *httptest.Server, aid asset.ID, n0, clients int) ([]*identity.Key, float64) {
	b.Helper()
	keys := make([]*identity.Key, clients)
	for i := range keys {
		keys[i], _ = identity.Generate()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	hc := &http.Client{Transport: tr}
	var next atomic.Int64
	n := int64(n0)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				r := &grant.Request{Asset: aid, Created: asset.NewTime(time.Now()), Licensee: keys[i].DID(), Nonce: grant.NewNonce(), Purpose: "research"}
				env, _ := r.Sign(keys[i])
				raw, _ := env.Marshal()
				resp, err := hc.Post(hs.URL+"/v1/assets/"+aid.String()+"/grants", "application/json", bytes.NewReader(raw))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var ans struct {
					Status string `json:"status"`
				}
				json.Unmarshal(body, &ans)
				if ans.Status != "granted" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %.300s", resp.Status, body))
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if failed.Load() > 0 {
		b.Fatalf("%d grant requests failed, the first: %v", failed.Load(), firstErr.Load())
	}
	return keys, float64(n0) / el.Seconds()
}

// BenchmarkEnforcement compares a verified download of licensed content
// (every request signed under a grant, checked by the server) with the
// same download of the same bytes published free, in the same run.
// Target: enforcement costs <= 5% of throughput (ratio >= 0.95).
func BenchmarkEnforcement(b *testing.B) {
	const size = 64 << 20
	s, _, c, aid, cid, _ := licensedFixture(b, size, "research-only")
	ctx := context.Background()
	consumer, _ := identity.Generate()
	ans, err := c.RequestGrant(ctx, consumer, aid, "research", client.GrantOptions{})
	if err != nil || ans.Status != "granted" {
		b.Fatalf("grant: %v %+v", err, ans)
	}
	gc := c.WithGrant(consumer, ans.Grant.ID.String())
	// The same bytes under another id: one extra byte makes it free.
	free := make([]byte, size+1)
	for i := range free[:size] {
		free[i] = byte(i * 7)
	}
	finfo, err := c.Put(ctx, bytes.NewReader(free), int64(len(free)), client.PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	fid, _ := content.ParseID(finfo.ID)
	_ = s
	var tFree, tLic time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Stream(ctx, fid, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
		tFree += time.Since(t0)
		t0 = time.Now()
		if _, err := gc.Stream(ctx, cid, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
		tLic += time.Since(t0)
	}
	b.ReportMetric(float64(size)/1e6*float64(b.N)/tFree.Seconds(), "free_MB/s")
	b.ReportMetric(float64(size)/1e6*float64(b.N)/tLic.Seconds(), "licensed_MB/s")
	b.ReportMetric(tFree.Seconds()/tLic.Seconds(), "ratio")
}
