package content

import (
	"bytes"
	"testing"

	"lukechampine.com/blake3/bao"
	"pgregory.net/rapid"
)

// TestRangeProperties checks, for random sizes and ranges, that ExtractRange
// matches the reference extractor, SliceSize predicts its length, and
// VerifyRange returns exactly the requested bytes.
func TestRangeProperties(tt *testing.T) {
	blobs := map[int]blob{}
	rapid.Check(tt, func(t *rapid.T) {
		size := rapid.OneOf(rapid.IntRange(1, 3*GroupSize), rapid.IntRange(1, 40*GroupSize),
			rapid.SampledFrom([]int{GroupSize, 2 * GroupSize, 32 * GroupSize, 33 * GroupSize})).Draw(t, "size")
		b, ok := blobs[size]
		if !ok {
			b = newBlob(tt, randomBytes(uint64(size), size))
			blobs[size] = b
		}
		off := rapid.Int64Range(0, int64(size-1)).Draw(t, "offset")
		n := rapid.Int64Range(1, int64(size)-off).Draw(t, "length")
		var s bytes.Buffer
		if err := ExtractRange(&s, bytes.NewReader(b.data), bytes.NewReader(b.outboard), int64(size), off, n); err != nil {
			t.Fatal(err)
		}
		if ss, _ := SliceSize(int64(size), off, n); ss != int64(s.Len()) {
			t.Fatalf("SliceSize %d, slice %d", ss, s.Len())
		}
		ws, we, _ := WidenRange(int64(size), off, n)
		var ref bytes.Buffer
		if err := bao.ExtractSlice(&ref, bytes.NewReader(b.data[ws:we]), bytes.NewReader(b.outboard), baoGroupLog, uint64(off), uint64(n)); err != nil || !bytes.Equal(ref.Bytes(), s.Bytes()) {
			t.Fatalf("differs from bao.ExtractSlice (%v)", err)
		}
		var got bytes.Buffer
		if sz, err := VerifyRange(&got, bytes.NewReader(s.Bytes()), b.id, off, n); err != nil || sz != int64(size) || !bytes.Equal(got.Bytes(), b.data[off:off+n]) {
			t.Fatalf("VerifyRange: %v", err)
		}
		// Verifying a different range from the same slice never yields wrong bytes.
		off2 := rapid.Int64Range(0, int64(size-1)).Draw(t, "offset2")
		n2 := rapid.Int64Range(1, int64(size)-off2).Draw(t, "length2")
		var got2 bytes.Buffer
		_, err := VerifyRange(&got2, bytes.NewReader(s.Bytes()), b.id, off2, n2)
		if !bytes.Equal(got2.Bytes(), b.data[off2:off2+int64(got2.Len())]) {
			t.Fatal("wrong bytes written for a mismatched range")
		}
		if err == nil && got2.Len() != int(n2) {
			t.Fatal("short success")
		}
	})
}
