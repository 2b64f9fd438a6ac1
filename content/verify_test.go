package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"lukechampine.com/blake3/bao"
)

type blob struct {
	data, outboard []byte
	id             ID
}

func newBlob(t testing.TB, content []byte) blob {
	t.Helper()
	var ob bytes.Buffer
	info, err := Ingest(context.Background(), bytes.NewReader(content), io.Discard, &ob)
	if err != nil {
		t.Fatal(err)
	}
	return blob{data: content, outboard: ob.Bytes(), id: info.ID}
}

func (b blob) slice(t testing.TB, offset, length int64) []byte {
	t.Helper()
	var s bytes.Buffer
	if err := ExtractRange(&s, bytes.NewReader(b.data), bytes.NewReader(b.outboard), int64(len(b.data)), offset, length); err != nil {
		t.Fatalf("ExtractRange(%d, %d) of %d bytes: %v", offset, length, len(b.data), err)
	}
	return s.Bytes()
}

type rng struct{ off, n int64 }

func rangesFor(size int64) []rng {
	if size == 0 {
		return []rng{{0, 0}}
	}
	cands := []rng{{0, 1}, {0, size}, {size - 1, 1}, {size / 2, 1}, {size / 3, size / 3}, {0, min(size, GroupSize)},
		{min(GroupSize-1, size-1), 1}, {min(GroupSize-1, size-1), min(2, size-min(GroupSize-1, size-1))},
		{min(GroupSize, size-1), size - min(GroupSize, size-1)}, {size / 7, size - size/7}}
	var out []rng
	for _, c := range cands {
		if c.n > 0 && c.off+c.n <= size {
			out = append(out, c)
		}
	}
	return out
}

func TestRangesMatchBao(t *testing.T) {
	sizes := []int{0, 1, 1000, 1024, GroupSize - 1, GroupSize, GroupSize + 1, 2 * GroupSize, 3*GroupSize + 5, 16 * GroupSize, 17*GroupSize - 1, 100*GroupSize + 3, 1<<20 + 1}
	for i, n := range sizes {
		b := newBlob(t, randomBytes(uint64(i+10), n))
		size := int64(n)
		for _, r := range rangesFor(size) {
			name := fmt.Sprintf("size=%d off=%d len=%d", n, r.off, r.n)
			s := b.slice(t, r.off, r.n)
			if want, err := SliceSize(size, r.off, r.n); err != nil || want != int64(len(s)) {
				t.Fatalf("%s: SliceSize = %d, %v; slice is %d bytes", name, want, err, len(s))
			}
			ws, we, err := WidenRange(size, r.off, r.n)
			if err != nil || ws > r.off || we < r.off+r.n || ws%GroupSize != 0 || (we%GroupSize != 0 && we != size) {
				t.Fatalf("%s: WidenRange = %d, %d, %v", name, ws, we, err)
			}
			// Byte-identical to the reference extractor.
			var ref bytes.Buffer
			if err := bao.ExtractSlice(&ref, bytes.NewReader(b.data[ws:we]), bytes.NewReader(b.outboard), baoGroupLog, uint64(r.off), uint64(r.n)); err != nil {
				t.Fatalf("%s: bao.ExtractSlice: %v", name, err)
			}
			if !bytes.Equal(ref.Bytes(), s) {
				t.Fatalf("%s: slice differs from bao.ExtractSlice", name)
			}
			want := b.data[r.off : r.off+r.n]
			var got bytes.Buffer
			gotSize, err := VerifyRange(&got, bytes.NewReader(s), b.id, r.off, r.n)
			if err != nil || gotSize != size || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s: VerifyRange = %d, %v (got %d bytes)", name, gotSize, err, got.Len())
			}
			// The reference decoder accepts ours (it verifies nothing for empty content).
			if ok, err := bao.DecodeSlice(io.Discard, bytes.NewReader(s), baoGroupLog, uint64(r.off), uint64(r.n), b.id.Digest()); !ok || err != nil {
				t.Fatalf("%s: bao.DecodeSlice rejects our slice: %v", name, err)
			}
			// Streaming through a slow reader gives the same result.
			got.Reset()
			if _, err := VerifyRange(&got, iotest.OneByteReader(bytes.NewReader(s)), b.id, r.off, r.n); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s: VerifyRange via OneByteReader: %v", name, err)
			}
		}
	}
}

