package content

import (
	"bytes"
	"context"
	"flag"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	zeebo "github.com/zeebo/blake3"
	luke "lukechampine.com/blake3"
)

var benchBig = flag.Bool("content.big", false, "also run the 1 GiB benchmark cases")

func benchSizes() []int {
	s := []int{1 << 20, 64 << 20}
	if *benchBig {
		s = append(s, 1<<30)
	}
	return s
}

func sizeName(n int) string {
	switch {
	case n >= 1<<30:
		return itoa(n>>30) + "GiB"
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	}
	return itoa(n>>10) + "KiB"
}

func itoa(n int) string {
	var b []byte
	for n >= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(append([]byte{byte('0' + n)}, b...))
}

// BenchmarkIngest measures Ingest from an in-memory source into io.Discard
// sinks, and in the same run hashes the same bytes with zeebo/blake3 and
// lukechampine.com/blake3. It reports speed relative to each baseline
// (ratio > 1: Ingest is faster).
func BenchmarkIngest(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(sizeName(n), func(b *testing.B) {
			content := randomBytes(7, n)
			b.SetBytes(int64(n))
			var tIngest, tZeebo, tLuke, cIngest, cZeebo time.Duration
			for i := 0; i < b.N; i++ {
				c0 := cpuTime()
				t0 := time.Now()
				if _, err := Ingest(context.Background(), bytes.NewReader(content), io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				c1 := cpuTime()
				zh := zeebo.New()
				io.Copy(zh, bytes.NewReader(content)) // bytes.Reader hands over the whole buffer in one Write
				zh.Sum(nil)
				t2 := time.Now()
				c2 := cpuTime()
				cIngest += c1 - c0
				cZeebo += c2 - c1
				lh := luke.New(32, nil)
				lh.Write(content)
				lh.Sum(nil)
				t3 := time.Now()
				tIngest += t1.Sub(t0)
				tZeebo += t2.Sub(t1)
				tLuke += t3.Sub(t2)
			}
			b.ReportMetric(float64(n)*float64(b.N)/tIngest.Seconds()/(1<<20), "ingest-MiB/s")
			b.ReportMetric(float64(n)*float64(b.N)/tZeebo.Seconds()/(1<<20), "zeebo-MiB/s")
			b.ReportMetric(float64(n)*float64(b.N)/tLuke.Seconds()/(1<<20), "luke-MiB/s")
			b.ReportMetric(tZeebo.Seconds()/tIngest.Seconds(), "x-zeebo")
			b.ReportMetric(tLuke.Seconds()/tIngest.Seconds(), "x-luke")
			// CPU time (all threads) rather than wall time: how much work
			// Ingest does per byte compared with hashing alone. Steadier than
			// the wall-time ratios on a loaded machine.
			b.ReportMetric(cZeebo.Seconds()/cIngest.Seconds(), "cpu-x-zeebo")
		})
	}
}

var rangeBlob struct {
	sync.Once
	b blob
}

// BenchmarkVerifiedRange reads 1 MiB ranges at random offsets of an
// in-memory 256 MiB blob: ExtractRange into a buffer, then VerifyRange into
// io.Discard. It reports the median and 99th percentile latency of one
// extract+verify, and the speed relative to plain zeebo/blake3 hashing of
// the same 1 MiB in the same run (ratio > 1: faster than hashing).
func BenchmarkVerifiedRange(b *testing.B) {
	rangeBlob.Do(func() { rangeBlob.b = newBlob(b, randomBytes(11, 256<<20)) })
	bl := rangeBlob.b
	size := int64(len(bl.data))
	const length = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	var slice bytes.Buffer
	lat := make([]time.Duration, 0, b.N)
	var tRange, tHash, cRange, cHash time.Duration
	b.SetBytes(length)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := r.Int64N(size - length)
		c0 := cpuTime()
		t0 := time.Now()
		slice.Reset()
		if err := ExtractRange(&slice, bytes.NewReader(bl.data), bytes.NewReader(bl.outboard), size, off, length); err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyRange(io.Discard, &slice, bl.id, off, length); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c1 := cpuTime()
		zeebo.Sum256(bl.data[off : off+length])
		t2 := time.Now()
		cRange += c1 - c0
		cHash += cpuTime() - c1
		lat = append(lat, t1.Sub(t0))
		tRange += t1.Sub(t0)
		tHash += t2.Sub(t1)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(tHash.Seconds()/tRange.Seconds(), "x-hash")
	// CPU time per op and the CPU-time ratio: steadier than wall time on a
	// loaded machine.
	b.ReportMetric(cRange.Seconds()*1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(cHash.Seconds()/cRange.Seconds(), "cpu-x-hash")
}

// BenchmarkReader verifies a whole 64 MiB blob from data and outboard
// through Reader, against zeebo/blake3 hashing the same bytes.
func BenchmarkReader(b *testing.B) {
	bl := newBlob(b, randomBytes(12, 64<<20))
	b.SetBytes(int64(len(bl.data)))
	var tRead, tHash, cRead, cHash time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		t0 := time.Now()
		if _, err := NewReader(bytes.NewReader(bl.data), bytes.NewReader(bl.outboard), bl.id).WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c1 := cpuTime()
		zeebo.Sum256(bl.data)
		tRead += t1.Sub(t0)
		tHash += time.Since(t1)
		cRead += c1 - c0
		cHash += cpuTime() - c1
	}
	b.ReportMetric(tHash.Seconds()/tRead.Seconds(), "x-zeebo")
	b.ReportMetric(cHash.Seconds()/cRead.Seconds(), "cpu-x-zeebo")
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
