package client_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

// newProvenServer starts a server whose operator gave the client's key
// standing (no crowd pool: large uploads), and returns the client and
// the server's data folder.
func newProvenServer(t testing.TB) (*client.Client, string) {
	t.Helper()
	return newProvenServerWrapped(t, nil)
}

// newProvenServerWrapped is newProvenServer with the handler wrapped.
func newProvenServerWrapped(t testing.TB, wrap func(http.Handler) http.Handler) (*client.Client, string) {
	t.Helper()
	return newProvenServerConfig(t, wrap, server.Config{})
}

// newProvenServerConfig is newProvenServerWrapped with more of the
// server's configuration.
func newProvenServerConfig(t testing.TB, wrap func(http.Handler) http.Handler, cfg server.Config) (*client.Client, string) {
	t.Helper()
	uk, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.DataDir, cfg.ScrubInterval, cfg.ProvenKeys = dir, -1, []identity.DID{uk.DID()}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Open(context.Background(), cfg)
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
	return c.WithKey(uk), dir
}

// BenchmarkFirstPut puts a 1 GiB file the server does not hold (each
// iteration changes its first 8 bytes) against, in the same run, `cp` of
// the same file into the same file system followed by `sync` of the copy,
// page cache warm. Reported: put-s, cpsync-s and put-speed, the put's
// speed as a fraction of cp + sync's (issue 14: at least 0.9).
//
//	go test ./client -run '^$' -bench FirstPut -benchtime 3x -count 3
func BenchmarkFirstPut(b *testing.B) {
	if _, err := exec.LookPath("cp"); err != nil {
		b.Skip("no cp on PATH")
	}
	c, _ := newProvenServer(b)
	ctx := context.Background()
	const size = 1 << 30
	dir := b.TempDir()
	path := filepath.Join(dir, "big.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := randomBytes(64<<20, 7)
	for i := range size / len(chunk) {
		chunk[0] = byte(i)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	defer f.Close()
	var put, cp time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		var stamp [8]byte
		binary.LittleEndian.PutUint64(stamp[:], uint64(time.Now().UnixNano())+uint64(i))
		if _, err := f.WriteAt(stamp[:], 0); err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(dir, "copy.bin")
		t0 := time.Now()
		if out, err := exec.Command("cp", path, dst).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
		if out, err := exec.Command("sync", dst).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
		cp += time.Since(t0)
		os.Remove(dst)

		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		info, err := c.Put(ctx, in, size, client.PutOptions{})
		put += time.Since(t0)
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
		if !info.Created {
			b.Fatal("first put did not create the content")
		}
	}
	b.ReportMetric(put.Seconds()/float64(b.N), "put-s")
	b.ReportMetric(cp.Seconds()/float64(b.N), "cpsync-s")
	b.ReportMetric(cp.Seconds()/put.Seconds(), "put-speed")
}
