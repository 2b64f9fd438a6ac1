package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// perGiB makes the model's terms per-GiB priced, with quota q bytes.
func perGiB(q int64) func(*license.Terms) {
	return func(t *license.Terms) {
		t.Price = license.Price{Model: license.PerGiB, Currency: "USD", Amount: 10, Exponent: 2}
		t.Quotas = license.Quotas{MaxBytes: q}
	}
}

// countingServer serves m's handler through a wrapper that counts, per
// request, the body bytes the handler wrote to the ResponseWriter, and
// reports them on done when the handler returns.
func countingServer(t *testing.T, m *market) (*httptest.Server, chan int64) {
	done := make(chan int64, 16)
	h := m.s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countW{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		if r.Header.Get(HeaderGrant) != "" {
			done <- cw.n
		}
	}))
	t.Cleanup(hs.Close)
	return hs, done
}

type countW struct {
	http.ResponseWriter
	mu sync.Mutex
	n  int64
}

func (c *countW) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

// dropAfter sends a signed GET of path under the market's grant in session
// sid through a real HTTP client, reads keep bytes of the body and hangs
// up.
func (m *market) dropAfter(url, path, sid string, keep int64, hdr map[string]string) {
	m.t.Helper()
	hc := &http.Client{Transport: &httpsig.Transport{Key: m.consumer, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("charter-session", "range")}}}
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set(HeaderGrant, m.grant.ID.String())
	req.Header.Set(HeaderSession, sid)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		m.t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, keep); err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close() // unread body: the connection is closed
}

// closeAs closes session sid as the consumer and returns its one receipt.
func (m *market) closeAs(sid string) *metering.Receipt {
	m.t.Helper()
	c, _ := client.New(m.hs.URL)
	a, err := c.WithGrant(m.consumer, m.grant.ID.String()).WithSession(sid).CloseSession(context.Background())
	if err != nil {
		m.t.Fatal(err)
	}
	if len(a.Receipts) != 1 {
		m.t.Fatalf("close of %s: %d receipts, want 1", sid, len(a.Receipts))
	}
	env, _ := identity.ParseEnvelope(a.Receipts[0].Envelope)
	rc, _, err := metering.OpenReceipt(env)
	if err != nil {
		m.t.Fatal(err)
	}
	return rc
}

// TestDroppedDownloadMetered: a licensee whose client hangs up mid-download
// (a real HTTP client reading part of the body) gets a receipt for exactly
// the data bytes the server wrote, for a verified slice and for a raw
// download, and the quota is charged that much, not the whole object.
// Before, a slice whose write failed returned before metering (no
// receipt), and a raw download was metered and charged in full.
func TestDroppedDownloadMetered(t *testing.T) {
	const size = 32 << 20
	m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(1<<40), size)
	hs, done := countingServer(t, m)
	ctx := context.Background()

	// A verified slice of the whole model, dropped after 1 MiB.
	m.dropAfter(hs.URL, m.slicePath(0, size), "drop-slice", 1<<20, nil)
	written := <-done
	want, _ := content.SliceData(size, 0, size, written)
	if want >= size {
		t.Fatalf("the server wrote the whole slice (%d bytes) before the client hung up; the test needs a larger model", written)
	}
	rc := m.closeAs("drop-slice")
	if rc.Bytes != want || len(rc.Ranges) != 1 || rc.Ranges[0].Offset != 0 || rc.Ranges[0].Length != want {
		t.Fatalf("slice receipt %d bytes %+v; the server wrote %d slice bytes carrying %d data bytes", rc.Bytes, rc.Ranges, written, want)
	}

	// A raw download of a range, dropped after 1 MiB.
	raw := "/v1/blobs/" + m.modelContent.String()
	m.dropAfter(hs.URL, raw, "drop-raw", 1<<20, map[string]string{"Range": "bytes=4096-"})
	written = <-done
	if written >= size-4096 {
		t.Fatalf("the server wrote the whole body before the client hung up")
	}
	rc = m.closeAs("drop-raw")
	if rc.Bytes != written || rc.Ranges[0].Offset != 4096 || rc.Ranges[0].Length != written {
		t.Fatalf("raw receipt %d bytes %+v, the server wrote %d", rc.Bytes, rc.Ranges, written)
	}
	// The quota counts what was served, nothing reserved is left over.
	g, _, err := m.s.grantOf(ctx, m.grant.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	used, reqs, _ := m.s.cat.QuotaUse(ctx, registry.QuotaKey(g))
	if used != want+written || reqs != 2 {
		t.Fatalf("quota charged %d bytes, %d requests; served %d in 2", used, reqs, want+written)
	}
}

