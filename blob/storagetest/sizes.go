package storagetest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"lukechampine.com/blake3/bao"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// TestSizes stores content of each size in s twice over, once without a
// declared id and once with one (blob.Put's want, which a blob.KeyStager
// backend stages under the final key), and checks each copy: data and
// outboard read back equal and verify with the reference Bao
// implementation, ReadAt and Seek work, blob.Get returns the bytes, and
// blob.Delete removes them. Backends whose writes change shape past some
// size (an S3 multipart threshold) run it at sizes around that threshold.
// s must be empty, and is empty again afterwards.
func TestSizes(t *testing.T, s blob.Store, sizes []int) {
	ctx := context.Background()
	for i, n := range sizes {
		for _, declared := range []bool{false, true} {
			b := Bytes(uint64(1000+i), n)
			id := IDOf(b)
			var want = &id
			if !declared {
				want = nil
			}
			info, err := blob.Put(ctx, s, bytes.NewReader(b), want)
			if err != nil || info.ID != id || info.Size != int64(n) {
				t.Fatalf("size %d, declared %v: Put = %v, %v", n, declared, info, err)
			}
			dk := blob.Key{ID: id, Part: blob.Data}
			if got := readAll(t, s, dk); !bytes.Equal(got, b) {
				t.Fatalf("size %d, declared %v: data read back differs", n, declared)
			}
			if size, err := s.Stat(ctx, dk); err != nil || size != int64(n) {
				t.Fatalf("size %d: Stat = %d, %v", n, size, err)
			}
			ob := readAll(t, s, blob.Key{ID: id, Part: blob.Outboard})
			if !bao.VerifyBuf(b, ob, baoGroup, id.Digest()) {
				t.Fatalf("size %d, declared %v: stored outboard does not verify", n, declared)
			}
			checkRandomAccess(t, s, dk, b)
			if ids, sizes := enumerate(t, s, content.ID{}); len(ids) != 1 || ids[0] != id || sizes[0] != int64(n) {
				t.Fatalf("size %d, declared %v: Enumerate = %v %v", n, declared, ids, sizes)
			}
			v, err := blob.Get(ctx, s, id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(v)
			v.Close()
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("size %d, declared %v: Get read %d bytes, %v", n, declared, len(got), err)
			}
			if err := blob.Delete(ctx, s, id); err != nil {
				t.Fatalf("size %d, declared %v: Delete: %v", n, declared, err)
			}
			expectEmpty(t, s, id)
		}
	}
}
