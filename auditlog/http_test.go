package auditlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// TestHandlerWithTesseraClient audits the served log with tessera's own
// tlog-tiles client, which shares no code with this package's readers.
func TestHandlerWithTesseraClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		l := openAt(t, st.new(t), s, Options{})
		appendN(t, l, 0, 300)
		r, err := l.AppendAndProve(ctx, TypeDecision, []byte(`{"decision":"allow"}`))
		if err != nil {
			t.Fatal(err)
		}

		mux := http.NewServeMux()
		mux.Handle("/log/", l.Handler())
		srv := httptest.NewServer(mux)
		defer srv.Close()

		// The verifier key comes from /log/key.
		resp, err := http.Get(srv.URL + "/log/key")
		if err != nil {
			t.Fatal(err)
		}
		vkey, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
		if err != nil {
			t.Fatal(err)
		}

		root, _ := url.Parse(srv.URL + "/log/")
		f, err := client.NewHTTPFetcher(root, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		cp, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, DefaultOrigin)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size <= r.Index {
			t.Fatalf("served checkpoint size %d does not cover %d", cp.Size, r.Index)
		}
		pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		hashes, err := pb.InclusionProof(ctx, r.Index)
		if err != nil {
			t.Fatal(err)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(r.Entry)
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, cp.Size, leaf, hashes, cp.Hash); err != nil {
			t.Fatal(err)
		}
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, r.Index/256, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if got := bundle.Entries[r.Index%256]; !bytes.Equal(got, r.Entry) {
			t.Fatalf("served entry %q, want %q", got, r.Entry)
		}
	})
}

func TestHandlerHeadersAndPaths(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		s := newSigner(t, DefaultOrigin)
		l := openAt(t, st.new(t), s, Options{})
		appendN(t, l, 0, 300)
		h := l.Handler()
		get := func(method, path string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, "http://charter.test/", nil)
			req.URL.Path = path // unclean paths reach the handler as they are
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		for _, tc := range []struct {
			path, ctype, cache string
		}{
			{"/log/checkpoint", "text/plain; charset=utf-8", "no-cache"},
			{"/log/key", "text/plain; charset=utf-8", keyCache},
			{"/log/tile/0/000", "application/octet-stream", immutableCache},
			{"/log/tile/0/001.p/44", "application/octet-stream", immutableCache},
			{"/log/tile/1/000.p/1", "application/octet-stream", immutableCache},
			{"/log/tile/entries/000", "application/octet-stream", immutableCache},
			{"/log/tile/entries/001.p/44", "application/octet-stream", immutableCache},
		} {
			rec := get(http.MethodGet, tc.path)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d", tc.path, rec.Code)
				continue
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("GET %s: Cache-Control %q, want %q", tc.path, got, tc.cache)
			}
		}
		if got := get(http.MethodGet, "/log/tile/0/000").Body.Len(); got != 256*HashSize {
			t.Errorf("full tile is %d bytes", got)
		}
		if rec := get(http.MethodGet, "/log/key"); strings.TrimSpace(rec.Body.String()) != s.VerifierKey() {
			t.Errorf("/log/key = %q", rec.Body.String())
		}
		for _, p := range []string{
			"/log/../checkpoint",
			"/log/.state/treeState",
			"/log/tile/0/../../.state/treeState",
			"/log/tile/entries/../../checkpoint",
			"/log/tile/0/x001/../000",
			"/log/tile/0/0",
			"/log/tile/0/000.p/0",
			"/log/tile/0/000.p/256",
			"/log/tile/0/000.p/01",
			"/log/tile/64/000",
			"/log/tile/00/000",
			"/log/tile/0/000/",
			"/log/tile/0/x000/000",
			"/log/tile/0/002", // well-formed but absent
			"/log/tile/entries/%2e%2e",
			"/log/",
			"/logcheckpoint",
			"/checkpoint",
		} {
			if rec := get(http.MethodGet, p); rec.Code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, rec.Code)
			}
		}
		if rec := get(http.MethodPost, "/log/checkpoint"); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", rec.Code)
		}
		if rec := get(http.MethodHead, "/log/tile/0/000"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
			t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
		}
	})
}

// TestRemoteAudit audits and replays a served log through tessera's HTTP
// fetcher, as a third party would, and sees tampering behind the server.
func TestRemoteAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		dir := st.new(t)
		l := openAt(t, dir, s, Options{})
		appendN(t, l, 0, 600)
		mux := http.NewServeMux()
		mux.Handle("/log/", l.Handler())
		srv := httptest.NewServer(mux)
		defer srv.Close()

		root, _ := url.Parse(srv.URL + "/log/")
		f, err := client.NewHTTPFetcher(root, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := f.ReadCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := NewVerifier(s.VerifierKey())
		cp, err := OpenCheckpoint(raw, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Audit(ctx, f, cp); err != nil {
			t.Fatal(err)
		}
		n := 0
		for r, err := range ReadEntries(ctx, f, cp, 250) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Index != 250+uint64(n) {
				t.Fatalf("record %d has index %d", n, r.Index)
			}
			n++
		}
		if uint64(n) != cp.Size-250 {
			t.Fatalf("%d records", n)
		}

		st.flipBundleByte(t, dir, 1, 300)
		if err := Audit(ctx, f, cp); !errors.Is(err, ErrTampered) {
			t.Fatalf("remote audit of a tampered log: %v", err)
		}
		for _, err = range ReadEntries(ctx, f, cp, 0) {
			if err != nil {
				break
			}
		}
		if !errors.Is(err, ErrTampered) {
			t.Fatalf("remote replay of a tampered log: %v", err)
		}
	})
}
