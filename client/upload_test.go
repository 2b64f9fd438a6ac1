package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/client"
)

// bodyCounter counts the request body bytes that reach the upload
// endpoints (POST /v1/blobs and /v1/blobs/batch), and the uploads.
type bodyCounter struct {
	bytes, uploads atomic.Int64
}

func (b *bodyCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == "/v1/blobs" || r.URL.Path == "/v1/blobs/batch") {
			b.uploads.Add(1)
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, countWriter{&b.bytes}), r.Body}
		}
		h.ServeHTTP(w, r)
	})
}

type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// TestPutAsksFirst: a put of content the server holds sends no content
// byte, from a file or from a stream; the answer says nothing was created.
func TestPutAsksFirst(t *testing.T) {
	var bc bodyCounter
	c := newServer(t, bc.wrap)
	ctx := context.Background()
	data := randomBytes(3<<20, 9)
	first, err := c.Put(ctx, bytes.NewReader(data), int64(len(data)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bc.bytes.Load(); got != int64(len(data)) {
		t.Fatalf("first put sent %d bytes, want %d", got, len(data))
	}
	bc.bytes.Store(0)
	bc.uploads.Store(0)
	again, err := c.Put(ctx, bytes.NewReader(data), int64(len(data)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A stream of unknown size is spooled, hashed and not sent either.
	streamed, err := c.Put(ctx, io.MultiReader(bytes.NewReader(data)), -1, client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, u := bc.bytes.Load(), bc.uploads.Load(); n != 0 || u != 0 {
		t.Fatalf("re-put of stored content sent %d bytes in %d uploads, want none", n, u)
	}
	for _, info := range []client.BlobInfo{again, streamed} {
		if info.ID != first.ID || info.Size != first.Size || info.Created {
			t.Fatalf("re-put answered %+v, want id %s, size %d, not created", info, first.ID, first.Size)
		}
	}
	// Different content is sent, once.
	other := randomBytes(1<<20, 10)
	if _, err := c.Put(ctx, bytes.NewReader(other), int64(len(other)), client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := bc.bytes.Load(); n != int64(len(other)) {
		t.Fatalf("put of new content sent %d bytes, want %d", n, len(other))
	}
}

// TestPutDirSendsOnlyChanged: a new version of a 200-file dataset with
// 1% of its files changed sends exactly the changed files' bytes, plus the
// new index (about 1% of this dataset of 10 KB files by itself; the
// figure is logged).
func TestPutDirSendsOnlyChanged(t *testing.T) {
	var bc bodyCounter
	c := newServer(t, bc.wrap)
	ctx := context.Background()
	dir := t.TempDir()
	const files, size = 200, 10 << 10
	var total int64
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := randomBytes(size, byte(i))
		b[0], b[1] = byte(i), byte(i>>8) // every file different
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += size
	}
	v1, _, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := bc.bytes.Load(); n < total {
		t.Fatalf("first put sent %d bytes, less than the dataset's %d", n, total)
	}
	// Unchanged: nothing at all is sent, not even the index.
	bc.bytes.Store(0)
	same, _, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same.ID != v1.ID || bc.bytes.Load() != 0 {
		t.Fatalf("re-put of the unchanged dataset: id %s (was %s), %d bytes sent, want none", same.ID, v1.ID, bc.bytes.Load())
	}
	// Change 1% of the files.
	var changed int64
	for i := 0; i < files; i += 100 {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d.bin", i))
		b, _ := os.ReadFile(p)
		b[2] ^= 0xff
		os.WriteFile(p, b, 0o644)
		changed += int64(len(b))
	}
	bc.bytes.Store(0)
	bc.uploads.Store(0)
	v2, idx, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := idx.Encode()
	sent, uploads := bc.bytes.Load(), bc.uploads.Load()
	t.Logf("1%% changed: sent %d bytes in %d uploads = %.2f%% of the dataset's %d (changed files %d = %.2f%%, index %d = %.2f%%)",
		sent, uploads, 100*float64(sent)/float64(total), total, changed, 100*float64(changed)/float64(total), len(raw), 100*float64(len(raw))/float64(total))
	if v2.ID == v1.ID {
		t.Fatal("the changed dataset kept its id")
	}
	// The changed files go in one batch, framed by a header line each
	// (api.MaxBatchHeader bytes at most), then the index.
	framing := int64(files/100) * api.MaxBatchHeader
	if sent < changed+int64(len(raw)) || sent > changed+int64(len(raw))+framing || uploads != 2 {
		t.Fatalf("sent %d bytes in %d uploads, want the %d changed files' %d bytes (one batch) and the index's %d", sent, uploads, files/100, changed, len(raw))
	}
	if !strings.HasPrefix(v2.ID, "bafk") {
		t.Fatalf("dataset id %q", v2.ID)
	}
}
