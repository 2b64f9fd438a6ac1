package car_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/files"
	mdag "github.com/ipfs/boxo/ipld/merkledag"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/blockstore"

	"github.com/charter-dev/charter/car"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func bytesOpener(b []byte) car.OpenFunc {
	return func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

func export(t *testing.T, src car.Source) (string, cid.Cid) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.car")
	root, err := car.WriteFile(context.Background(), path, src)
	if err != nil {
		t.Fatal(err)
	}
	return path, root
}

// checkCAR reads the CAR at path with go-car: it must be a CARv1 with the
// single root, every block must hash to its CID, and no block may repeat.
func checkCAR(t *testing.T, path string, root cid.Cid) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br, err := carv2.NewBlockReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if br.Version != 1 {
		t.Fatalf("CAR version %d, want 1", br.Version)
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
		t.Fatalf("CAR roots %v, want [%s]", br.Roots, root)
	}
	seen := map[cid.Cid]bool{}
	for {
		blk, err := br.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := blk.Cid().Prefix().Sum(blk.RawData())
		if err != nil || !c.Equals(blk.Cid()) {
			t.Fatalf("block %s does not hash to its CID (%v)", blk.Cid(), err)
		}
		if seen[c] {
			t.Fatalf("block %s written twice", c)
		}
		if c.Prefix().Version != 1 || (c.Type() != cid.Raw && c.Type() != cid.DagProtobuf) {
			t.Fatalf("block %s is not CIDv1 raw or dag-pb", c)
		}
		if c.Type() == cid.Raw && len(blk.RawData()) > car.ChunkSize {
			t.Fatalf("raw leaf of %d bytes", len(blk.RawData()))
		}
		seen[c] = true
	}
	if !seen[root] {
		t.Fatal("root block missing")
	}
}

// readBackBytes is readBack for a CAR held in memory.
func readBackBytes(t *testing.T, b []byte, root cid.Cid) files.Node {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mem.car")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return readBack(t, path, root)
}

// readBack opens the CAR as a blockstore and returns boxo's UnixFS view of
// the root.
func readBack(t *testing.T, path string, root cid.Cid) files.Node {
	t.Helper()
	ctx := context.Background()
	bs, err := blockstore.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	ds := mdag.NewDAGService(blockservice.New(bs, nil))
	nd, err := ds.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := unixfile.NewUnixfsFile(ctx, ds, nd)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func TestFileRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000, car.ChunkSize - 1, car.ChunkSize, car.ChunkSize + 1, 3*car.ChunkSize + car.ChunkSize/2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := randBytes(uint64(n), n)
			path, root := export(t, car.File(bytesOpener(b)))
			checkCAR(t, path, root)
			f, ok := readBack(t, path, root).(files.File)
			if !ok {
				t.Fatal("root is not a UnixFS file")
			}
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("read back %d bytes, differs from the %d exported", len(got), n)
			}
			if want, err := car.Root(context.Background(), car.File(bytesOpener(b))); err != nil || !want.Equals(root) {
				t.Fatalf("Root = %s, %v; Export gave %s", want, err, root)
			}
		})
	}
}

