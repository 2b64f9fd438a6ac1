package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

// newServer runs a real server; wrap may intercept its handler.
func newServer(t testing.TB, wrap func(http.Handler) http.Handler) *client.Client {
	t.Helper()
	srv, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	uk, err := identity.Generate() // signs uploads
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(uk)
	return c
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func put(t *testing.T, c *client.Client, b []byte) content.ID {
	t.Helper()
	info, err := c.Put(context.Background(), bytes.NewReader(b), int64(len(b)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := content.ParseID(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDownloadResumes(t *testing.T) {
	var slices, failAfter atomic.Int64
	failAfter.Store(3)
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/slice") {
				if slices.Add(1) > failAfter.Load() {
					http.Error(w, "interrupted", http.StatusServiceUnavailable)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	c.ChunkSize = 256 << 10
	c.Parallel = 1
	data := randomBytes(10*256<<10+1234, 1)
	id := put(t, c, data)
	out := filepath.Join(t.TempDir(), "out.bin")
	if _, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{}); err == nil {
		t.Fatal("interrupted download succeeded")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("incomplete download visible at %s", out)
	}
	if _, err := os.Stat(out + client.StateSuffix); err != nil {
		t.Fatalf("no resume state kept: %v", err)
	}
	slices.Store(0)
	failAfter.Store(1 << 30)
	if _, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := slices.Load(); got != 11-3 {
		t.Errorf("resume fetched %d ranges, want %d (the ones not done before)", got, 11-3)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed download differs from the content")
	}
	if _, err := os.Stat(out + client.StateSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Error("resume state left behind after success")
	}
}

// flipper corrupts one byte of every slice the server sends, as a broken
// or malicious server or network would.
type flipper struct {
	http.ResponseWriter
	n   int64
	at  int64
	hit bool
}

func (f *flipper) Write(b []byte) (int, error) {
	if !f.hit && f.at >= f.n && f.at < f.n+int64(len(b)) {
		b = bytes.Clone(b)
		b[f.at-f.n] ^= 0x40
		f.hit = true
	}
	f.n += int64(len(b))
	return f.ResponseWriter.Write(b)
}

func TestCorruptServerNeverReachesOutput(t *testing.T) {
	var tamper atomic.Bool
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tamper.Load() && strings.HasSuffix(r.URL.Path, "/slice") && r.URL.Query().Get("offset") == "524288" {
				w = &flipper{ResponseWriter: w, at: 40000}
			}
			h.ServeHTTP(w, r)
		})
	})
	c.ChunkSize = 256 << 10
	c.StreamChunkSize = 256 << 10
	data := randomBytes(1<<20, 2)
	id := put(t, c, data)
	tamper.Store(true)

	out := filepath.Join(t.TempDir(), "out.bin")
	_, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{})
	var ce *content.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CorruptError, got %v", err)
	}
	if !strings.Contains(err.Error(), "524288") {
		t.Errorf("error does not name the bad range: %v", err)
	}
	for _, p := range []string{out, out + client.PartSuffix, out + client.StateSuffix} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after a failed verification", p)
		}
	}

	// Streaming: every byte written before the error is verified.
	var buf bytes.Buffer
	_, err = c.Stream(context.Background(), id, &buf, nil)
	if !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("stream of corrupt data: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), data[:buf.Len()]) {
		t.Fatal("stream wrote unverified bytes")
	}
}

