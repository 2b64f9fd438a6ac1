package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/testenv"
)

// TestDirectReads runs direct reads (Config.S3DirectReads) on a real
// versitygw: the client gets the tree from the server and the data from
// the store by the presigned URL, verified, with the right bytes; the URL
// fetches its range only (another range, no range, or after it expired:
// refused by the store's signature check); the widened range is charged
// once when the URL is issued, fetched or not; a caller without a grant
// gets no URL; a client that cannot reach the store falls back to the
// server (and pays the range again); a tampered object is refused by the
// client.
func TestDirectReads(t *testing.T) {
	e := testenv.StartS3(t)
	bs, err := s3.New(e.Client(), e.Bucket(t), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const size = 12 << 20
	m := newMarketOn(t, Config{SessionIdle: time.Hour, S3DirectReads: true}, 2, perGiB(1<<40), size, bs)
	model := make([]byte, size)
	for i := range model {
		model[i] = byte(i * 13)
	}
	ctx := context.Background()
	off, n := int64(5000), int64(3<<20+7)
	ws, we, _ := content.WidenRange(size, off, n)
	wantRange := fmt.Sprintf("bytes=%d-%d", ws, we-1)

	// A raw direct answer: the tree, and a URL of exactly the widened range.
	hc := &http.Client{Transport: &httpsig.Transport{Key: m.consumer, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("charter-session")}}}
	ask := func(session string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", m.hs.URL+m.slicePath(off, n), nil)
		req.Header.Set(HeaderGrant, m.grant.ID.String())
		req.Header.Set(HeaderSession, session)
		req.Header.Set("Accept", MediaSliceDirect+", "+MediaSliceSplit)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaSliceDirect {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("direct ask: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		return resp
	}
	resp := ask("direct-raw")
	tree, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if treeLen, _ := content.TreeSize(size, off, n); int64(len(tree)) != treeLen {
		t.Fatalf("body %d bytes, want the tree's %d", len(tree), treeLen)
	}
	u, rng := resp.Header.Get(HeaderDataURL), resp.Header.Get(HeaderDataRange)
	if rng != wantRange || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("range %q (want %q), Cache-Control %q", rng, wantRange, resp.Header.Get("Cache-Control"))
	}
	if bytes.Contains([]byte(u), []byte(e.SecretKey)) {
		t.Fatal("the URL holds the store's secret key")
	}
	fetch := func(rng string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	for range 2 { // the same range twice: same bytes, charged once
		code, b := fetch(rng)
		if code != http.StatusPartialContent || !bytes.Equal(b, model[ws:we]) {
			t.Fatalf("presigned GET of its range: %d, %d bytes", code, len(b))
		}
		var got bytes.Buffer
		if _, err := content.VerifySplit(&got, io.MultiReader(bytes.NewReader(tree), bytes.NewReader(b)), m.modelContent, off, n, nil); err != nil || !bytes.Equal(got.Bytes(), model[off:off+n]) {
			t.Fatalf("verifying tree + presigned data: %v", err)
		}
	}
	for _, other := range []string{fmt.Sprintf("bytes=%d-%d", ws, we), "bytes=0-1048575", fmt.Sprintf("bytes=%d-", ws), ""} {
		if code, b := fetch(other); code != http.StatusForbidden {
			t.Fatalf("presigned GET with Range %q: %d (%d bytes), want 403", other, code, len(b))
		}
	}
	// The URL names one object: pointed at another (the blob's outboard,
	// or any other key in the bucket) its signature no longer holds.
	dataKey := bs.ObjectKey(blob.Key{ID: m.modelContent, Part: blob.Data})
	obKey := bs.ObjectKey(blob.Key{ID: m.modelContent, Part: blob.Outboard})
	if !strings.Contains(u, dataKey) {
		t.Fatalf("URL %q does not name the data object %q", u, dataKey)
	}
	for _, other := range []string{obKey, dataKey + "x"} {
		req, _ := http.NewRequest("GET", strings.Replace(u, dataKey, other, 1), nil)
		req.Header.Set("Range", rng)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusForbidden {
			t.Fatalf("the URL pointed at %q: %d, want 403", other, r.StatusCode)
		}
	}
	if rc := m.closeAs("direct-raw"); rc.Bytes != we-ws {
		t.Fatalf("issued URL fetched twice: receipt %d bytes, want the widened range's %d once", rc.Bytes, we-ws)
	}
	// Issued and never fetched: charged all the same.
	ask("direct-unused").Body.Close()
	if rc := m.closeAs("direct-unused"); rc.Bytes != we-ws {
		t.Fatalf("issued URL never fetched: receipt %d bytes, want %d", rc.Bytes, we-ws)
	}

	// Without a grant: refused, no URL.
	req, _ := http.NewRequest("GET", m.hs.URL+m.slicePath(off, n), nil)
	req.Header.Set("Accept", MediaSliceDirect+", "+MediaSliceSplit)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode < 400 || r2.Header.Get(HeaderDataURL) != "" {
		t.Fatalf("no grant: %d, URL %q", r2.StatusCode, r2.Header.Get(HeaderDataURL))
	}

	// A key made a minute ago presenting the consumer's grant (its id is
	// no secret: it is in the log): refused, and no URL.
	stranger, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	sc := &http.Client{Transport: &httpsig.Transport{Key: stranger, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("charter-session")}}}
	req, _ = http.NewRequest("GET", m.hs.URL+m.slicePath(off, n), nil)
	req.Header.Set(HeaderGrant, m.grant.ID.String())
	req.Header.Set(HeaderSession, "direct-stranger")
	req.Header.Set("Accept", MediaSliceDirect+", "+MediaSliceSplit)
	r3, err := sc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode < 400 || r3.Header.Get(HeaderDataURL) != "" {
		t.Fatalf("a stranger with the consumer's grant id: %d, URL %q", r3.StatusCode, r3.Header.Get(HeaderDataURL))
	}

	// The client library: right bytes, charged once.
	c, _ := client.New(m.hs.URL)
	c = c.WithGrant(m.consumer, m.grant.ID.String()).WithSession("direct-client")
	var got bytes.Buffer
	if err := c.FetchRange(ctx, m.modelContent, off, n, &got); err != nil || !bytes.Equal(got.Bytes(), model[off:off+n]) {
		t.Fatalf("client FetchRange: %d bytes, %v", got.Len(), err)
	}
	if rc := m.closeAs("direct-client"); rc.Bytes != we-ws {
		t.Fatalf("client's direct range: receipt %d bytes, want %d", rc.Bytes, we-ws)
	}

	// The whole blob: a URL without a Range, the whole object.
	got.Reset()
	wc, _ := client.New(m.hs.URL)
	wc = wc.WithGrant(m.consumer, m.grant.ID.String()).WithSession("direct-whole")
	if err := wc.FetchRange(ctx, m.modelContent, 0, size, &got); err != nil || !bytes.Equal(got.Bytes(), model) {
		t.Fatalf("client FetchRange of the whole blob: %d bytes, %v", got.Len(), err)
	}
	if rc := m.closeAs("direct-whole"); rc.Bytes != size {
		t.Fatalf("whole blob: receipt %d bytes, want %d", rc.Bytes, size)
	}

	// A store the client cannot reach: the URL's host is rewritten to a
	// closed port on the way. The client asks again and the server sends
	// the data; the range is paid twice, once for the URL.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	h := m.s.Handler()
	var directAnswers int
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&rewriteURL{ResponseWriter: w, host: deadAddr, n: &directAnswers}, r)
	}))
	t.Cleanup(hs.Close)
	fc, _ := client.New(hs.URL)
	fc = fc.WithGrant(m.consumer, m.grant.ID.String()).WithSession("direct-fallback")
	for i := range 2 {
		got.Reset()
		if err := fc.FetchRange(ctx, m.modelContent, off, n, &got); err != nil || !bytes.Equal(got.Bytes(), model[off:off+n]) {
			t.Fatalf("fallback FetchRange %d: %d bytes, %v", i, got.Len(), err)
		}
	}
	if directAnswers != 1 {
		t.Fatalf("%d direct answers, want 1 (the client stops asking after a failure)", directAnswers)
	}
	if rc := m.closeAs("direct-fallback"); rc.Bytes != 3*(we-ws) {
		t.Fatalf("fallback: receipt %d bytes, want 3 × %d (the unreachable URL, then the server twice)", rc.Bytes, we-ws)
	}

	// Tampered object: the client refuses it.
	key := bs.ObjectKey(blob.Key{ID: m.modelContent, Part: blob.Data})
	bad := bytes.Clone(model)
	badAt := off + 2<<20
	bad[badAt] ^= 1
	if _, err := e.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bs.Bucket()), Key: &key, Body: bytes.NewReader(bad)}); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	c2, _ := client.New(m.hs.URL)
	c2 = c2.WithGrant(m.consumer, m.grant.ID.String()).WithSession("direct-tampered")
	err = c2.FetchRange(ctx, m.modelContent, off, n, &got)
	if !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("tampered object: %v, want ErrCorrupt", err)
	}
	if good := badAt/content.GroupSize*content.GroupSize - off; int64(got.Len()) > good {
		t.Fatalf("tampered object: %d bytes written, past the bad group", got.Len())
	}
}

// rewriteURL points a direct answer's URL at another host, counting such
// answers.
type rewriteURL struct {
	http.ResponseWriter
	host  string
	n     *int
	wrote bool
}

func (w *rewriteURL) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if v := w.Header().Get(HeaderDataURL); v != "" {
			u, _ := url.Parse(v)
			u.Host = w.host
			w.Header().Set(HeaderDataURL, u.String())
			*w.n++
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rewriteURL) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *rewriteURL) Unwrap() http.ResponseWriter { return w.ResponseWriter }
