package content

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// split returns the split slice of [offset, offset+length) of b: its tree
// part, then the widened data.
func (b blob) split(t testing.TB, offset, length int64) []byte {
	t.Helper()
	var s bytes.Buffer
	size := int64(len(b.data))
	if err := ExtractTree(&s, bytes.NewReader(b.outboard), size, offset, length); err != nil {
		t.Fatalf("ExtractTree(%d, %d) of %d bytes: %v", offset, length, size, err)
	}
	if ts, err := TreeSize(size, offset, length); err != nil || ts != int64(s.Len()) {
		t.Fatalf("TreeSize = %d, %v; tree part is %d bytes", ts, err, s.Len())
	}
	ws, we, _ := WidenRange(size, offset, length)
	s.Write(b.data[ws:we])
	return s.Bytes()
}

// TestSplitIsTheSliceReordered checks that a split slice holds exactly the
// bytes of the Bao slice (the tree part is the slice without its data, in
// order) and that VerifySplit returns the range, whatever its block size
// and however the reader delivers it.
func TestSplitIsTheSliceReordered(t *testing.T) {
	sizes := []int{0, 1, 1000, GroupSize - 1, GroupSize, GroupSize + 1, 2 * GroupSize, 3*GroupSize + 5, 16 * GroupSize, 17*GroupSize - 1, 100*GroupSize + 3, 1<<20 + 1}
	for i, n := range sizes {
		b := newBlob(t, randomBytes(uint64(i+20), n))
		size := int64(n)
		for _, r := range rangesFor(size) {
			name := fmt.Sprintf("size=%d off=%d len=%d", n, r.off, r.n)
			s, sp := b.slice(t, r.off, r.n), b.split(t, r.off, r.n)
			if len(s) != len(sp) {
				t.Fatalf("%s: split is %d bytes, slice %d", name, len(sp), len(s))
			}
			a, c := slices.Clone(s), slices.Clone(sp)
			slices.Sort(a)
			slices.Sort(c)
			if !bytes.Equal(a, c) {
				t.Fatalf("%s: split does not hold the slice's bytes", name)
			}
			want := b.data[r.off : r.off+r.n]
			for _, bufSize := range []int{0, GroupSize, 3*GroupSize + 100} {
				var got bytes.Buffer
				gotSize, err := VerifySplit(&got, bytes.NewReader(sp), b.id, r.off, r.n, make([]byte, bufSize))
				if err != nil || gotSize != size || !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("%s buf %d: VerifySplit = %d, %v (got %d bytes)", name, bufSize, gotSize, err, got.Len())
				}
			}
			var got bytes.Buffer
			if _, err := VerifySplit(&got, iotest.OneByteReader(bytes.NewReader(sp)), b.id, r.off, r.n, nil); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s: VerifySplit via OneByteReader: %v", name, err)
			}
		}
	}
}

func TestVerifySplitRejectsEveryFlippedByte(t *testing.T) {
	b := newBlob(t, randomBytes(5, 5*GroupSize+77))
	size := int64(len(b.data))
	for _, r := range []rng{{GroupSize + 5, 2 * GroupSize}, {size - 10, 10}, {0, size}} {
		s := b.split(t, r.off, r.n)
		want := b.data[r.off : r.off+r.n]
		step := 1
		if len(s) > 20000 {
			step = 97
		}
		for i := 0; i < len(s); i += step {
			bad := bytes.Clone(s)
			bad[i] ^= 0x40
			// One group per block (read, then hashed), and two
			// (halves read while the other is hashed).
			for _, bufSize := range []int{GroupSize, 2 * GroupSize} {
				var got bytes.Buffer
				_, err := VerifySplit(&got, bytes.NewReader(bad), b.id, r.off, r.n, make([]byte, bufSize))
				name := fmt.Sprintf("range %v flip %d buf %d", r, i, bufSize)
				checkPrefix(t, name, got.Bytes(), want)
				if err == nil && i < headerSize && r.off+r.n <= (size-1)/GroupSize*GroupSize {
					continue // the size is proven only by a range reaching the last group
				}
				if err == nil {
					t.Fatalf("%s: accepted", name)
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadRange) {
					t.Fatalf("%s: error %v is neither ErrCorrupt nor ErrBadRange", name, err)
				}
			}
		}
		for cut := 0; cut < len(s); cut += 1 + len(s)/300 {
			for _, buf := range [][]byte{nil, make([]byte, 2*GroupSize)} {
				var got bytes.Buffer
				if _, err := VerifySplit(&got, bytes.NewReader(s[:cut]), b.id, r.off, r.n, buf); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("range %v cut at %d (buf %d): got %v, want ErrCorrupt", r, cut, len(buf), err)
				}
				checkPrefix(t, "truncated", got.Bytes(), want)
			}
		}
		if _, err := VerifySplit(io.Discard, bytes.NewReader(append(bytes.Clone(s), 0)), b.id, r.off, r.n, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trailing byte: got %v", err)
		}
		// A plain slice is not a split slice.
		if r.n > GroupSize {
			if _, err := VerifySplit(io.Discard, bytes.NewReader(b.slice(t, r.off, r.n)), b.id, r.off, r.n, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("plain slice read as split: got %v", err)
			}
		}
	}
}

func FuzzVerifySplit(f *testing.F) {
	b := fuzzBlob
	size := int64(len(b.data))
	for _, r := range []rng{{0, 1}, {GroupSize - 1, 2}, {size - 1, 1}, {2 * GroupSize, 100}, {0, size}} {
		var s bytes.Buffer
		ExtractTree(&s, bytes.NewReader(b.outboard), size, r.off, r.n)
		ws, we, _ := WidenRange(size, r.off, r.n)
		s.Write(b.data[ws:we])
		f.Add(s.Bytes(), r.off, r.n)
	}
	f.Add([]byte{}, int64(0), int64(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, int64(0), int64(1<<62))
	f.Fuzz(func(t *testing.T, slice []byte, offset, length int64) {
		var got bytes.Buffer
		_, err := VerifySplit(&got, bytes.NewReader(slice), b.id, offset, length, make([]byte, GroupSize))
		checkVerified(t, b.data, got.Bytes(), offset)
		if err == nil && int64(got.Len()) != length {
			t.Fatalf("success with %d bytes for a %d-byte range", got.Len(), length)
		}
	})
}
