package car_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/car"
)

// BenchmarkExport compares exporting a file to a CAR on disk with the
// baseline of hashing the same bytes with sha2-256 and copying them to a
// file (the least any exporter must do), in the same run. x-baseline is
// Export's time over the baseline's. -car.large raises the size to 1 GiB.
func BenchmarkExport(b *testing.B) {
	size := 32 << 20
	if *large {
		size = 1 << 30
	}
	src := memSource(randBytes(1, size))
	dir := b.TempDir()
	b.SetBytes(int64(size))
	var tExport, tBase time.Duration
	for b.Loop() {
		t0 := time.Now()
		f, err := os.Create(filepath.Join(dir, "plain"))
		if err != nil {
			b.Fatal(err)
		}
		rc, _ := src.open(context.Background())
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
			b.Fatal(err)
		}
		f.Close()
		t1 := time.Now()
		f, err = os.Create(filepath.Join(dir, "out.car"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := car.Export(context.Background(), f, car.File(src.open)); err != nil {
			b.Fatal(err)
		}
		f.Close()
		t2 := time.Now()
		tBase += t1.Sub(t0)
		tExport += t2.Sub(t1)
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tExport.Seconds(), "export-MB/s")
	b.ReportMetric(mb/tBase.Seconds(), "baseline-MB/s")
	b.ReportMetric(float64(tExport)/float64(tBase), "x-baseline")
}

// BenchmarkRoot compares computing the root CID alone with sha2-256 over
// the same bytes.
func BenchmarkRoot(b *testing.B) {
	size := 32 << 20
	src := memSource(randBytes(1, size))
	b.SetBytes(int64(size))
	var tRoot, tBase time.Duration
	for b.Loop() {
		t0 := time.Now()
		rc, _ := src.open(context.Background())
		h := sha256.New()
		io.Copy(h, rc)
		t1 := time.Now()
		if _, err := car.Root(context.Background(), car.File(src.open)); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		tBase += t1.Sub(t0)
		tRoot += t2.Sub(t1)
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/tRoot.Seconds(), "root-MB/s")
	b.ReportMetric(mb/tBase.Seconds(), "baseline-MB/s")
	b.ReportMetric(float64(tRoot)/float64(tBase), "x-baseline")
}

type memSource []byte

func (m memSource) open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m)), nil
}
