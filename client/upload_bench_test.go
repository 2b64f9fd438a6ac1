package client_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

// BenchmarkReput puts an unchanged 1 GiB file again (the client hashes it,
// asks the server, sends nothing) against, in the same run, one local
// BLAKE3 pass over the same file, page cache warm: on one goroutine
// (client.HashReader) and as the put hashes (content.Hash, two cores).
// Reported: reput-s, blake3-s, reput/blake3, blake3par-s, reput/blake3par
// (issue 14: at most 1.2).
//
//	go test ./client -run '^$' -bench Reput -benchtime 5x -count 3
func BenchmarkReput(b *testing.B) {
	c := newServer(b, nil)
	ctx := context.Background()
	const size = 1 << 30
	path := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := randomBytes(64<<20, 5)
	for i := range size / len(chunk) {
		chunk[0] = byte(i)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	putFile := func() client.BlobInfo {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		info, err := c.Put(ctx, f, size, client.PutOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return info
	}
	putFile() // the first put
	var reput, hash, hashPar time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, n, err := client.HashReader(io.Reader(f)); err != nil || n != size {
			b.Fatal(n, err)
		}
		f.Close()
		hash += time.Since(t0)
		// The same pass as the put makes it (content.Hash: hashing on
		// Ingest's goroutines while the next megabyte is read), so the
		// ratio does not credit the put with a second core the baseline
		// did not use.
		t0 = time.Now()
		if f, err = os.Open(path); err != nil {
			b.Fatal(err)
		}
		if info, err := content.Hash(ctx, f); err != nil || info.Size != size {
			b.Fatal(info.Size, err)
		}
		f.Close()
		hashPar += time.Since(t0)
		t0 = time.Now()
		if info := putFile(); info.Created {
			b.Fatal("re-put created the content again")
		}
		reput += time.Since(t0)
	}
	b.ReportMetric(reput.Seconds()/float64(b.N), "reput-s")
	b.ReportMetric(hash.Seconds()/float64(b.N), "blake3-s")
	b.ReportMetric(reput.Seconds()/hash.Seconds(), "reput/blake3")
	b.ReportMetric(hashPar.Seconds()/float64(b.N), "blake3par-s")
	b.ReportMetric(reput.Seconds()/hashPar.Seconds(), "reput/blake3par")
}
