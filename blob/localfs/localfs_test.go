package localfs_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/content"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Test(t, func(t *testing.T) blob.Store {
		s, err := localfs.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestLayout pins the on-disk layout documented in docs/storage.md and
// checks that foreign files do not confuse Enumerate.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("hello")
	info, err := blob.Put(ctx, s, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := info.ID.Digest()
	base := filepath.Join(dir, "blobs", hex.EncodeToString(d[:1]), info.ID.String())
	if got, err := os.ReadFile(base); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("data file: %q, %v", got, err)
	}
	if fi, err := os.Stat(base + ".obao"); err != nil || fi.Size() != content.OutboardSize(int64(len(b))) {
		t.Fatalf("outboard file: %v, %v", fi, err)
	}
	// Foreign names, directories and misplaced ids are ignored.
	other := storagetest.IDOf([]byte("misplaced"))
	od := other.Digest()
	wrong := hex.EncodeToString([]byte{od[0] + 1})
	for _, p := range []string{
		filepath.Join(dir, "blobs", "README"),
		filepath.Join(dir, "blobs", hex.EncodeToString(d[:1]), "notes.txt"),
		filepath.Join(dir, "blobs", wrong, other.String()),
	} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "blobs", "zz"), 0o700)

	// Reopening sees what was committed.
	s2, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []content.ID
	if err := s2.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != info.ID {
		t.Fatalf("Enumerate after reopen = %v, want [%v]", ids, info.ID)
	}
}

// TestGroupLeavesNoTempFiles: a committed or aborted group removes every
// temp file it staged, including those of a refused blob.
func TestGroupLeavesNoTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, commit := range []bool{true, false} {
		g, err := s.Group(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			b := storagetest.Bytes(uint64(i), 10<<10)
			id := storagetest.IDOf(b)
			if i == 7 {
				id = storagetest.IDOf([]byte("other"))
			}
			blob.Put(ctx, g, bytes.NewReader(b), &id)
		}
		if commit {
			err = g.Commit(ctx)
		} else {
			err = g.Abort()
		}
		if err != nil {
			t.Fatal(err)
		}
		if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(ents) != 0 {
			t.Fatalf("commit=%v: %d temp files left (%v)", commit, len(ents), err)
		}
	}
}

// TestGroupImpliesSmallOutboards: a group stores no outboard file for a
// blob of at most 16 KiB; Open and Stat derive it (the header alone, as
// content.Ingest writes it) while the data exists, and not after.
func TestGroupImpliesSmallOutboards(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Group(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 10 << 10, content.GroupSize, content.GroupSize + 1}
	var ids []content.ID
	for i, n := range sizes {
		b := storagetest.Bytes(uint64(i), n)
		id := storagetest.IDOf(b)
		if _, err := blob.Put(ctx, g, bytes.NewReader(b), &id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := g.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		k := blob.Key{ID: ids[i], Part: blob.Outboard}
		var want bytes.Buffer
		if _, err := content.Ingest(ctx, bytes.NewReader(storagetest.Bytes(uint64(i), n)), io.Discard, &want); err != nil {
			t.Fatal(err)
		}
		d := ids[i].Digest()
		_, err := os.Stat(filepath.Join(dir, "blobs", hex.EncodeToString(d[:1]), k.String()))
		if file := err == nil; file != (n > content.GroupSize) {
			t.Errorf("%d bytes: outboard file stored: %v", n, file)
		}
		if size, err := s.Stat(ctx, k); err != nil || size != int64(want.Len()) {
			t.Errorf("%d bytes: Stat(outboard) = %d, %v; want %d", n, size, err, want.Len())
		}
		r, err := s.Open(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%d bytes: outboard read as %x, want %x", n, got, want.Bytes())
		}
		if err := blob.Delete(ctx, s, ids[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%d bytes: Stat(outboard) after Delete = %v", n, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%d bytes: Open(outboard) after Delete = %v", n, err)
		}
	}
}
