package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
)

// TestParts runs the suite of blob.PartStore against s: parts are stored,
// listed, read back, replaced, kept apart per upload, refused when their
// size is wrong, and dropped.
func TestParts(t *testing.T, s blob.PartStore) {
	ctx := context.Background()
	const u, v = "0123abcd", "ffee"
	if _, err := s.Parts(ctx, "NOT-HEX"); err == nil {
		t.Error("Parts accepted an invalid upload name")
	}
	if err := s.PutPart(ctx, "../x", 0, strings.NewReader("x"), 1); err == nil {
		t.Error("PutPart accepted an invalid upload name")
	}
	if got, err := s.Parts(ctx, u); err != nil || len(got) != 0 {
		t.Fatalf("Parts of a new upload: %v %v", got, err)
	}
	p0 := bytes.Repeat([]byte{1}, 70000)
	p1 := []byte("the last part")
	for n, b := range map[int][]byte{0: p0, 1: p1} {
		if err := s.PutPart(ctx, u, n, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutPart(ctx, v, 0, strings.NewReader("other"), 5); err != nil {
		t.Fatal(err)
	}
	// Wrong sizes keep nothing.
	if err := s.PutPart(ctx, u, 2, strings.NewReader("short"), 10); !errors.Is(err, blob.ErrPartSize) {
		t.Errorf("short part: %v, want ErrPartSize", err)
	}
	if err := s.PutPart(ctx, u, 3, strings.NewReader("too long"), 3); !errors.Is(err, blob.ErrPartSize) {
		t.Errorf("long part: %v, want ErrPartSize", err)
	}
	got, err := s.Parts(ctx, u)
	if err != nil || len(got) != 2 || got[0] != int64(len(p0)) || got[1] != int64(len(p1)) {
		t.Fatalf("Parts = %v, %v; want parts 0 and 1 of %d and %d bytes", got, err, len(p0), len(p1))
	}
	read := func(n int) []byte {
		t.Helper()
		r, err := s.OpenPart(ctx, u, n)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(0), p0) || !bytes.Equal(read(1), p1) {
		t.Fatal("parts read back differ")
	}
	if _, err := s.OpenPart(ctx, u, 7); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("OpenPart of a missing part: %v, want ErrNotFound", err)
	}
	// A part sent again replaces the first copy.
	if err := s.PutPart(ctx, u, 1, strings.NewReader("again"), 5); err != nil {
		t.Fatal(err)
	}
	if string(read(1)) != "again" {
		t.Fatal("a part sent again did not replace the first")
	}
	seen := map[string]time.Time{}
	if err := s.Uploads(ctx, func(name string, mod time.Time) error { seen[name] = mod; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[u].IsZero() || seen[v].IsZero() || time.Since(seen[u]) > time.Hour {
		t.Fatalf("Uploads = %v, want %s and %s, modified now", seen, u, v)
	}
	if err := s.DropUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Parts(ctx, u); err != nil || len(got) != 0 {
		t.Fatalf("Parts after DropUpload: %v %v", got, err)
	}
	if got, err := s.Parts(ctx, v); err != nil || len(got) != 1 {
		t.Fatalf("dropping one upload touched another: %v %v", got, err)
	}
	if err := s.DropUpload(ctx, u); err != nil {
		t.Fatalf("dropping a dropped upload: %v", err)
	}
	s.DropUpload(ctx, v)
}
