// Package storagetest is the test suite every blob.Store backend runs.
//
// A backend's tests call Test with a function that returns a new, empty
// store; the suite checks round trips of many sizes, deduplication,
// mismatches and aborts that keep nothing, enumeration order and paging,
// removal, not-found errors, concurrent writers, verified reads, and random
// operation sequences against a map (pgregory.net/rapid).
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/bao"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// Sizes are the content lengths the round-trip test stores: empty, around
// the 1 KiB BLAKE3 chunk and the 16 KiB Bao chunk group, and a few larger.
var Sizes = []int{0, 1, 1023, 1024, 1025, 16<<10 - 1, 16 << 10, 16<<10 + 1, 64<<10 + 3, 1<<20 + 5}

// baoGroup is the Bao group parameter of content.GroupSize (16 KiB = 1 KiB << 4).
const baoGroup = 4

// Test runs the suite. newStore must return a new, empty store each call.
func Test(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("Dedupe", func(t *testing.T) { testDedupe(t, newStore(t)) })
	t.Run("Want", func(t *testing.T) { testWant(t, newStore(t)) })
	t.Run("Mismatch", func(t *testing.T) { testMismatch(t, newStore(t)) })
	t.Run("ReaderError", func(t *testing.T) { testReaderError(t, newStore(t)) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, newStore(t)) })
	t.Run("Staged", func(t *testing.T) { testStaged(t, newStore(t)) })
	t.Run("Enumerate", func(t *testing.T) { testEnumerate(t, newStore(t)) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, newStore(t)) })
	t.Run("Model", func(t *testing.T) { testModel(t, newStore) })
	t.Run("Group", func(t *testing.T) { TestGroup(t, newStore) })
}

// Bytes returns n pseudo-random bytes determined by seed.
func Bytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x636861727465720a))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// IDOf computes the content id of b with an independent BLAKE3
// implementation, so the suite does not trust the code under test for
// addresses.
func IDOf(b []byte) content.ID { return content.IDFromDigest(blake3.Sum256(b)) }

func put(t *testing.T, s blob.Store, b []byte) content.Info {
	t.Helper()
	info, err := blob.Put(context.Background(), s, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(b), err)
	}
	if want := IDOf(b); info.ID != want || info.Size != int64(len(b)) {
		t.Fatalf("Put(%d bytes) = %v/%d, want %v/%d", len(b), info.ID, info.Size, want, len(b))
	}
	return info
}

func readAll(t *testing.T, s blob.Store, k blob.Key) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatalf("Open(%v): %v", k, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %v: %v", k, err)
	}
	if r.Size() != int64(len(b)) {
		t.Fatalf("%v: Size() = %d, read %d bytes", k, r.Size(), len(b))
	}
	return b
}

func enumerate(t *testing.T, s blob.Store, after content.ID) (ids []content.ID, sizes []int64) {
	t.Helper()
	err := s.Enumerate(context.Background(), after, func(id content.ID, size int64) error {
		ids = append(ids, id)
		sizes = append(sizes, size)
		return nil
	})
	if err != nil {
		t.Fatalf("Enumerate: %v", err)
	}
	return ids, sizes
}

func expectEmpty(t *testing.T, s blob.Store, id content.ID) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []blob.Part{blob.Data, blob.Outboard} {
		if _, err := s.Stat(ctx, blob.Key{ID: id, Part: p}); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%v %v) = %v, want ErrNotFound", id, p, err)
		}
	}
	if ids, _ := enumerate(t, s, content.ID{}); len(ids) != 0 {
		t.Errorf("Enumerate lists %v, want nothing", ids)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for i, n := range Sizes {
		b := Bytes(uint64(i), n)
		info := put(t, s, b)
		dk := blob.Key{ID: info.ID, Part: blob.Data}
		if got := readAll(t, s, dk); !bytes.Equal(got, b) {
			t.Fatalf("size %d: data read back differs", n)
		}
		if size, err := s.Stat(ctx, dk); err != nil || size != int64(n) {
			t.Fatalf("Stat(data of %d bytes) = %d, %v", n, size, err)
		}
		ob := readAll(t, s, blob.Key{ID: info.ID, Part: blob.Outboard})
		if size, err := s.Stat(ctx, blob.Key{ID: info.ID, Part: blob.Outboard}); err != nil || size != int64(len(ob)) {
			t.Fatalf("Stat(outboard) = %d, %v; read %d bytes", size, err, len(ob))
		}
		// Checked with the reference Bao implementation, not content's.
		if !bao.VerifyBuf(b, ob, baoGroup, info.ID.Digest()) {
			t.Fatalf("size %d: stored outboard does not verify", n)
		}
		checkRandomAccess(t, s, dk, b)
	}
}

