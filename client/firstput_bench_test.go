package client_test

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob/localfs"
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

var (
	firstPutBefore   = flag.Bool("firstput.before", false, "BenchmarkFirstPut also times the put as it was before (hash, SHA-256, send while hashing)")
	firstPutBuffered = flag.Bool("firstput.buffered", false, "BenchmarkFirstPut also times the put as it was before the firstput helper (server writes through the page cache, client hashes on one goroutine)")
)

// BenchmarkFirstPut puts a 1 GiB file the server does not hold (each
// iteration changes its first 8 bytes) against, in the same run, `cp` of
// the same file into the same file system followed by `sync` of the copy,
// page cache warm; both keep what they wrote. Reported: put-s, cpsync-s and put-speed, the put's
// speed as a fraction of cp + sync's (issue 14: at least 0.9); with
// -firstput.before also before-s, the put as it was before the upload
// helper's change; with -firstput.buffered also buffered-s, the put as it
// was before the firstput helper's (page-cache staging on the server, a
// one-goroutine hash on the client). put-cpu-s and cpsync-cpu-s are the
// CPU seconds a put (client and server: one process) and cp + sync (the
// children's user + system time) spent per GiB. With Kubo (CHARTER_KUBO
// or `ipfs` on PATH) also kubo-add-s, `ipfs add` of the same file in an
// offline repo, its CPU, and put-speed-kubo, the put's speed as a
// fraction of Kubo's.
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
	var put, cp, old, buffered, putCPU, cpCPU, kadd, kaddCPU time.Duration
	kubo := kuboBinary()
	var kuboEnv []string
	if kubo == "" {
		b.Log("Kubo not found (set CHARTER_KUBO or put `ipfs` on PATH; bench/kubo builds it): Kubo's figures are skipped")
	} else {
		kuboEnv = []string{"IPFS_PATH=" + filepath.Join(dir, "ipfs")}
		run(b, kuboEnv, kubo, "init", "--profile=test", "-e")
	}
	childCPU := func(c *exec.Cmd) time.Duration { return c.ProcessState.UserTime() + c.ProcessState.SystemTime() }
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		var stamp [8]byte
		binary.LittleEndian.PutUint64(stamp[:], uint64(time.Now().UnixNano())+uint64(i))
		if _, err := f.WriteAt(stamp[:], 0); err != nil {
			b.Fatal(err)
		}
		// The copies are kept, as the server keeps the blobs it stores:
		// both then write into new page-cache pages (on this VM, writing
		// into pages freed a moment before costs a fifth as much).
		dst := filepath.Join(dir, fmt.Sprintf("copy-%d.bin", i))
		t0 := time.Now()
		cpCmd, syncCmd := exec.Command("cp", path, dst), exec.Command("sync", dst)
		if out, err := cpCmd.CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
		if out, err := syncCmd.CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
		cp += time.Since(t0)
		cpCPU += childCPU(cpCmd) + childCPU(syncCmd)

		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), processCPU()
		info, err := c.Put(ctx, in, size, client.PutOptions{})
		put += time.Since(t0)
		putCPU += processCPU() - c0
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
		if !info.Created {
			b.Fatal("first put did not create the content")
		}
		if kubo != "" {
			// `ipfs add` of the same file (offline, fresh content: the
			// stamp changed). Kubo's flatfs does not fsync by default.
			t0 := time.Now()
			_, u := runCPU(b, kuboEnv, kubo, "add", "-Q", path)
			kadd += time.Since(t0)
			kaddCPU += u
		}
		if *firstPutBuffered {
			// The put before the firstput helper (same run, new content).
			binary.LittleEndian.PutUint64(stamp[:], uint64(time.Now().UnixNano())+uint64(i)+2<<40)
			if _, err := f.WriteAt(stamp[:], 0); err != nil {
				b.Fatal(err)
			}
			in, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			wasStaging, wasSerial := localfs.SetPageCacheStaging(true), client.SetSerialHash(true)
			t0 := time.Now()
			info, err := c.Put(ctx, in, size, client.PutOptions{})
			buffered += time.Since(t0)
			localfs.SetPageCacheStaging(wasStaging)
			client.SetSerialHash(wasSerial)
			in.Close()
			if err != nil || !info.Created {
				b.Fatal(info, err)
			}
		}
		if !*firstPutBefore {
			continue
		}
		// The put as it was before (same run, new content): hash to ask
		// first, then a SHA-256 pass for the Content-Digest, then send,
		// hashing again while sending (PutOptions.Always without Want).
		binary.LittleEndian.PutUint64(stamp[:], uint64(time.Now().UnixNano())+uint64(i)+1<<40)
		if _, err := f.WriteAt(stamp[:], 0); err != nil {
			b.Fatal(err)
		}
		in, err = os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		if _, _, err := client.HashReader(in); err != nil {
			b.Fatal(err)
		}
		in.Seek(0, io.SeekStart)
		_, err = c.Put(ctx, struct{ io.ReadSeeker }{in}, size, client.PutOptions{Always: true})
		old += time.Since(t0)
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	if old > 0 {
		b.ReportMetric(old.Seconds()/float64(b.N), "before-s")
	}
	if buffered > 0 {
		b.ReportMetric(buffered.Seconds()/float64(b.N), "buffered-s")
	}
	if kubo != "" {
		b.ReportMetric(kadd.Seconds()/float64(b.N), "kubo-add-s")
		b.ReportMetric(kaddCPU.Seconds()/float64(b.N), "kubo-add-cpu-s")
		b.ReportMetric(kadd.Seconds()/put.Seconds(), "put-speed-kubo")
	}
	b.ReportMetric(putCPU.Seconds()/float64(b.N), "put-cpu-s")
	b.ReportMetric(cpCPU.Seconds()/float64(b.N), "cpsync-cpu-s")
	b.ReportMetric(put.Seconds()/float64(b.N), "put-s")
	b.ReportMetric(cp.Seconds()/float64(b.N), "cpsync-s")
	b.ReportMetric(cp.Seconds()/put.Seconds(), "put-speed")
}
