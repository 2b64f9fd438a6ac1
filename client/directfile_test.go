package client

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestPartWriterDirect writes a file through partWriter in aligned blocks
// (direct I/O where the file system takes it), unaligned pieces (the page
// cache) and a short tail, from several writers at their own offsets, and
// reads back exactly the bytes written.
func TestPartWriterDirect(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	const size = 3<<20 + 5000
	want := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(want)
	f, err := root.OpenFile("part", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	d := openDirect(root, "part")
	if d == nil {
		t.Log("the file system refuses O_DIRECT here: every piece goes through the page cache")
	} else {
		defer d.Close()
	}
	buf := alignedBlock(1 << 20)
	if !aligned(buf, 0) {
		t.Fatal("alignedBlock is not aligned")
	}
	// Range 1: aligned 1 MiB blocks from an aligned buffer.
	w := &partWriter{f: f, direct: d, off: 0}
	for off := 0; off < 2<<20; off += 1 << 20 {
		copy(buf, want[off:off+1<<20])
		if n, err := w.Write(buf); err != nil || n != 1<<20 {
			t.Fatalf("aligned write at %d: %d, %v", off, n, err)
		}
	}
	// Range 2: an unaligned start of memory, then the short tail.
	w = &partWriter{f: f, direct: d, off: 2 << 20}
	odd := append([]byte{0}, want[2<<20:3<<20]...)[1:]
	if _, err := w.Write(odd); err != nil {
		t.Fatal(err)
	}
	copy(buf, want[3<<20:])
	if _, err := w.Write(buf[:size-3<<20]); err != nil {
		t.Fatal(err)
	}
	if d != nil && d.off.Load() {
		t.Log("the file system refused a direct write: fell back to the page cache")
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "part"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("file differs from the bytes written")
	}
}
