package console_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/server"
	"github.com/chromedp/chromedp"
)

// manyAssets is how many assets the big-catalog test and benchmark
// register: 10,000 (issue 15), or $CHARTER_CONSOLE_ASSETS.
func manyAssets(tb testing.TB) int {
	if s := os.Getenv("CHARTER_CONSOLE_ASSETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			tb.Fatalf("CHARTER_CONSOLE_ASSETS=%q: want a number of at least 100", s)
		}
		return n
	}
	return 10_000
}

// bigCatalog is a real server holding n registered assets.
type bigCatalog struct {
	ts    *httptest.Server
	c     *client.Client
	names []string // in log order
	ids   []string
	took  time.Duration
}

// manyHTTP is how many of the big catalog's assets go through the HTTP
// API (the licensed ones among them carry their terms into the log).
const manyHTTP = 10

// seedMany starts a server holding n registered assets: each a small
// blob of its own and a manifest signed by one of 8 owner keys. The first
// manyHTTP go through the signed HTTP path, as `charter publish` sends
// them; then the server stops and the rest are written as a restore
// would: their blobs into its blob store (blob.Put) and their signed
// registrations appended to its transparency log, 512 at once. The server
// then opens again on the same data folder and applies the log to its
// catalog (registry.Replay, as after any restart), so every asset is a
// real registration, checked as the API checks them, in the log with its
// inclusion proof. (The HTTP path alone runs at 80-200 registrations a
// second on the shared CI machine: 10,000 would take over a minute.)
// Every 5th asset is under research-only terms, every 5th + 1 under
// commercial-training; media types alternate between text/plain and
// application/x-safetensors.
func seedMany(tb testing.TB, n int) *bigCatalog {
	tb.Helper()
	ctx := context.Background()
	keys := make([]*identity.Key, 8)
	var proven []identity.DID
	for i := range keys {
		k, err := identity.Generate()
		if err != nil {
			tb.Fatal(err)
		}
		keys[i] = k
		proven = append(proven, k.DID())
	}
	dir := tb.TempDir()
	cfg := server.Config{
		DataDir:       dir,
		ScrubInterval: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		ProvenKeys:    proven,
	}
	bc := &bigCatalog{names: make([]string, n), ids: make([]string, n)}
	start := time.Now()
	manifest := func(i int, cid content.ID, terms map[string]string) (*asset.Manifest, *identity.Key) {
		k := keys[i%len(keys)]
		m := &asset.Manifest{Content: cid, Name: fmt.Sprintf("asset-%05d", i), MediaType: []string{"text/plain", "application/x-safetensors"}[i%2],
			Created: asset.NewTime(time.Now()), Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		switch i % 5 {
		case 0:
			m.License = terms["research-only"]
		case 1:
			m.License = terms["commercial-training"]
		}
		return m, k
	}
	body := func(i int) []byte { return fmt.Appendf(nil, "asset %d of the big catalog\n", i) }

	// The first assets, over HTTP.
	s, err := server.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(mount(s.Handler()))
	c, err := client.New(ts.URL)
	if err != nil {
		tb.Fatal(err)
	}
	put := func(k *identity.Key, b []byte) string {
		info, err := c.WithKey(k).Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		return info.ID
	}
	terms := map[string]string{}
	for _, name := range []string{"research-only", "commercial-training"} {
		t, err := license.Template(name)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := t.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		terms[name] = put(keys[0], b)
	}
	for i := range min(n, manyHTTP) {
		cid, _ := content.ParseID(put(keys[0], body(i)))
		m, k := manifest(i, cid, terms)
		env, err := m.Sign(k)
		if err != nil {
			tb.Fatal(err)
		}
		a, err := c.Register(ctx, env)
		if err != nil {
			tb.Fatalf("register %s: %v", m.Name, err)
		}
		bc.names[i], bc.ids[i] = m.Name, a.Asset
	}
	ts.Close()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}

	// The rest, into the blob store and the log.
	d := server.Deps{Config: cfg}
	if err := server.OpenDefaults(ctx, dir, &d); err != nil {
		tb.Fatal(err)
	}
	var next atomic.Int64
	next.Store(manyHTTP)
	var wg sync.WaitGroup
	// Appends wait for the log to integrate them (a batch every few tens
	// of milliseconds): many at once, as many clients would send them.
	const writers = 512
	httpTook := time.Since(start)
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				err := func() error {
					info, err := blob.Put(ctx, d.Blobs, bytes.NewReader(body(i)), nil)
					if err != nil {
						return err
					}
					m, k := manifest(i, info.ID, terms)
					env, err := m.Sign(k)
					if err != nil {
						return err
					}
					raw, err := env.Marshal()
					if err != nil {
						return err
					}
					id, err := m.ID()
					if err != nil {
						return err
					}
					if _, err := d.Log.Append(ctx, auditlog.TypeAssetRegister, raw); err != nil {
						return err
					}
					bc.names[i], bc.ids[i] = m.Name, id.String()
					return nil
				}()
				if err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	appendTook := time.Since(start) - httpTook
	s, err = server.New(ctx, d)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	bc.ts = httptest.NewServer(mount(s.Handler()))
	tb.Cleanup(bc.ts.Close)
	if bc.c, err = client.New(bc.ts.URL); err != nil {
		tb.Fatal(err)
	}
	// The catalog answers every asset, in log order.
	all, err := bc.c.Assets(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	want := map[string]string{}
	for i, id := range bc.ids {
		want[id] = bc.names[i]
	}
	if len(all) != n {
		tb.Fatalf("the catalog lists %d assets, want %d", len(all), n)
	}
	for i, a := range all {
		name, ok := want[a.State.Asset.String()]
		if !ok || name != a.State.Manifest.Name {
			tb.Fatalf("the catalog lists %s (%s), not one registered", a.State.Asset, a.State.Manifest.Name)
		}
		bc.ids[i], bc.names[i] = a.State.Asset.String(), name
	}
	bc.took = time.Since(start)
	tb.Logf("registered %d assets in %v (%d over HTTP in %v, the rest stored and appended in %v, then replayed and listed)", n, bc.took.Round(time.Millisecond), min(n, manyHTTP), httpTook.Round(time.Millisecond), appendTook.Round(time.Millisecond))
	return bc
}

// TestBrowserBigCatalog opens the catalog of 10,000 registered assets in
// headless Chromium at 1400 and 420 px: the first page renders in under a
// second, timed in the browser from the start of navigation to the page
// rendered (median of 5 loads; issue 15's bound), the page shows 50
// assets and links to the next, the next page holds the next 50 in log
// order, and the search and the terms filters find assets anywhere in the
// catalog. At 420 px nothing overflows the page sideways.
func TestBrowserBigCatalog(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	n := manyAssets(t)
	bc := seedMany(t, n)
	do(t, ctx, chromedp.EmulateViewport(1400, 900))
	var times []float64
	for range 5 {
		do(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(bc.ts.URL+"/#/"))
		waitReady(t, ctx, "#/")
		times = append(times, eval[float64](t, ctx, `(performance.getEntriesByName("charter:ready")[0] || {startTime: -1}).startTime`))
	}
	slices.Sort(times)
	t.Logf("catalog of %d assets rendered in %.0f ms (median of %v ms)", n, times[2], times)
	if times[2] < 0 || times[2] > 1000 {
		t.Errorf("the catalog of %d assets rendered in %.0f ms (median of %v), want under 1,000 ms", n, times[2], times)
	}
	rows := `[...document.querySelectorAll("#catalog-results tbody th a")].map(a => a.textContent)`
	if got := eval[[]string](t, ctx, rows); !slices.Equal(got, bc.names[:50]) {
		t.Fatalf("first page: %d assets %v..., want the first 50 in log order", len(got), got[:min(3, len(got))])
	}
	contains(t, "status", text(t, ctx, "#catalog-status"), "Assets 1–50")
	screenshot(t, ctx, "catalog-10k-1400.png")
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.ready`), chromedp.Click(chromedp.CSS(`nav.pager a.next`)))
	waitReady(t, ctx, "#/?from=")
	if got := eval[[]string](t, ctx, rows); !slices.Equal(got, bc.names[50:100]) {
		t.Errorf("second page: %d assets, want assets 51-100 in log order", len(got))
	}
	contains(t, "status", text(t, ctx, "#catalog-status"), "Assets 51–100")
	if count(t, ctx, "nav.pager a.first") != 1 {
		t.Errorf("the second page has no link to the first")
	}
	// The last asset registered, by name, from the first page.
	goTo(t, ctx, "#/")
	last := bc.names[n-1]
	setFilter(t, ctx, "q", last)
	if got := eval[[]string](t, ctx, rows); !slices.Equal(got, []string{last}) {
		t.Errorf("search %q: %v (%s)", last, got, text(t, ctx, "#catalog-status"))
	}
	setFilter(t, ctx, "q", "")
	setFilter(t, ctx, "purpose", "train")
	lic := eval[[]string](t, ctx, `[...document.querySelectorAll("#catalog-results td[data-label=Licence]")].map(e => e.textContent)`)
	if len(lic) != 50 || slices.ContainsFunc(lic, func(s string) bool { return s != "commercial-training" }) {
		t.Errorf("purpose train: %d rows, licences %v", len(lic), lic)
	}
	do(t, ctx, chromedp.EmulateViewport(420, 900))
	goTo(t, ctx, "#/")
	if over := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
		t.Errorf("the catalog is %dpx wider than a 420 px screen", over)
	}
	screenshot(t, ctx, "catalog-10k-420.png")
}

// BenchmarkCatalogPage answers pages of the 10,000-asset catalog as the
// console asks for them (GET /v1/assets?limit=50 from a random page's
// cursor, and a filtered page: purpose=train), over loopback, and in the
// same run the baseline: the unpaged list the console read before, every
// asset (all pages of 1,000). It reports p50 and p99 of each and the
// ratio page p99 / unpaged p50. Issue 15 asks a page in < 50 ms p99.
//
//	go test ./console -run '^$' -bench CatalogPage -benchtime 400x
func BenchmarkCatalogPage(b *testing.B) {
	bc := seedMany(b, manyAssets(b))
	ctx := context.Background()
	get := func(url string) time.Duration {
		t0 := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", url, resp.StatusCode)
		}
		return time.Since(t0)
	}
	var cursors []string
	for from := ""; ; {
		p, err := bc.c.AssetPage(ctx, client.AssetQuery{Page: client.Page{From: from, Limit: 50}})
		if err != nil {
			b.Fatal(err)
		}
		cursors = append(cursors, from)
		if p.Next == "" {
			break
		}
		from = p.Next
	}
	var page, filtered, full []time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		c := cursors[(i*7919)%len(cursors)]
		page = append(page, get(bc.ts.URL+"/v1/assets?limit=50&from="+c))
		filtered = append(filtered, get(bc.ts.URL+"/v1/assets?limit=50&purpose=train&from="+c))
		if i%10 == 0 {
			t0 := time.Now()
			all, err := bc.c.Assets(ctx)
			if err != nil || len(all) != len(bc.ids) {
				b.Fatalf("unpaged list: %d, %v", len(all), err)
			}
			full = append(full, time.Since(t0))
		}
		i++
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(page, 0.5), "page_p50_ms")
	b.ReportMetric(q(page, 0.99), "page_p99_ms")
	b.ReportMetric(q(filtered, 0.5), "filtered_p50_ms")
	b.ReportMetric(q(filtered, 0.99), "filtered_p99_ms")
	b.ReportMetric(q(full, 0.5), "unpaged_p50_ms")
	b.ReportMetric(q(page, 0.99)/q(full, 0.5), "ratio")
}
