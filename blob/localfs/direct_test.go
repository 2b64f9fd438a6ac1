package localfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
)

// directBlock is localfs's block size for staged writes (direct.go).
const directBlock = 2 << 20

// TestBlockSizes stores content around the block size of staged writes
// (written in aligned blocks, with O_DIRECT on Linux) and past several
// blocks, with lengths that are not multiples of the file system's block.
func TestBlockSizes(t *testing.T) {
	s, err := localfs.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := directBlock
	storagetest.TestSizes(t, s, []int{4095, 4096, 8192, 1 << 20, p - 1, p, p + 1, p + 4096, 4*p + 12345})
}

// TestBlockAbort: a staged write aborted after several blocks went to its
// writer goroutine leaves no temp file, and the store takes the next Put.
func TestBlockAbort(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := storagetest.Bytes(3, 5*directBlock+17)
	if _, err := st.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(b); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(ents) != 0 {
		t.Fatalf("%d temp files left (%v)", len(ents), err)
	}
	// Commit after a Commit is refused; the committed bytes read back.
	st, err = s.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write(b); err != nil {
		t.Fatal(err)
	}
	k := blob.Key{ID: storagetest.IDOf(b), Part: blob.Data}
	if err := st.Commit(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, k); err == nil {
		t.Fatal("second Commit succeeded")
	}
	if n, err := s.Stat(ctx, k); err != nil || n != int64(len(b)) {
		t.Fatalf("Stat = %d, %v; want %d", n, err, len(b))
	}
}
