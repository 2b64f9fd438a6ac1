package auditlog

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

var (
	benchEntries = flag.Int("auditlog.entries", 20000, "entries per round in BenchmarkAppendThroughput")
	benchWriters = flag.Int("auditlog.writers", 1024, "concurrent writers in BenchmarkAppendThroughput")
	benchProves  = flag.Int("auditlog.proves", 30, "sequential appends per round in BenchmarkAppendAndProveLatency")
	benchBatch   = flag.Uint("auditlog.batch", DefaultBatchMaxSize, "batch size for both sides of the benchmarks")
	benchAge     = flag.Duration("auditlog.age", DefaultBatchMaxAge, "batch age for both sides of the benchmarks")
)

func benchOptions() Options {
	return Options{BatchMaxSize: *benchBatch, BatchMaxAge: *benchAge}
}

// benchPayload is the size of a typical signed registration envelope.
var benchPayload = []byte(`{"payloadType":"application/vnd.charter.asset+json","payload":"eyJjb250ZW50IjoiYmFma3IuLi4iLCJuYW1lIjoiZGF0YXNldCIsIm93bmVycyI6W3siaWQiOiJkaWQ6a2V5Ono2TWsuLi4iLCJ3ZWlnaHQiOjF9XSwidGhyZXNob2xkIjoxfQ==","signatures":[{"keyid":"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK","sig":"MEUCIQDk8Fv2d3mYxqfP0C7i3vS3vWmJcJgTqV1l5i9Yf3o1tAIgW1n2b0m3Yz7x1Z2Qm8k4h5Jx6y7Z8a9b0c1d2e3f4g5h6="}]}`)

// rawTessera opens a bare tessera POSIX appender with the same settings as
// Open's defaults: the baseline.
func rawTessera(b *testing.B, dir string, s note.Signer) (*tessera.Appender, tessera.LogReader, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	d, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	app, shutdown, r, err := tessera.NewAppender(ctx, d, tessera.NewAppendOptions().
		WithCheckpointSigner(s).
		WithBatching(*benchBatch, *benchAge).
		WithCheckpointInterval(DefaultCheckpointInterval))
	if err != nil {
		b.Fatal(err)
	}
	return app, r, func() { shutdown(context.Background()); cancel() }
}

// drive runs add for n entries from w goroutines and returns the elapsed time.
func drive(n, w int, add func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := add(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return d, err
	}
	return d, nil
}

