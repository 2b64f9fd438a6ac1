package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3/bao"
)

// pattern returns n bytes of the BLAKE3 test-vector pattern: byte i is i % 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

var ingestSizes = []int{
	0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3000,
	GroupSize - 1, GroupSize, GroupSize + 1,
	2 * GroupSize, 2*GroupSize + 1, 3 * GroupSize, 3*GroupSize - 7,
	4 * GroupSize, 5*GroupSize + 100, 7 * GroupSize, 8 * GroupSize, 9*GroupSize + 1,
	ingestBufSize - 1, ingestBufSize, ingestBufSize + 1,
	3<<20 + 12345, 4 << 20, 5<<20 - 1,
}

func checkIngest(t *testing.T, content []byte, ingest func(r io.Reader, data, ob io.Writer) (Info, error), r io.Reader) {
	t.Helper()
	var data, ob bytes.Buffer
	info, err := ingest(r, &data, &ob)
	if err != nil {
		t.Fatalf("size %d: Ingest: %v", len(content), err)
	}
	if info.Size != int64(len(content)) {
		t.Fatalf("size %d: Info.Size = %d", len(content), info.Size)
	}
	if !bytes.Equal(data.Bytes(), content) {
		t.Fatalf("size %d: data copy differs", len(content))
	}
	if want := zeebo.Sum256(content); info.ID.Digest() != want {
		t.Fatalf("size %d: ID %x, zeebo/blake3 %x", len(content), info.ID.Digest(), want)
	}
	wantOB, root := bao.EncodeBuf(content, baoGroupLog, true)
	if root != info.ID.Digest() {
		t.Fatalf("size %d: bao root %x, ID %x", len(content), root, info.ID.Digest())
	}
	if !bytes.Equal(ob.Bytes(), wantOB) {
		t.Fatalf("size %d: outboard (%d bytes) differs from bao.EncodeBuf (%d bytes)", len(content), ob.Len(), len(wantOB))
	}
	if got := OutboardSize(int64(len(content))); got != int64(len(wantOB)) {
		t.Fatalf("size %d: OutboardSize = %d, want %d", len(content), got, len(wantOB))
	}
}

func plainIngest(r io.Reader, data, ob io.Writer) (Info, error) {
	return Ingest(context.Background(), r, data, ob)
}

func TestIngestMatchesBao(t *testing.T) {
	for i, n := range ingestSizes {
		content := randomBytes(uint64(i), n)
		checkIngest(t, content, plainIngest, bytes.NewReader(content))
	}
}

// TestHash: Hash names content as BLAKE3 does, at every size Ingest is
// tested at and past the sizes where its workers start.
func TestHash(t *testing.T) {
	for i, n := range append(ingestSizes, 9<<20+GroupSize/2) {
		content := randomBytes(uint64(i), n)
		info, err := Hash(context.Background(), iotest.HalfReader(bytes.NewReader(content)))
		if err != nil || info.Size != int64(n) || info.ID.Digest() != zeebo.Sum256(content) {
			t.Fatalf("size %d: Hash = %v, %v; want %x", n, info, err, zeebo.Sum256(content))
		}
	}
}

// lentWriter is a LentWriter that keeps every lent buffer until a
// goroutine of its own copies it out, a while later, checking meanwhile
// that Ingest does not change it.
type lentWriter struct {
	mu    sync.Mutex
	out   bytes.Buffer
	queue chan lent
	bad   bool
	wg    sync.WaitGroup
}

type lent struct {
	p, copy []byte
	done    func()
}

func newLentWriter() *lentWriter {
	w := &lentWriter{queue: make(chan lent, 3)}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for l := range w.queue {
			time.Sleep(time.Millisecond)
			w.mu.Lock()
			if !bytes.Equal(l.p, l.copy) {
				w.bad = true
			}
			w.out.Write(l.p)
			w.mu.Unlock()
			l.done()
		}
	}()
	return w
}

func (w *lentWriter) Write(p []byte) (int, error) {
	w.queue <- lent{p: bytes.Clone(p), copy: bytes.Clone(p), done: func() {}}
	return len(p), nil
}

func (w *lentWriter) WriteLent(p []byte, done func()) error {
	w.queue <- lent{p: p, copy: bytes.Clone(p), done: done}
	return nil
}

// TestIngestLentWriter: Ingest lends its buffers to a LentWriter, keeps
// them unchanged until given back, and the bytes arrive in order.
func TestIngestLentWriter(t *testing.T) {
	for i, n := range append(ingestSizes, 7*ingestBufSize+GroupSize+5) {
		b := randomBytes(uint64(i), n)
		w := newLentWriter()
		var ob bytes.Buffer
		info, err := Ingest(context.Background(), iotest.HalfReader(bytes.NewReader(b)), w, &ob)
		close(w.queue)
		w.wg.Wait()
		if err != nil || info.ID.Digest() != zeebo.Sum256(b) {
			t.Fatalf("size %d: %v, %v", n, info, err)
		}
		if w.bad || !bytes.Equal(w.out.Bytes(), b) {
			t.Fatalf("size %d: lent buffer changed (%v) or bytes out of order", n, w.bad)
		}
	}
}

func TestIngestOddReaders(t *testing.T) {
	for _, n := range []int{0, 1, 1500, GroupSize + 3, 5*GroupSize + 17, ingestBufSize + GroupSize/2} {
		content := randomBytes(uint64(n), n)
		checkIngest(t, content, plainIngest, iotest.HalfReader(bytes.NewReader(content)))
		checkIngest(t, content, plainIngest, iotest.DataErrReader(bytes.NewReader(content)))
		if n < 200000 {
			checkIngest(t, content, plainIngest, iotest.OneByteReader(bytes.NewReader(content)))
		}
	}
}