func TestDatasetRoundTrip(t *testing.T) {
	same := randBytes(1, 5000)
	want := map[string][]byte{
		"README.md":                    []byte("# data\n"),
		"empty":                        {},
		"train/part-0.bin":             randBytes(2, car.ChunkSize+77),
		"train/part-1.bin":             same,
		"train/nested/deeper/copy.bin": same, // same content: its blocks are written once
		"valid/ünïcode name.txt":       []byte("names are UTF-8"),
	}
	var es []car.Entry
	for p, b := range want {
		es = append(es, car.Entry{Path: p, Open: bytesOpener(b)})
	}
	src, err := car.Dataset(es)
	if err != nil {
		t.Fatal(err)
	}
	path, root := export(t, src)
	checkCAR(t, path, root)

	got := map[string][]byte{}
	err = files.Walk(readBack(t, path, root), func(p string, nd files.Node) error {
		if f, ok := nd.(files.File); ok {
			b, err := io.ReadAll(f)
			got[p] = b
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d files, want %d: %v", len(got), len(want), keys(got))
	}
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s: read back %d bytes, want %d", p, len(got[p]), len(b))
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestHAMTRoundTrip reads back a sharded directory.
func TestHAMTRoundTrip(t *testing.T) {
	want := map[string][]byte{}
	var es []car.Entry
	for i := range 6000 {
		p := fmt.Sprintf("shard/file-with-a-long-name-%05d", i)
		want[p] = []byte(p)
		es = append(es, car.Entry{Path: p, Open: bytesOpener(want[p])})
	}
	src, err := car.Dataset(es)
	if err != nil {
		t.Fatal(err)
	}
	path, root := export(t, src)
	checkCAR(t, path, root)
	n := 0
	err = files.Walk(readBack(t, path, root), func(p string, nd files.Node) error {
		if f, ok := nd.(files.File); ok {
			b, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(b, want[p]) {
				return fmt.Errorf("%s: %q, %v", p, b, err)
			}
			n++
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("walked %d of %d files: %v", n, len(want), err)
	}
}

// TestWriteMatchesExport checks that the streaming writer and the one-pass
// seekable writer produce the same bytes.
func TestWriteMatchesExport(t *testing.T) {
	ctx := context.Background()
	src, err := car.Dataset([]car.Entry{
		{Path: "a/b", Open: bytesOpener(randBytes(3, 2*car.ChunkSize+5))},
		{Path: "c", Open: bytesOpener([]byte("c"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	path, root := export(t, src)
	exported, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := car.Root(ctx, src)
	if err != nil || !r.Equals(root) {
		t.Fatalf("Root = %s, %v; want %s", r, err, root)
	}
	var buf bytes.Buffer
	if err := car.Write(ctx, &buf, r, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), exported) {
		t.Fatalf("Write gave %d bytes, Export %d, and they differ", buf.Len(), len(exported))
	}
}

func TestWriteRootChanged(t *testing.T) {
	ctx := context.Background()
	other, err := car.Root(ctx, car.File(bytesOpener([]byte("other"))))
	if err != nil {
		t.Fatal(err)
	}
	err = car.Write(ctx, io.Discard, other, car.File(bytesOpener([]byte("this"))))
	if !errors.Is(err, car.ErrRootChanged) {
		t.Fatalf("Write with a stale root = %v, want ErrRootChanged", err)
	}
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "out.car")
	boom := errors.New("boom")
	src := car.File(func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(randBytes(4, 3*car.ChunkSize)), errReader{boom})), nil
	})
	if _, err := car.WriteFile(context.Background(), name, src); !errors.Is(err, boom) {
		t.Fatalf("WriteFile with a failing source = %v, want the source's error", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed WriteFile left %v", ents)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := car.File(func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(&cancelAfter{r: bytes.NewReader(randBytes(5, 4*car.ChunkSize)), n: car.ChunkSize, cancel: cancel}), nil
	})
	if _, err := car.Root(ctx, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("Root with a context canceled midway = %v", err)
	}
}

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestDatasetPaths(t *testing.T) {
	ok := [][]string{
		{},
		{"a"},
		{"a/b", "a/c", "b"},
		{"with space/and-ünïcode"},
		{"a..b/.hidden"},
	}
	bad := [][]string{
		{""},
		{"/abs"},
		{"trailing/"},
		{"a//b"},
		{"./a"},
		{"a/../b"},
		{"a", "a"},
		{"a", "a/b"},
		{"x/a", "x/a/b/c"},
		{string([]byte{0xff})},
		{"nul\x00"},
		{string(bytes.Repeat([]byte("n"), car.MaxNameLen+1))},
	}
	for _, ps := range ok {
		if err := car.CheckPaths(ps); err != nil {
			t.Errorf("CheckPaths(%q) = %v, want nil", ps, err)
		}
	}
	for _, ps := range bad {
		if err := car.CheckPaths(ps); !errors.Is(err, car.ErrBadPath) {
			t.Errorf("CheckPaths(%q) = %v, want ErrBadPath", ps, err)
		}
		var es []car.Entry
		for _, p := range ps {
			es = append(es, car.Entry{Path: p, Open: bytesOpener(nil)})
		}
		if _, err := car.Dataset(es); !errors.Is(err, car.ErrBadPath) {
			t.Errorf("Dataset(%q) = %v, want ErrBadPath", ps, err)
		}
	}
}

// TestBoundedMemory exports a file much larger than the heap it may use
// and samples the heap while the source is read.
func TestBoundedMemory(t *testing.T) {
	size := int64(256 << 20)
	if *large {
		size = 4 << 30
	}
	if testing.Short() {
		size = 64 << 20
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	src := &countingSource{size: size}
	f, err := os.Create(filepath.Join(t.TempDir(), "big.car"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := car.Export(context.Background(), f, car.File(src.open)); err != nil {
		t.Fatal(err)
	}
	const limit = 48 << 20
	if grew := int64(src.peak) - int64(base); grew > limit {
		t.Fatalf("heap grew by %d MiB exporting %d MiB, limit %d MiB", grew>>20, size>>20, limit>>20)
	}
	t.Logf("exported %d MiB; heap in use peaked %d MiB above the start", size>>20, (int64(src.peak)-int64(base))>>20)
}

// countingSource yields size bytes, distinct per 1 KiB, and records the
// peak heap every 16 MiB.
type countingSource struct {
	size, off int64
	peak      uint64
}

func (s *countingSource) open(context.Context) (io.ReadCloser, error) {
	s.off = 0
	return io.NopCloser(s), nil
}

func (s *countingSource) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-s.off))
	for i := 0; i < n; i++ {
		o := s.off + int64(i)
		p[i] = byte(o>>10) ^ byte(o>>18) ^ byte(o>>26) ^ byte(o)
	}
	if s.off/(16<<20) != (s.off+int64(n))/(16<<20) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapInuse)
	}
	s.off += int64(n)
	return n, nil
}