// TestRangeMeteredAsServed: a Range request is metered and charged at the
// bytes of the range (before: at the object's full size), and the quota
// refuses a range only when the range itself does not fit.
func TestRangeMeteredAsServed(t *testing.T) {
	m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(200<<10), 300<<10)
	raw := "/v1/blobs/" + m.modelContent.String()
	get := func(rng, sid string) (int, []byte) {
		w := m.signedData(m.consumer, "GET", raw, map[string]string{"Range": rng, HeaderSession: sid}, httpsig.WithHeadersIfPresent("range", "charter-session"))
		return m.send(w, nil)
	}
	if code, b := get("bytes=0-99999", "r1"); code != http.StatusPartialContent || len(b) != 100000 {
		t.Fatalf("first range: %d, %d bytes", code, len(b))
	}
	if code, b := get("bytes=-50000", "r1"); code != http.StatusPartialContent || len(b) != 50000 {
		t.Fatalf("suffix range: %d, %d bytes", code, len(b))
	}
	// 150,000 of 204,800 used: 60,000 more is over, 50,000 fits.
	if code, b := get("bytes=0-59999", "r1"); code != http.StatusForbidden || problemType(b) != ProblemTypeBase+"quota-exhausted" {
		t.Fatalf("range over the quota: %d %s", code, b)
	}
	if code, _ := get("bytes=100000-149999", "r1"); code != http.StatusPartialContent {
		t.Fatalf("range within the quota: %d", code)
	}
	rc := m.closeAs("r1")
	if rc.Bytes != 200000 || len(rc.Ranges) != 2 || rc.Ranges[0].Length != 150000 || rc.Ranges[1].Offset != int64(m.modelSize)-50000 {
		t.Fatalf("receipt %d bytes %+v", rc.Bytes, rc.Ranges)
	}
}

// TestQuotaSurvivesNewGrant: quotas count per licensee and asset (under the
// same terms): a fresh automatic grant does not reset them.
func TestQuotaSurvivesNewGrant(t *testing.T) {
	m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(200<<10), 300<<10)
	ctx := context.Background()
	p := m.slicePath(0, 192<<10)
	if code, b := m.send(m.signedData(m.consumer, "GET", p, nil), nil); code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	ans, err := m.c.RequestGrant(ctx, m.consumer, m.model, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatal(err)
	}
	m.grant = ans.Grant
	if code, b := m.send(m.signedData(m.consumer, "GET", p, nil), nil); code != http.StatusForbidden || problemType(b) != ProblemTypeBase+"quota-exhausted" {
		t.Fatalf("a fresh grant reset the quota: %d %s", code, b)
	}
}