// checkPrefix fails unless got is a prefix of want: a verifier may stop
// early but must never write bytes that are not the content's.
func checkPrefix(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("%s: wrote %d bytes that are not a prefix of the range", name, len(got))
	}
}

func TestVerifyRangeRejectsEveryFlippedByte(t *testing.T) {
	b := newBlob(t, randomBytes(3, 5*GroupSize+77))
	size := int64(len(b.data))
	for _, r := range []rng{{GroupSize + 5, 2 * GroupSize}, {size - 10, 10}, {0, size}} {
		s := b.slice(t, r.off, r.n)
		want := b.data[r.off : r.off+r.n]
		step := 1
		if len(s) > 20000 {
			step = 97
		}
		for i := 0; i < len(s); i += step {
			bad := bytes.Clone(s)
			bad[i] ^= 0x40
			var got bytes.Buffer
			_, err := VerifyRange(&got, bytes.NewReader(bad), b.id, r.off, r.n)
			name := fmt.Sprintf("range %v flip %d", r, i)
			if err == nil && i < headerSize && r.off+r.n <= (size-1)/GroupSize*GroupSize {
				// The declared size is only proven when the range reaches the
				// last group; the bytes written must still be right.
				if !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("%s: wrong bytes accepted", name)
				}
				continue
			}
			if err == nil {
				t.Fatalf("%s: accepted", name)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadRange) {
				t.Fatalf("%s: error %v is neither ErrCorrupt nor ErrBadRange", name, err)
			}
			if i >= headerSize {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Start > r.off+r.n || ce.End < r.off || ce.End <= ce.Start {
					t.Fatalf("%s: want a CorruptError overlapping the range, got %v", name, err)
				}
			}
			checkPrefix(t, name, got.Bytes(), want)
		}
		// Truncation at every point and trailing garbage.
		for cut := 0; cut < len(s); cut += 1 + len(s)/300 {
			var got bytes.Buffer
			if _, err := VerifyRange(&got, bytes.NewReader(s[:cut]), b.id, r.off, r.n); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("range %v cut at %d: got %v, want ErrCorrupt", r, cut, err)
			}
			checkPrefix(t, "truncated", got.Bytes(), want)
		}
		if _, err := VerifyRange(io.Discard, bytes.NewReader(append(bytes.Clone(s), 0)), b.id, r.off, r.n); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trailing byte: got %v", err)
		}
	}
	// A slice for another range, or for other content, is rejected.
	s := b.slice(t, 0, GroupSize)
	if _, err := VerifyRange(io.Discard, bytes.NewReader(s), b.id, 3*GroupSize, GroupSize); err == nil {
		t.Fatal("slice for another range accepted")
	}
	other := newBlob(t, randomBytes(4, len(b.data)))
	if _, err := VerifyRange(io.Discard, bytes.NewReader(s), other.id, 0, GroupSize); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("slice for other content: %v", err)
	}
}

func TestEmptyContentRange(t *testing.T) {
	b := newBlob(t, nil)
	s := b.slice(t, 0, 0)
	if len(s) != headerSize {
		t.Fatalf("empty slice is %d bytes", len(s))
	}
	if n, err := VerifyRange(io.Discard, bytes.NewReader(s), b.id, 0, 0); err != nil || n != 0 {
		t.Fatalf("VerifyRange(empty) = %d, %v", n, err)
	}
	// An empty slice does not prove non-empty content.
	other := newBlob(t, []byte("x"))
	if _, err := VerifyRange(io.Discard, bytes.NewReader(s), other.id, 0, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("empty slice for non-empty id: %v", err)
	}
}

