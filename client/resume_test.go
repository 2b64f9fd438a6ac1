package client_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/server"
)

// partCutter counts the part bytes that reach the server and cuts the
// connection halfway through the part numbered cut (once).
type partCutter struct {
	bytes atomic.Int64
	cut   atomic.Int64 // part number to cut, -1: none
}

func (p *partCutter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/uploads/") {
			if strings.HasSuffix(r.URL.Path, "/"+itoa(p.cut.Load())) {
				p.cut.Store(-1)
				io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				p.bytes.Add(r.ContentLength / 2)
				panic(http.ErrAbortHandler) // the connection is cut mid-part
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, countWriter{&p.bytes}), r.Body}
		}
		h.ServeHTTP(w, r)
	})
}

func itoa(n int64) string {
	if n < 0 {
		return "none"
	}
	return strconv.FormatInt(n, 10)
}

// TestPutResumes: a put of a 64 MiB file in 8 MiB parts whose connection
// is cut halfway through the fifth part fails; the next put of the file
// says it resumed with the four parts the server held, sends only the
// rest (counted), and the server stores the file under its id.
func TestPutResumes(t *testing.T) {
	pc := &partCutter{}
	pc.cut.Store(4)
	c, _ := newProvenServerConfig(t, pc.wrap, server.Config{UploadPartSize: 8 << 20})
	c.ResumeAbove = 16 << 20
	ctx := context.Background()
	const size, part = 64 << 20, 8 << 20
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, randomBytes(size, 21), 0o644); err != nil {
		t.Fatal(err)
	}
	put := func(resumed *int64) (client.BlobInfo, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return c.Put(ctx, f, size, client.PutOptions{Resumed: func(held int64) { *resumed = held }})
	}
	var held int64 = -1
	if _, err := put(&held); err == nil {
		t.Fatal("a put whose connection was cut succeeded")
	}
	if held != -1 {
		t.Fatalf("the first put said it resumed (%d bytes held)", held)
	}
	first := pc.bytes.Load()
	pc.bytes.Store(0)
	info, err := put(&held)
	if err != nil {
		t.Fatal(err)
	}
	sent := pc.bytes.Load()
	t.Logf("first try sent %d bytes before the cut; the resumed put found %d held and sent %d", first, held, sent)
	if held != 4*part || sent != size-4*part {
		t.Fatalf("resumed with %d bytes held and sent %d, want %d held and %d sent", held, sent, 4*part, size-4*part)
	}
	want, _, _ := client.HashReader(mustOpen(t, path))
	if !info.Created || info.ID != want.String() || info.Size != size {
		t.Fatalf("stored %+v, want id %s of %d bytes", info, want, size)
	}
	// The stored blob reads back, verified, as the file.
	var got strings.Builder
	if _, err := c.Stream(ctx, want, &got, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); got.String() != string(b) {
		t.Fatal("the stored blob differs from the file")
	}
	// Put again: held, nothing sent.
	pc.bytes.Store(0)
	again, err := put(&held)
	if err != nil || again.Created || pc.bytes.Load() != 0 {
		t.Fatalf("put again: %+v %v, %d bytes sent", again, err, pc.bytes.Load())
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestPutDirResumable: a large file of a dataset goes as a resumable
// upload too.
func TestPutDirResumable(t *testing.T) {
	pc := &partCutter{}
	pc.cut.Store(-1)
	c, _ := newProvenServerConfig(t, pc.wrap, server.Config{UploadPartSize: 4 << 20})
	c.ResumeAbove = 4 << 20
	dir := t.TempDir()
	big := randomBytes(10<<20, 23)
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(dir, "small.txt"), []byte("small"), 0o644)
	_, idx, err := c.PutDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := pc.bytes.Load(); n != int64(len(big)) {
		t.Fatalf("%d bytes went as parts, want the big file's %d", n, len(big))
	}
	var got strings.Builder
	if _, err := c.Stream(context.Background(), idx.Files[0].ID, &got, nil); err != nil || got.String() != string(big) {
		t.Fatalf("the big file reads back wrong: %v", err)
	}
}