// TestRangeNotSatisfiableIsProblem: 416 answers are problem+json.
func TestRangeNotSatisfiableIsProblem(t *testing.T) {
	m := newMarket(t, Config{})
	corpus := m.corpusContent() // free to read
	for _, rng := range []string{"bytes=999999999-", "bytes=5-2", "bytes=0-1,5-6", "bytes=x-"} {
		req, _ := http.NewRequest("GET", m.hs.URL+"/v1/blobs/"+corpus, nil)
		req.Header.Set("Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Type") != "application/problem+json" || problemType(b) != ProblemTypeBase+"bad-range" {
			t.Errorf("Range %s: %d %s %s", rng, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}

func (m *market) corpusContent() string {
	a, err := m.c.Asset(context.Background(), m.dataset)
	if err != nil {
		m.t.Fatal(err)
	}
	return a.State.Manifest.Content.String()
}

// TestReceiptOnceAcrossCrashes: a session's bytes are in exactly one
// receipt whichever step of closing it a crash interrupts: after sealing
// and before the log append (the sealed receipt is logged at the next
// start), after the append and before it is applied (replay applies it
// and the sealed copy is not logged again), after a duplicate append (the
// copy is a no-op), and with a request in flight (its reservation is
// released, what it recorded stays). The session goes on after the
// restart, and its next receipt holds only the bytes served since.
func TestReceiptOnceAcrossCrashes(t *testing.T) {
	type crash struct {
		name string
		// at leaves the server's state as a crash at one point would
		// leave it, for session sid which served bytes so far.
		at func(m *market, sid string)
	}
	ctx := context.Background()
	seal := func(m *market, sid string) []catalog.SealedReceipt {
		sealed, err := m.s.sealSessions(ctx, catalog.SessionFilter{Session: sid, Licensee: m.consumer.DID().String()})
		if err != nil || len(sealed) != 1 {
			m.t.Fatalf("sealing %s: %d sealed, %v", sid, len(sealed), err)
		}
		return sealed
	}
	appendRaw := func(m *market, env []byte) {
		if _, err := m.s.tlog.Append(ctx, auditlog.TypeReceipt, env); err != nil {
			m.t.Fatal(err)
		}
	}
	crashes := []crash{
		{"nothing sealed", func(m *market, sid string) {}},
		{"sealed, not logged", func(m *market, sid string) { seal(m, sid) }},
		{"logged, not applied", func(m *market, sid string) { appendRaw(m, seal(m, sid)[0].Envelope) }},
		{"logged twice, not applied", func(m *market, sid string) {
			env := seal(m, sid)[0].Envelope
			appendRaw(m, env)
			appendRaw(m, env)
		}},
		{"logged and applied, sealed copy relogged", func(m *market, sid string) {
			env := seal(m, sid)[0].Envelope
			if _, err := m.s.logReceipt(ctx, env); err != nil {
				m.t.Fatal(err)
			}
			appendRaw(m, env)
		}},
		{"request in flight", func(m *market, sid string) {
			g, _, err := m.s.grantOf(ctx, m.grant.ID.String())
			if err != nil {
				m.t.Fatal(err)
			}
			k := catalog.MeterKey{Grant: g.ID.String(), Session: sid, Asset: g.Asset.String(), Licensee: g.Licensee.String(), Quota: registry.QuotaKey(g)}
			if ok, err := m.s.cat.MeterReserve(ctx, k, 50000, catalog.Quota{}, time.Now()); !ok || err != nil {
				m.t.Fatalf("reserve: %v %v", ok, err)
			}
			// 7,000 bytes written and recorded before the crash.
			if _, err := m.s.cat.MeterServed(ctx, k.Grant, sid, m.modelContent.String(), 200000, 7000, 7000, time.Now()); err != nil {
				m.t.Fatal(err)
			}
		}},
	}
	for _, c := range crashes {
		t.Run(c.name, func(t *testing.T) {
			m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(1<<40), 300<<10)
			raw := "/v1/blobs/" + m.modelContent.String()
			get := func(rng string) {
				w := m.signedData(m.consumer, "GET", raw, map[string]string{"Range": rng, HeaderSession: "s1"}, httpsig.WithHeadersIfPresent("range", "charter-session"))
				if code, b := m.send(w, nil); code != http.StatusPartialContent {
					t.Fatalf("%s: %d %s", rng, code, b)
				}
			}
			get("bytes=0-99999")
			served := int64(100000)
			c.at(m, "s1")
			if c.name == "request in flight" {
				served += 7000
			}
			m.restart(Config{SessionIdle: time.Hour})
			get("bytes=100000-129999")
			served += 30000
			m.closeAs("s1")

			// Every receipt of the session in the log, counted once by id.
			waitCovered(t, m.s)
			ids := map[string]int64{}
			var sum int64
			for rec, err := range m.s.tlog.Entries(ctx, 0) {
				if err != nil {
					t.Fatal(err)
				}
				if rec.Entry.Type != auditlog.TypeReceipt {
					continue
				}
				env, _ := identity.ParseEnvelope(rec.Entry.Payload)
				rc, id, err := metering.OpenReceipt(env)
				if err != nil {
					t.Fatal(err)
				}
				if _, seen := ids[id.String()]; seen || rc.Session != "s1" {
					continue
				}
				ids[id.String()] = rc.Bytes
				sum += rc.Bytes
			}
			if sum != served {
				t.Fatalf("receipts %v record %d bytes; %d were served", ids, sum, served)
			}
			g, _, _ := m.s.grantOf(ctx, m.grant.ID.String())
			if used, _, _ := m.s.cat.QuotaUse(ctx, registry.QuotaKey(g)); used != served {
				t.Fatalf("the quota counts %d bytes; %d were served", used, served)
			}
			if left, err := m.s.cat.SealedReceipts(ctx); err != nil || len(left) != 0 {
				t.Fatalf("sealed receipts left after the close: %d %v", len(left), err)
			}
			m.hs.Close()
			if err := m.s.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := CheckCatalog(ctx, Config{DataDir: m.dir, Logger: m.s.log})
			if err != nil || !rep.Clean() {
				t.Fatalf("admin check: %v %+v", err, rep)
			}
		})
	}
}