func TestBadRanges(t *testing.T) {
	for _, c := range []struct{ size, off, n int64 }{
		{10, -1, 1}, {10, 0, -1}, {10, 0, 0}, {10, 10, 0}, {10, 10, 1}, {10, 5, 6}, {10, 9223372036854775807, 1},
		{10, 1, 9223372036854775807}, {0, 0, 1}, {0, 1, 0}, {-1, 0, 0},
	} {
		if err := CheckRange(c.size, c.off, c.n); !errors.Is(err, ErrBadRange) {
			t.Errorf("CheckRange(%d, %d, %d) = %v", c.size, c.off, c.n, err)
		}
		if _, err := SliceSize(c.size, c.off, c.n); !errors.Is(err, ErrBadRange) {
			t.Errorf("SliceSize(%d, %d, %d) = %v", c.size, c.off, c.n, err)
		}
	}
	b := newBlob(t, randomBytes(5, 3*GroupSize))
	if err := ExtractRange(io.Discard, bytes.NewReader(b.data), bytes.NewReader(b.outboard), 3*GroupSize, 3*GroupSize, 1); !errors.Is(err, ErrBadRange) {
		t.Errorf("ExtractRange past the end: %v", err)
	}
	s := b.slice(t, 0, 10)
	if _, err := VerifyRange(io.Discard, bytes.NewReader(s), b.id, 0, 4*GroupSize); !errors.Is(err, ErrBadRange) {
		t.Errorf("VerifyRange beyond declared size: %v", err)
	}
	if _, err := VerifyRange(io.Discard, bytes.NewReader(s), b.id, -5, 10); !errors.Is(err, ErrBadRange) {
		t.Errorf("VerifyRange negative offset: %v", err)
	}
	// ExtractRange notices an outboard for a different size.
	if err := ExtractRange(io.Discard, bytes.NewReader(b.data), bytes.NewReader(b.outboard), 3*GroupSize-1, 0, 10); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ExtractRange with wrong size: %v", err)
	}
}

func TestReader(t *testing.T) {
	for i, n := range []int{0, 1, GroupSize, GroupSize + 1, 7*GroupSize + 3, 1 << 20} {
		b := newBlob(t, randomBytes(uint64(i+50), n))
		r := NewReader(bytes.NewReader(b.data), bytes.NewReader(b.outboard), b.id)
		if s, err := r.Size(); err != nil || s != int64(n) {
			t.Fatalf("size %d: Size = %d, %v", n, s, err)
		}
		got, err := io.ReadAll(iotest.HalfReader(r))
		if err != nil || !bytes.Equal(got, b.data) {
			t.Fatalf("size %d: ReadAll: %v", n, err)
		}
		var w bytes.Buffer
		if _, err := NewReader(bytes.NewReader(b.data), bytes.NewReader(b.outboard), b.id).WriteTo(&w); err != nil || !bytes.Equal(w.Bytes(), b.data) {
			t.Fatalf("size %d: WriteTo: %v", n, err)
		}
		if err := iotest.TestReader(NewReader(bytes.NewReader(b.data), bytes.NewReader(b.outboard), b.id), b.data); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if n == 0 {
			continue
		}
		// A flipped data byte is reported with the group that holds it.
		for _, at := range []int{0, n / 2, n - 1} {
			bad := bytes.Clone(b.data)
			bad[at] ^= 1
			got, err := io.ReadAll(NewReader(bytes.NewReader(bad), bytes.NewReader(b.outboard), b.id))
			var ce *CorruptError
			if !errors.As(err, &ce) || int64(at) < ce.Start || int64(at) >= ce.End || ce.End-ce.Start > GroupSize {
				t.Fatalf("size %d flip %d: %v", n, at, err)
			}
			checkPrefix(t, "reader", got, b.data)
		}
		for _, at := range []int{0, 8, len(b.outboard) - 1} {
			if at >= len(b.outboard) {
				continue
			}
			bad := bytes.Clone(b.outboard)
			bad[at] ^= 1
			if _, err := io.ReadAll(NewReader(bytes.NewReader(b.data), bytes.NewReader(bad), b.id)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("size %d outboard flip %d: %v", n, at, err)
			}
		}
		if _, err := io.ReadAll(NewReader(bytes.NewReader(b.data[:n-1]), bytes.NewReader(b.outboard), b.id)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("size %d truncated data: %v", n, err)
		}
		if _, err := io.ReadAll(NewReader(bytes.NewReader(append(bytes.Clone(b.data), 0)), bytes.NewReader(b.outboard), b.id)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("size %d trailing data: %v", n, err)
		}
		if _, err := io.ReadAll(NewReader(bytes.NewReader(b.data), bytes.NewReader(append(bytes.Clone(b.outboard), 0)), b.id)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("size %d trailing outboard: %v", n, err)
		}
	}
}