// BenchmarkAppendThroughput measures durable appends per second with
// concurrent writers, through Log.Append and, as the baseline in the same
// run, through a bare tessera POSIX appender with the same batching and
// checkpoint settings. Each round appends -auditlog.entries entries from
// -auditlog.writers goroutines to fresh logs.
func BenchmarkAppendThroughput(b *testing.B) {
	ctx := context.Background()
	s := newSigner(b, DefaultOrigin)
	n, w := *benchEntries, *benchWriters
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dirBase, dirOurs := b.TempDir(), b.TempDir()
		app, _, closeRaw := rawTessera(b, dirBase, s)
		l, err := Open(ctx, dirOurs, s, benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		entry, _ := EncodeEntry(TypeAssetRegister, benchPayload)
		b.StartTimer()
		// Alternate in chunks so that load from other processes, which
		// drifts over seconds, hits both sides alike.
		const chunks = 4
		m := n / chunks
		for c := range 2 * chunks {
			if (c+i)%2 == 0 {
				d, err := drive(m, w, func(int) error {
					_, err := app.Add(ctx, tessera.NewEntry(entry))()
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				base += d
			} else {
				d, err := drive(m, w, func(int) error {
					_, err := l.Append(ctx, TypeAssetRegister, benchPayload)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				ours += d
			}
		}
		b.StopTimer()
		closeRaw()
		l.Close(ctx)
		os.RemoveAll(dirBase)
		os.RemoveAll(dirOurs)
		b.StartTimer()
	}
	total := float64(n / 4 * 4 * b.N)
	b.ReportMetric(total/ours.Seconds(), "appends/s")
	b.ReportMetric(total/base.Seconds(), "tessera-appends/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAppendAndProveLatency measures the latency of AppendAndProve
// (sequenced, integrated, covered by a signed checkpoint, proof built and
// checked), against the baseline of a bare tessera appender plus tessera's
// PublicationAwaiter with the same settings. Sub-benchmarks vary the number
// of concurrent callers; each round makes -auditlog.proves calls per caller
// on each side.
func BenchmarkAppendAndProveLatency(b *testing.B) {
	for _, c := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", c), func(b *testing.B) { benchProve(b, c) })
	}
}

func benchProve(b *testing.B, callers int) {
	ctx := context.Background()
	s := newSigner(b, DefaultOrigin)
	var (
		mu         sync.Mutex
		ours, base []time.Duration
	)
	timed := func(into *[]time.Duration, f func() error) func(int) error {
		return func(int) error {
			start := time.Now()
			err := f()
			d := time.Since(start)
			mu.Lock()
			*into = append(*into, d)
			mu.Unlock()
			return err
		}
	}
	n := *benchProves * callers
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		app, r, closeRaw := rawTessera(b, b.TempDir(), s)
		actx, cancel := context.WithCancel(ctx)
		awaiter := tessera.NewPublicationAwaiter(actx, r.ReadCheckpoint, DefaultPollInterval)
		l, err := Open(ctx, b.TempDir(), s, benchOptions())
		if err != nil {
			b.Fatal(err)
		}
		entry, _ := EncodeEntry(TypeAssetRegister, benchPayload)
		b.StartTimer()
		if _, err := drive(n, callers, timed(&base, func() error {
			_, _, err := awaiter.Await(ctx, app.Add(ctx, tessera.NewEntry(entry)))
			return err
		})); err != nil {
			b.Fatal(err)
		}
		if _, err := drive(n, callers, timed(&ours, func() error {
			_, err := l.AppendAndProve(ctx, TypeAssetRegister, benchPayload)
			return err
		})); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		closeRaw()
		cancel()
		l.Close(ctx)
		b.StartTimer()
	}
	p := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(ours, 0.5), "p50-ms")
	b.ReportMetric(p(ours, 0.9), "p90-ms")
	b.ReportMetric(p(base, 0.5), "tessera-p50-ms")
	b.ReportMetric(p(base, 0.9), "tessera-p90-ms")
	b.ReportMetric(p(ours, 0.5)/p(base, 0.5), "ratio-p50")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkVerifyReceipt measures offline receipt verification, against the
// baseline of the bare cryptographic work it cannot avoid: opening the
// signed note and verifying the Merkle path, with parsed inputs.
func BenchmarkVerifyReceipt(b *testing.B) {
	ctx := context.Background()
	s := newSigner(b, DefaultOrigin)
	l := openLog(b, b.TempDir(), s)
	appendN(b, l, 0, 1000)
	r, err := l.AppendAndProve(ctx, TypeReceipt, benchPayload)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := note.NewVerifier(s.VerifierKey())
	p, _ := ParseProof(r.Proof)
	leaf := rfc6962.DefaultHasher.HashLeaf(r.Entry)

	// Interleave the two so load from other processes hits both alike.
	var ours, base time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := VerifyReceipt(r.Entry, r.Proof, s.VerifierKey()); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := note.Open(p.Checkpoint, note.VerifierList(v)); err != nil {
			b.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, r.Checkpoint.Size, leaf, p.Hashes, r.Checkpoint.Hash[:]); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t1)
		ours += t1.Sub(t0)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReplay measures Log.Entries, which proves every bundle against
// the checkpoint before yielding it, against the baseline of tessera's own
// unverified bundle stream (client.EntryBundles) over the same files.
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	s := newSigner(b, DefaultOrigin)
	l := openLog(b, b.TempDir(), s)
	const n = 20000
	if _, err := drive(n, 256, func(int) error {
		_, err := l.Append(ctx, TypeAssetRegister, benchPayload)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	cp := waitSize(b, l, n)
	var ours, base time.Duration
	for b.Loop() {
		start := time.Now()
		got := 0
		for _, err := range l.Entries(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		ours += time.Since(start)
		start = time.Now()
		size := func(context.Context) (uint64, error) { return cp.Size, nil }
		for e, err := range client.Entries(client.EntryBundles(ctx, 1, size, l.reader.ReadEntryBundle, 0, cp.Size), unbundle) {
			if err != nil {
				b.Fatal(err)
			}
			_ = e
			got--
		}
		base += time.Since(start)
		if got != 0 {
			b.Fatalf("entry counts differ by %d", got)
		}
	}
	b.ReportMetric(float64(cp.Size)*float64(b.N)/ours.Seconds(), "entries/s")
	b.ReportMetric(float64(cp.Size)*float64(b.N)/base.Seconds(), "tessera-entries/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAudit measures Log.Verify (every bundle, every tile, the root)
// against the baseline of reading the same bundles unverified with tessera's
// client.EntryBundles.
func BenchmarkAudit(b *testing.B) {
	ctx := context.Background()
	s := newSigner(b, DefaultOrigin)
	l := openLog(b, b.TempDir(), s)
	const n = 20000
	if _, err := drive(n, 256, func(int) error {
		_, err := l.Append(ctx, TypeAssetRegister, benchPayload)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	cp := waitSize(b, l, n)
	size := func(context.Context) (uint64, error) { return cp.Size, nil }
	var ours, base time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := l.Verify(ctx); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		start = time.Now()
		for _, err := range client.Entries(client.EntryBundles(ctx, 1, size, l.reader.ReadEntryBundle, 0, cp.Size), unbundle) {
			if err != nil {
				b.Fatal(err)
			}
		}
		base += time.Since(start)
	}
	b.ReportMetric(float64(cp.Size)*float64(b.N)/ours.Seconds(), "entries/s")
	b.ReportMetric(float64(cp.Size)*float64(b.N)/base.Seconds(), "tessera-entries/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

func unbundle(raw []byte) ([][]byte, error) {
	var eb api.EntryBundle
	if err := eb.UnmarshalText(raw); err != nil {
		return nil, err
	}
	return eb.Entries, nil
}