// memScratch is an in-memory Scratch.
type memScratch struct{ b []byte }

func (m *memScratch) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memScratch) ReadAt(p []byte, off int64) (int, error) {
	if int(off)+len(p) > len(m.b) {
		return 0, io.EOF
	}
	return copy(p, m.b[off:]), nil
}

func TestIngestSpill(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // where Ingest's spill files go; must be empty afterwards
	old := spillThreshold
	spillThreshold = 32 * 5 // spill after five chaining values
	defer func() { spillThreshold = old }()
	old2 := emitWindowSize
	emitWindowSize = 32 * 7 // force the large-subtree path in the emitter
	defer func() { emitWindowSize = old2 }()

	for i, n := range []int{0, GroupSize, 3 * GroupSize, 4 * GroupSize, 6*GroupSize + 1, 64 * GroupSize, 100*GroupSize + 5, ingestBufSize*3 + 77} {
		content := randomBytes(uint64(i+100), n)
		checkIngest(t, content, plainIngest, bytes.NewReader(content))
		var s memScratch
		checkIngest(t, content, func(r io.Reader, d, o io.Writer) (Info, error) {
			return IngestScratch(context.Background(), r, d, o, &s)
		}, bytes.NewReader(content))
		if n > 8*GroupSize && len(s.b) == 0 {
			t.Fatalf("size %d: scratch was not used", n)
		}
	}
	tmp, err := os.ReadDir(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tmp {
		t.Errorf("temporary file %s left behind", e.Name())
	}
}

var errBoom = errors.New("boom")

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errBoom }

func TestIngestErrors(t *testing.T) {
	content := randomBytes(1, 3*GroupSize)
	if _, err := Ingest(context.Background(), iotest.ErrReader(errBoom), io.Discard, io.Discard); !errors.Is(err, errBoom) {
		t.Errorf("read error: got %v", err)
	}
	if _, err := Ingest(context.Background(), io.MultiReader(bytes.NewReader(content), iotest.ErrReader(errBoom)), io.Discard, io.Discard); !errors.Is(err, errBoom) {
		t.Errorf("late read error: got %v", err)
	}
	if _, err := Ingest(context.Background(), bytes.NewReader(content), failWriter{}, io.Discard); !errors.Is(err, errBoom) {
		t.Errorf("data write error: got %v", err)
	}
	if _, err := Ingest(context.Background(), bytes.NewReader(content), io.Discard, failWriter{}); !errors.Is(err, errBoom) {
		t.Errorf("outboard write error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Ingest(ctx, bytes.NewReader(content), io.Discard, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

func TestIngestSpillNeedsTempDir(t *testing.T) {
	old := spillThreshold
	spillThreshold = 32 * 5
	defer func() { spillThreshold = old }()
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	if _, err := Ingest(context.Background(), bytes.NewReader(randomBytes(1, 3*GroupSize)), io.Discard, io.Discard); err != nil {
		t.Fatalf("small content should not spill: %v", err)
	}
	if _, err := Ingest(context.Background(), bytes.NewReader(randomBytes(1, 10*GroupSize)), io.Discard, io.Discard); err == nil {
		t.Fatal("spilling into a missing TMPDIR succeeded; was the tree log spilled at all?")
	}
	if _, err := IngestScratch(context.Background(), bytes.NewReader(randomBytes(1, 10*GroupSize)), io.Discard, io.Discard, &memScratch{}); err != nil {
		t.Fatalf("caller scratch: %v", err)
	}
}

// failAfter fails writes once n bytes have been written.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errBoom
	}
	return len(p), nil
}

func TestIngestErrorStopsWorkers(t *testing.T) {
	content := randomBytes(2, 6*ingestBufSize)
	before := runtime.NumGoroutine()
	for _, at := range []int{ingestBufSize / 2, 3 * ingestBufSize, 5*ingestBufSize + 1} {
		if _, err := Ingest(context.Background(), bytes.NewReader(content), &failAfter{n: at}, io.Discard); !errors.Is(err, errBoom) {
			t.Fatalf("fail after %d: %v", at, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := io.MultiReader(bytes.NewReader(content[:at]), readerFunc(func(p []byte) (int, error) { cancel(); return copy(p, content[at:at+10]), nil }), bytes.NewReader(content))
		if _, err := Ingest(ctx, r, io.Discard, io.Discard); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel after %d: %v", at, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after failed ingests, %d before", n, before)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// patternReader yields n bytes of the i % 251 pattern without holding them.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestIngestMemoryDoesNotGrow ingests 16 MiB and 256 MiB from a generating
// reader, with the tree log spilling early, and checks that the bytes
// allocated do not grow with the content.
func TestIngestMemoryDoesNotGrow(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("hashes 272 MiB; the race detector allocates by itself")
	}
	old, oldWindow := spillThreshold, emitWindowSize
	spillThreshold, emitWindowSize = 64<<10, 64<<10 // reached by 16 MiB already
	defer func() { spillThreshold, emitWindowSize = old, oldWindow }()
	t.Setenv("TMPDIR", t.TempDir())
	// The least of a few runs: a garbage collection may empty the buffer
	// pool during any one of them.
	alloc := func(n int64, runs int) uint64 {
		least := uint64(1 << 62)
		for range runs {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Ingest(context.Background(), &patternReader{n: n}, io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		return least
	}
	small, large := alloc(16<<20, 3), alloc(256<<20, 2)
	t.Logf("allocated %d KiB for 16 MiB, %d KiB for 256 MiB", small>>10, large>>10)
	if large > small+(128<<10) {
		t.Fatalf("allocations grow with the content: %d KiB for 16 MiB, %d KiB for 256 MiB", small>>10, large>>10)
	}
}