// checkRandomAccess exercises ReadAt and Seek on a stored stream.
func checkRandomAccess(t *testing.T, s blob.Store, k blob.Key, want []byte) {
	t.Helper()
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := int64(len(want))
	for _, off := range []int64{0, 1, n / 3, n / 2, n - 1} {
		if off < 0 || off >= n {
			continue
		}
		buf := make([]byte, min(1000, n-off))
		if _, err := r.ReadAt(buf, off); err != nil && !(err == io.EOF && off+int64(len(buf)) == n) {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
			t.Fatalf("ReadAt(%d) differs", off)
		}
		if pos, err := r.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(rest, want[off:]) {
			t.Fatalf("read after Seek(%d): %v, equal=%v", off, err, bytes.Equal(rest, want[off:]))
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), n); err != io.EOF {
		t.Fatalf("ReadAt(size) = %v, want io.EOF", err)
	}
}

func testDedupe(t *testing.T, s blob.Store) {
	b := Bytes(7, 40000)
	a := put(t, s, b)
	c := put(t, s, b)
	if a != c {
		t.Fatalf("second Put = %v, first %v", c, a)
	}
	ids, sizes := enumerate(t, s, content.ID{})
	if len(ids) != 1 || ids[0] != a.ID || sizes[0] != int64(len(b)) {
		t.Fatalf("Enumerate = %v %v, want [%v] [%d]", ids, sizes, a.ID, len(b))
	}
	if got := readAll(t, s, blob.Key{ID: a.ID, Part: blob.Data}); !bytes.Equal(got, b) {
		t.Fatal("data differs after second Put")
	}
}

// failReader fails the test if it is read.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("Put read its input although the content was stored")
	return 0, io.ErrUnexpectedEOF
}

func testWant(t *testing.T, s blob.Store) {
	ctx := context.Background()
	b := Bytes(8, 3000)
	want := IDOf(b)
	info, err := blob.Put(ctx, s, bytes.NewReader(b), &want)
	if err != nil || info.ID != want || info.Size != int64(len(b)) {
		t.Fatalf("Put with matching want = %v, %v", info, err)
	}
	// Stored already: Put need not read the input again.
	info, err = blob.Put(ctx, s, failReader{t}, &want)
	if err != nil || info.ID != want || info.Size != int64(len(b)) {
		t.Fatalf("Put of stored content = %v, %v", info, err)
	}
}

func testMismatch(t *testing.T, s blob.Store) {
	b := Bytes(9, 20000)
	other := IDOf([]byte("something else"))
	_, err := blob.Put(context.Background(), s, bytes.NewReader(b), &other)
	if !errors.Is(err, blob.ErrMismatch) {
		t.Fatalf("Put with wrong want = %v, want ErrMismatch", err)
	}
	expectEmpty(t, s, IDOf(b))
	expectEmpty(t, s, other)
}

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func testReaderError(t *testing.T, s blob.Store) {
	b := Bytes(10, 50000)
	boom := errors.New("boom")
	_, err := blob.Put(context.Background(), s, &errAfter{bytes.NewReader(b), boom}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("Put with failing reader = %v, want the reader's error", err)
	}
	expectEmpty(t, s, IDOf(b))
}

