package localfs_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
)

var benchSize = flag.Int("localfs.benchsize", 8<<20, "bytes per Put in BenchmarkPut")

// BenchmarkPut compares blob.Put into a localfs store (hash, Bao outboard,
// two fsynced temp files, links) with the baseline of writing the same bytes
// to one temp file, fsyncing and renaming it, in the same run. x-baseline is
// Put's time over the baseline's.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := localfs.Open(ctx, filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	os.Mkdir(plain, 0o700)
	data := storagetest.Bytes(1, *benchSize)
	b.SetBytes(int64(len(data)))
	var tPut, tBase time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Change the content each round so dedupe does not skip the work.
		data[0], data[1] = byte(i), byte(i>>8)

		t0 := time.Now()
		f, err := os.CreateTemp(plain, "t-*")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := os.Rename(f.Name(), filepath.Join(plain, "blob")); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		info, err := blob.Put(ctx, s, bytes.NewReader(data), nil)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		tBase += t1.Sub(t0)
		tPut += t2.Sub(t1)
		b.StopTimer()
		blob.Delete(ctx, s, info.ID)
		b.StartTimer()
	}
	mb := float64(len(data)) * float64(b.N) / 1e6
	b.ReportMetric(mb/tPut.Seconds(), "put-MB/s")
	b.ReportMetric(mb/tBase.Seconds(), "baseline-MB/s")
	b.ReportMetric(float64(tPut)/float64(tBase), "x-baseline")
}