func TestCheckRanges(t *testing.T) {
	ok := [][]Range{nil, {{0, 10}}, {{5, 5}, {0, 5}}, {{0, 1}, {2, 3}, {9, 1}}}
	for _, rs := range ok {
		if err := CheckRanges(10, rs); err != nil {
			t.Errorf("CheckRanges(%v) = %v", rs, err)
		}
	}
	bad := [][]Range{{{0, 11}}, {{0, 5}, {4, 2}}, {{3, 3}, {0, 10}}, {{1, 2}, {1, 2}}, {{0, 1}, {-1, 1}}, {{0, 0}}}
	for _, rs := range bad {
		if err := CheckRanges(10, rs); !errors.Is(err, ErrBadRange) {
			t.Errorf("CheckRanges(%v) = %v, want ErrBadRange", rs, err)
		}
	}
	if err := CheckRanges(0, []Range{{0, 0}, {0, 0}}); !errors.Is(err, ErrBadRange) {
		t.Errorf("duplicate empty ranges: %v", err)
	}
}

func TestExtractRangeStoredCorruption(t *testing.T) {
	b := newBlob(t, randomBytes(8, 5*GroupSize+3))
	size := int64(len(b.data))
	for name, c := range map[string]struct{ data, ob []byte }{
		"short data":     {b.data[:size-1], b.outboard},
		"short outboard": {b.data, b.outboard[:len(b.outboard)-1]},
		"no outboard":    {b.data, nil},
		"header only":    {b.data, b.outboard[:8]},
	} {
		err := ExtractRange(io.Discard, bytes.NewReader(c.data), bytes.NewReader(c.ob), size, size-5, 5)
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want a CorruptError", name, err)
		}
	}
}

func TestReadErrorsAreNotCorruption(t *testing.T) {
	b := newBlob(t, randomBytes(9, 4*GroupSize))
	s := b.slice(t, 0, int64(len(b.data)))
	for _, cut := range []int{0, 4, 8, 100, len(s) / 2, len(s) - 1} {
		r := io.MultiReader(bytes.NewReader(s[:cut]), iotest.ErrReader(errBoom))
		_, err := VerifyRange(io.Discard, r, b.id, 0, int64(len(b.data)))
		if !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("slice read error at %d: %v, want errBoom and not ErrCorrupt", cut, err)
		}
		if cut >= len(b.outboard) {
			continue
		}
		ob := io.MultiReader(bytes.NewReader(b.outboard[:cut]), iotest.ErrReader(errBoom))
		if _, err := io.ReadAll(NewReader(bytes.NewReader(b.data), ob, b.id)); !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("outboard read error at %d: %v", cut, err)
		}
	}
	data := io.MultiReader(bytes.NewReader(b.data[:GroupSize+5]), iotest.ErrReader(errBoom))
	if _, err := io.ReadAll(NewReader(data, bytes.NewReader(b.outboard), b.id)); !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
		t.Errorf("data read error: %v", err)
	}
}