func testCanceled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Bytes(11, 100)
	if _, err := blob.Put(ctx, s, bytes.NewReader(b), nil); err == nil {
		t.Fatal("Put with canceled context succeeded")
	}
	expectEmpty(t, s, IDOf(b))
}

func testStaged(t *testing.T, s blob.Store) {
	ctx := context.Background()
	// Abort keeps nothing.
	w, err := s.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("aborted")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, blob.Key{ID: IDOf([]byte("aborted"))}); !errors.Is(err, blob.ErrClosed) {
		t.Fatalf("Commit after Abort = %v, want ErrClosed", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, blob.ErrClosed) {
		t.Fatalf("Write after Abort = %v, want ErrClosed", err)
	}
	expectEmpty(t, s, IDOf([]byte("aborted")))

	// Committing an existing key keeps the first bytes. (Backends do not
	// check names; only blob.Put does, so this key is arbitrary.)
	k := blob.Key{ID: IDOf([]byte("key")), Part: blob.Data}
	for _, body := range []string{"first", "second"} {
		w, err := s.Stage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
		if err := w.Commit(ctx, k); err != nil {
			t.Fatalf("Commit(%q): %v", body, err)
		}
		if err := w.Commit(ctx, k); !errors.Is(err, blob.ErrClosed) {
			t.Fatalf("second Commit = %v, want ErrClosed", err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort after Commit = %v, want nil", err)
		}
	}
	if got := readAll(t, s, k); string(got) != "first" {
		t.Fatalf("after two commits read %q, want %q", got, "first")
	}
	// A staged write is invisible before its commit.
	w, err = s.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	io.WriteString(w, "pending")
	pk := blob.Key{ID: IDOf([]byte("pending")), Part: blob.Data}
	if _, err := s.Stat(ctx, pk); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of uncommitted key = %v, want ErrNotFound", err)
	}
}

