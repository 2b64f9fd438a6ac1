package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// signedData builds a data-plane request under the market's grant, signed
// by k with opts (what the signature covers), and returns its wire form so
// a test can send it, change it, or send it again.
func (m *market) signedData(k *identity.Key, method, path string, hdr map[string]string, opts ...httpsig.SignOption) string {
	m.t.Helper()
	req, err := http.NewRequest(method, m.hs.URL+path, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	req.Header.Set(HeaderGrant, m.grant.ID.String())
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	opts = append([]httpsig.SignOption{httpsig.WithHeaders("charter-grant")}, opts...)
	if err := httpsig.Sign(req, k, time.Now(), opts...); err != nil {
		m.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		m.t.Fatal(err)
	}
	return b.String()
}

// send sends a request in wire form to the current server, with headers
// set (replacing) on the way, and returns the status and body.
func (m *market) send(wire string, set map[string]string) (int, []byte) {
	m.t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(wire)))
	if err != nil {
		m.t.Fatal(err)
	}
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", strings.TrimPrefix(m.hs.URL, "http://")
	for k, v := range set {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (m *market) restart(cfg Config) {
	m.t.Helper()
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		m.t.Fatal(err)
	}
	cfg.DataDir, cfg.Logger, cfg.ScrubInterval, cfg.SettleInterval = m.dir, slog.New(slog.NewTextHandler(io.Discard, nil)), -1, -1
	m.start(cfg)
}

func (m *market) slicePath(off, n int64) string {
	return "/v1/blobs/" + m.modelContent.String() + "/slice?offset=" + strconv.FormatInt(off, 10) + "&length=" + strconv.FormatInt(n, 10)
}

// TestReplayAfterRestart: a captured signed data request is refused when
// sent again after the server restarted (nonces were kept in memory only).
func TestReplayAfterRestart(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	w := m.signedData(m.consumer, "GET", m.slicePath(0, 16384), nil)
	if code, b := m.send(w, nil); code != http.StatusOK {
		t.Fatalf("first use: %d %s", code, b)
	}
	if code, _ := m.send(w, nil); code != http.StatusUnauthorized {
		t.Fatalf("replay before restart: %d", code)
	}
	m.restart(Config{SessionIdle: time.Hour})
	if code, b := m.send(w, nil); code != http.StatusUnauthorized || !strings.Contains(string(b), "replayed") {
		t.Fatalf("replay after restart: %d %s", code, b)
	}
}

// TestUnsignedHeadersRefused: Range and Charter-Session change what is
// served and billed; added to a signed request that does not cover them,
// the request is refused. Covered, they are accepted.
func TestUnsignedHeadersRefused(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	raw := "/v1/blobs/" + m.modelContent.String()
	for _, h := range []map[string]string{{"Range": "bytes=0-99"}, {HeaderSession: "someone-elses"}} {
		w := m.signedData(m.consumer, "GET", raw, nil)
		if code, b := m.send(w, h); code != http.StatusUnauthorized || problemType(b) != ProblemTypeBase+"bad-request-signature" {
			t.Fatalf("unsigned %v: %d %s", h, code, b)
		}
	}
	w := m.signedData(m.consumer, "GET", raw, map[string]string{"Range": "bytes=0-99", HeaderSession: "s1"}, httpsig.WithHeadersIfPresent("range", "charter-session"))
	if code, b := m.send(w, nil); code != http.StatusPartialContent || len(b) != 100 {
		t.Fatalf("signed range: %d, %d bytes", code, len(b))
	}
}

// TestCloseOnlyOwnSession: a session is closed only by its licensee. An
// unsigned close is refused; a close signed by another key (holding its
// own grant) closes nothing; the licensee's close gets every byte.
func TestCloseOnlyOwnSession(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	ctx := context.Background()
	c, _ := client.New(m.hs.URL)
	c.ChunkSize = 64 << 10
	m.download(c)
	sid := c.Session()
	if code, b := m.post("/v1/sessions/"+sid+"/close", []byte("{}")); code != http.StatusUnauthorized {
		t.Fatalf("unsigned close of another's session: %d %s", code, b)
	}
	thief, _ := identity.Generate()
	ans, err := m.c.RequestGrant(ctx, thief, m.model, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("thief's grant: %v %+v", err, ans)
	}
	tc := c.WithGrant(thief, ans.Grant.ID.String()) // same session id as the victim
	if a, err := tc.CloseSession(ctx); err != nil || len(a.Receipts) != 0 {
		t.Fatalf("close by another licensee: %+v %v", a, err)
	}
	if rs, _ := m.s.cat.Receipts(ctx, "", 10); len(rs) != 0 {
		t.Fatalf("another key's close logged %d receipts", len(rs))
	}
	a, err := c.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx)
	if err != nil || len(a.Receipts) != 1 || a.Receipts[0].Bytes != int64(m.modelSize) {
		t.Fatalf("licensee's close: %+v %v", a, err)
	}
}

// TestNonceFloodIsolated: throwaway keys flooding signed requests (with a
// grant id they do not hold) consume no nonce space, and a licensee at its
// own bound does not stop another: the honest download succeeds. (Before,
// nonces were stored before the grant was looked up, in one global store.)
func TestNonceFloodIsolated(t *testing.T) {
	const limit = 16
	m := newMarket(t, Config{SessionIdle: time.Hour, NonceLimit: limit})
	ctx := context.Background()
	before := operationalCount(t, m.s.cat, "nonces ") // the market's setup uploads are signed too
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				k, _ := identity.Generate()
				if code, b := m.send(m.signedData(k, "GET", m.slicePath(0, 16384), nil), nil); code != http.StatusForbidden {
					t.Errorf("throwaway key: %d %s", code, b)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := operationalCount(t, m.s.cat, "nonces ") - before; n != 0 {
		t.Fatalf("%d nonces stored for keys without a grant", n)
	}
	// A licensee with its own grant floods up to its bound and past it.
	flooder, _ := identity.Generate()
	ans, err := m.c.RequestGrant(ctx, flooder, m.model, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatal(err)
	}
	fg := *m
	fg.grant = ans.Grant
	busy := 0
	for range limit + 8 {
		if code, _ := fg.send(fg.signedData(flooder, "GET", fg.slicePath(0, 16384), nil), nil); code == http.StatusServiceUnavailable {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("a key past its nonce bound was never refused")
	}
	// The honest licensee is not affected.
	c, _ := client.New(m.hs.URL)
	c.ChunkSize = 64 << 10
	m.download(c)
	a, err := c.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx)
	if err != nil || len(a.Receipts) != 1 || a.Receipts[0].Bytes != int64(m.modelSize) {
		t.Fatalf("honest download: %+v %v", a, err)
	}
}
