package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/internal/testenv"
)

// countRF counts the body bytes a handler writes, through Write and through
// ReadFrom, which it keeps, so that the response's sendfile path runs.
type countRF struct {
	http.ResponseWriter
	mu sync.Mutex
	n  int64
}

func (c *countRF) add(n int64) { c.mu.Lock(); c.n += n; c.mu.Unlock() }

func (c *countRF) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.add(int64(n))
	return n, err
}

func (c *countRF) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
	c.add(n)
	return n, err
}

func (c *countRF) Flush() { c.ResponseWriter.(http.Flusher).Flush() }

// TestSplitSliceMetered: a split slice (tree first, data sent from the
// file) is metered at exactly the data bytes the server wrote, whether the
// client reads it to the end or hangs up after 1 MiB, and the client
// verifies it: a whole download under the grant gets the split layout and
// the right bytes.
//
// On an S3 store the data is spliced from the store's connection
// (blob.Sender) and metered the same way.
func TestSplitSliceMetered(t *testing.T) {
	t.Run("files", func(t *testing.T) { testSplitSliceMetered(t, nil) })
	t.Run("S3", func(t *testing.T) {
		e := testenv.StartS3(t)
		bs, err := s3.New(e.Client(), e.Bucket(t), s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		testSplitSliceMetered(t, bs)
	})
}

func testSplitSliceMetered(t *testing.T, bs blob.Store) {
	const size = 32 << 20
	m := newMarketOn(t, Config{SessionIdle: time.Hour}, 2, perGiB(1<<40), size, bs)
	done := make(chan int64, 16)
	h := m.s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countRF{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		if r.Header.Get(HeaderGrant) != "" {
			done <- cw.n
		}
	}))
	t.Cleanup(hs.Close)
	split := map[string]string{"Accept": MediaSliceSplit}

	// Dropped after 1 MiB: metered at what was written past the tree.
	m.dropAfter(hs.URL, m.slicePath(0, size), "split-drop", 1<<20, split)
	written := <-done
	tree, _ := content.TreeSize(size, 0, size)
	if written >= tree+size {
		t.Fatalf("the server wrote the whole slice (%d bytes) before the client hung up; the test needs a larger model", written)
	}
	rc := m.closeAs("split-drop")
	if want := max(written-tree, 0); rc.Bytes != want {
		t.Fatalf("dropped split slice: receipt %d bytes %+v; the server wrote %d bytes, %d of them tree", rc.Bytes, rc.Ranges, written, tree)
	}

	// Read to the end: the whole widened range, and the held last byte.
	off, n := int64(5000), int64(3<<20+7)
	ws, we, _ := content.WidenRange(size, off, n)
	hc := &http.Client{Transport: &httpsig.Transport{Key: m.consumer, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("charter-session", "range")}}}
	req, _ := http.NewRequest("GET", hs.URL+m.slicePath(off, n), nil)
	req.Header.Set(HeaderGrant, m.grant.ID.String())
	req.Header.Set(HeaderSession, "split-full")
	req.Header.Set("Accept", MediaSliceSplit)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != MediaSliceSplit {
		t.Fatalf("Content-Type %q, want the split layout", ct)
	}
	var got countingDiscard
	if _, err := content.VerifySplit(&got, resp.Body, m.modelContent, off, n, nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-done
	if got.n != n {
		t.Fatalf("verified %d bytes, want %d", got.n, n)
	}
	if rc := m.closeAs("split-full"); rc.Bytes != we-ws {
		t.Fatalf("full split slice: receipt %d bytes, want the widened range's %d", rc.Bytes, we-ws)
	}

	// The client asks for the split layout and verifies it.
	c, _ := client.New(hs.URL)
	c = c.WithGrant(m.consumer, m.grant.ID.String()).WithSession("split-client")
	var cg countingDiscard
	if err := c.FetchRange(context.Background(), m.modelContent, off, n, &cg); err != nil || cg.n != n {
		t.Fatalf("client FetchRange: %d bytes, %v", cg.n, err)
	}
	<-done
	if rc := m.closeAs("split-client"); rc.Bytes != we-ws {
		t.Fatalf("client's split slice: receipt %d bytes, want %d", rc.Bytes, we-ws)
	}
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