func testEnumerate(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if ids, _ := enumerate(t, s, content.ID{}); len(ids) != 0 {
		t.Fatalf("empty store lists %v", ids)
	}
	const n = 60
	want := map[content.ID]int64{}
	for i := range n {
		b := Bytes(uint64(100+i), i*37)
		want[put(t, s, b).ID] = int64(len(b))
	}
	// An outboard alone is not listed.
	w, _ := s.Stage(ctx)
	io.WriteString(w, "lonely")
	if err := w.Commit(ctx, blob.Key{ID: IDOf([]byte("lonely")), Part: blob.Outboard}); err != nil {
		t.Fatal(err)
	}

	ids, sizes := enumerate(t, s, content.ID{})
	if len(ids) != n {
		t.Fatalf("Enumerate listed %d ids, want %d", len(ids), n)
	}
	for i, id := range ids {
		if sz, ok := want[id]; !ok || sz != sizes[i] {
			t.Fatalf("Enumerate listed %v size %d; want size %d (known %v)", id, sizes[i], sz, ok)
		}
	}
	if !slices.IsSortedFunc(ids, cmpID) {
		t.Fatal("Enumerate order is not ascending digest order")
	}
	// Paging with ErrStop and after.
	var paged []content.ID
	after := content.ID{}
	for page := 0; ; page++ {
		var got []content.ID
		err := s.Enumerate(ctx, after, func(id content.ID, _ int64) error {
			got = append(got, id)
			if len(got) == 7 {
				return blob.ErrStop
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Enumerate page %d: %v", page, err)
		}
		if len(got) == 0 {
			break
		}
		paged = append(paged, got...)
		after = got[len(got)-1]
	}
	if !slices.Equal(paged, ids) {
		t.Fatalf("paged enumeration differs from full one")
	}
	// after need not be stored: the digest just above ids[10] starts at ids[11].
	d := ids[10].Digest()
	for i := 31; i >= 0; i-- {
		d[i]++
		if d[i] != 0 {
			break
		}
	}
	if got, _ := enumerate(t, s, content.IDFromDigest(d)); len(got) == 0 || got[0] != ids[11] {
		t.Fatalf("Enumerate after an absent id starts wrong")
	}
	// Other callback errors come back as is.
	boom := errors.New("boom")
	if err := s.Enumerate(ctx, content.ID{}, func(content.ID, int64) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Enumerate returned %v, want the callback's error", err)
	}
}

func cmpID(a, b content.ID) int {
	da, db := a.Digest(), b.Digest()
	return bytes.Compare(da[:], db[:])
}

func testRemove(t *testing.T, s blob.Store) {
	ctx := context.Background()
	keep := put(t, s, Bytes(20, 500))
	gone := put(t, s, Bytes(21, 500))
	if err := blob.Delete(ctx, s, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, p := range []blob.Part{blob.Data, blob.Outboard} {
		k := blob.Key{ID: gone.ID, Part: p}
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat after Delete = %v", err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open after Delete = %v", err)
		}
		if err := s.Remove(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("second Remove = %v, want ErrNotFound", err)
		}
	}
	if err := blob.Delete(ctx, s, gone.ID); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if ids, _ := enumerate(t, s, content.ID{}); !slices.Equal(ids, []content.ID{keep.ID}) {
		t.Fatalf("after Delete Enumerate = %v, want [%v]", ids, keep.ID)
	}
	// Removed content can be stored again.
	put(t, s, Bytes(21, 500))
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := context.Background()
	id := IDOf([]byte("never stored"))
	for _, p := range []blob.Part{blob.Data, blob.Outboard} {
		k := blob.Key{ID: id, Part: p}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%v) = %v, want ErrNotFound", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%v) = %v, want ErrNotFound", k, err)
		}
		if err := s.Remove(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Remove(%v) = %v, want ErrNotFound", k, err)
		}
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	const writers = 8
	same := Bytes(30, 70000)
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			info, err := blob.Put(context.Background(), s, bytes.NewReader(same), nil)
			if err == nil && info.ID != IDOf(same) {
				err = fmt.Errorf("concurrent Put of same bytes named them %v", info.ID)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			b := Bytes(uint64(40+i), 30000+i)
			_, err := blob.Put(context.Background(), s, bytes.NewReader(b), nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := enumerate(t, s, content.ID{})
	if len(ids) != writers+1 {
		t.Fatalf("Enumerate listed %d ids, want %d", len(ids), writers+1)
	}
	if got := readAll(t, s, blob.Key{ID: IDOf(same), Part: blob.Data}); !bytes.Equal(got, same) {
		t.Fatal("content written concurrently reads back differently")
	}
	for i := range writers {
		b := Bytes(uint64(40+i), 30000+i)
		if got := readAll(t, s, blob.Key{ID: IDOf(b), Part: blob.Data}); !bytes.Equal(got, b) {
			t.Fatalf("writer %d: content differs", i)
		}
	}
}

func testGet(t *testing.T, s blob.Store) {
	ctx := context.Background()
	b := Bytes(50, 70000)
	info := put(t, s, b)
	v, err := blob.Get(ctx, s, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := v.Size(); err != nil || size != int64(len(b)) {
		t.Fatalf("Size = %d, %v", size, err)
	}
	got, err := io.ReadAll(v)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get read %d bytes, %v; equal=%v", len(got), err, bytes.Equal(got, b))
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.Get(ctx, s, IDOf([]byte("absent"))); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of absent id = %v, want ErrNotFound", err)
	}

	// Bytes committed under the wrong name (possible only by going around
	// Put) are caught on read.
	good := Bytes(51, 40000)
	bad := bytes.Clone(good)
	bad[33333] ^= 1
	want := IDOf(good)
	var ob bytes.Buffer
	if _, err := content.Ingest(ctx, bytes.NewReader(good), io.Discard, &ob); err != nil {
		t.Fatal(err)
	}
	for _, part := range []struct {
		p blob.Part
		b []byte
	}{{blob.Outboard, ob.Bytes()}, {blob.Data, bad}} {
		w, err := s.Stage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(part.b)
		if err := w.Commit(ctx, blob.Key{ID: want, Part: part.p}); err != nil {
			t.Fatal(err)
		}
	}
	v, err = blob.Get(ctx, s, want)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	got, err = io.ReadAll(v)
	if !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("Get of corrupt data = %v, want content.ErrCorrupt", err)
	}
	if len(got) > 32<<10 || !bytes.Equal(got, good[:len(got)]) {
		t.Fatalf("Get returned %d bytes before the corrupt group, or bytes that differ", len(got))
	}
}