func TestServerLyingAboutID(t *testing.T) {
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, `{"id":"bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4","size":5,"kind":"blob"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	// Always: the bytes go out, and the answer is checked against them
	// (asking first, this server's answer to the question is malformed).
	_, err := c.Put(context.Background(), strings.NewReader("not hello"), 9, client.PutOptions{Always: true})
	if !errors.Is(err, client.ErrServerLied) {
		t.Fatalf("want ErrServerLied, got %v", err)
	}
}

func TestDeclaredIDMismatchKeepsNothing(t *testing.T) {
	c := newServer(t, nil)
	other := put(t, c, []byte("other"))
	_ = other
	wrong := content.IDFromDigest([32]byte{1, 2, 3})
	_, err := c.Put(context.Background(), strings.NewReader("payload"), 7, client.PutOptions{Want: &wrong})
	if client.StatusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("want 422, got %v", err)
	}
	if _, err := c.Info(context.Background(), wrong); client.StatusCode(err) != http.StatusNotFound {
		t.Fatalf("declared id became visible: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	c := newServer(t, nil)
	id := put(t, c, nil)
	out := filepath.Join(t.TempDir(), "empty")
	n, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{})
	if err != nil || n != 0 {
		t.Fatalf("empty download: %d, %v", n, err)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
		t.Fatalf("empty file: %q, %v", b, err)
	}
}

func TestDatasetRoundTripAndEscapes(t *testing.T) {
	c := newServer(t, nil)
	root := t.TempDir()
	files := map[string]string{"a.txt": "a", "sub/b.txt": "bb", "sub/deeper/c.bin": string(randomBytes(70000, 3))}
	for p, s := range files {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
	}
	// A link to a file inside the folder is fine.
	os.Symlink("a.txt", filepath.Join(root, "link.txt"))
	info, idx, err := c.PutDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Files) != 4 || info.Kind != client.KindDataset {
		t.Fatalf("index: %+v", idx.Files)
	}
	id, _ := content.ParseID(info.ID)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := c.GetDataset(context.Background(), id, out, client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	for p, s := range files {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || string(b) != s {
			t.Errorf("%s restored wrong: %v", p, err)
		}
	}

	// A link leading outside is refused.
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("secret"), 0o644)
	os.Symlink(outside, filepath.Join(root, "escape"))
	if _, _, err := c.PutDir(context.Background(), root, nil); !errors.Is(err, client.ErrUnsafePath) {
		t.Fatalf("link outside the folder: %v", err)
	}
}

// A server that understates a content's size cannot cut a download short:
// the last range proves the real size.
func TestUnderstatedSizeRefused(t *testing.T) {
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/info") {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				var info client.BlobInfo
				json.Unmarshal(rec.Body.Bytes(), &info)
				info.Size = 16384 // the real content is longer
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(info)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	id := put(t, c, randomBytes(100000, 5))
	_, err := c.DownloadFile(context.Background(), id, filepath.Join(t.TempDir(), "out"), client.DownloadOptions{})
	if !errors.Is(err, client.ErrWrongSize) {
		t.Fatalf("understated size: %v", err)
	}
}

// A link planted in an existing output folder does not lead a restore
// outside it, and nothing is created at the link's target: not the folders
// below it, not a partial file.
func TestRestoreRefusesLinks(t *testing.T) {
	c := newServer(t, nil)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(root, "sub", "deeper", "f.txt"), []byte("data"), 0o644)
	os.WriteFile(filepath.Join(root, "top.txt"), []byte("top"), 0o644)
	info, _, err := c.PutDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	for _, tc := range []struct{ name, link string }{
		{"folder", "sub"}, // sub -> outside: MkdirAll would make outside/deeper
		{"partial file", "top.txt" + client.PartSuffix}, // the partial file's name -> outside/x
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, outside := t.TempDir(), t.TempDir()
			target := outside
			if tc.name == "partial file" {
				target = filepath.Join(outside, "x")
			}
			if err := os.Symlink(target, filepath.Join(out, tc.link)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetDataset(context.Background(), id, out, client.DownloadOptions{}); !errors.Is(err, client.ErrUnsafePath) {
				t.Fatalf("restore through a link: %v", err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("restore created %s outside the output folder", ents[0].Name())
			}
		})
	}
}

// A download the server refuses before any byte is verified leaves no
// partial file behind.
func TestRefusedDownloadLeavesNothing(t *testing.T) {
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/info") && strings.HasPrefix(r.URL.Path, "/v1/blobs/") {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"type":"about:blank","title":"Forbidden","status":403}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	id := put(t, c, randomBytes(100000, 7))
	dir := t.TempDir()
	if _, err := c.DownloadFile(context.Background(), id, filepath.Join(dir, "out"), client.DownloadOptions{}); err == nil {
		t.Fatal("refused download succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("refused download left %s behind", ents[0].Name())
	}
}

// TestDownloadLargeResumes is TestDownloadResumes for a file large enough
// to be written with direct I/O, with ranges fetched in parallel and a
// size that is not a multiple of the file system's block.
func TestDownloadLargeResumes(t *testing.T) {
	var slices, failAfter atomic.Int64
	failAfter.Store(4)
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/slice") && slices.Add(1) > failAfter.Load() {
				http.Error(w, "interrupted", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c.ChunkSize = 1 << 20
	c.Parallel = 2
	data := randomBytes(9<<20+1234, 3)
	id := put(t, c, data)
	out := filepath.Join(t.TempDir(), "out.bin")
	if _, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{}); err == nil {
		t.Fatal("interrupted download succeeded")
	}
	slices.Store(0)
	failAfter.Store(1 << 30)
	if _, err := c.DownloadFile(context.Background(), id, out, client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed download differs from the content")
	}
}