// TestGroup checks blob.NewGroup on a backend, its own blob.Grouper or
// the generic group: blobs put into a group are invisible until Group.Commit and all
// visible after it; a blob whose bytes do not match its declared id is
// refused and the others kept; an aborted group keeps nothing; a blob put
// twice in one group, or already stored, is stored once.
func TestGroup(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()
	t.Run("Commit", func(t *testing.T) {
		s := newStore(t)
		pre := put(t, s, Bytes(99, 5000)) // stored before: put again in the group
		g, err := blob.NewGroup(ctx, s)
		if err != nil {
			t.Fatalf("NewGroup: %v", err)
		}
		defer g.Abort()
		var want [][]byte
		for i, n := range []int{0, 1, 1024, 10 << 10, 16<<10 + 1, 70000} {
			b := Bytes(uint64(100+i), n)
			id := IDOf(b)
			info, err := blob.Put(ctx, g, bytes.NewReader(b), &id)
			if err != nil || info.ID != id {
				t.Fatalf("Put %d bytes into group: %v %v", n, info.ID, err)
			}
			want = append(want, b)
		}
		bad := IDOf([]byte("not these bytes"))
		if _, err := blob.Put(ctx, g, bytes.NewReader(Bytes(7, 3000)), &bad); !errors.Is(err, blob.ErrMismatch) {
			t.Fatalf("mismatched Put into group = %v, want ErrMismatch", err)
		}
		again := want[3]
		againID := IDOf(again)
		if _, err := blob.Put(ctx, g, bytes.NewReader(again), &againID); err != nil {
			t.Fatal(err)
		}
		preBytes := Bytes(99, 5000)
		if _, err := blob.Put(ctx, g, bytes.NewReader(preBytes), &pre.ID); err != nil {
			t.Fatal(err)
		}
		for _, b := range want {
			if _, err := s.Stat(ctx, blob.Key{ID: IDOf(b), Part: blob.Data}); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("a blob of %d bytes is visible before the group's Commit (%v)", len(b), err)
			}
		}
		if err := g.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := g.Commit(ctx); !errors.Is(err, blob.ErrClosed) {
			t.Fatalf("second Commit = %v, want ErrClosed", err)
		}
		for _, b := range append(want, preBytes) {
			id := IDOf(b)
			if got := readAll(t, s, blob.Key{ID: id, Part: blob.Data}); !bytes.Equal(got, b) {
				t.Fatalf("%d bytes: data read back differs", len(b))
			}
			if !bao.VerifyBuf(b, readAll(t, s, blob.Key{ID: id, Part: blob.Outboard}), baoGroup, id.Digest()) {
				t.Fatalf("%d bytes: outboard does not verify", len(b))
			}
		}
		ids, _ := enumerate(t, s, content.ID{})
		if len(ids) != len(want)+1 {
			t.Fatalf("Enumerate lists %d blobs, want %d", len(ids), len(want)+1)
		}
		if _, err := s.Stat(ctx, blob.Key{ID: bad, Part: blob.Data}); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("the mismatched blob was stored (%v)", err)
		}
	})
	t.Run("Abort", func(t *testing.T) {
		s := newStore(t)
		g, err := blob.NewGroup(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		b := Bytes(5, 9000)
		id := IDOf(b)
		if _, err := blob.Put(ctx, g, bytes.NewReader(b), &id); err != nil {
			t.Fatal(err)
		}
		if err := g.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := g.Commit(ctx); !errors.Is(err, blob.ErrClosed) {
			t.Fatalf("Commit after Abort = %v, want ErrClosed", err)
		}
		expectEmpty(t, s, id)
	})
}
