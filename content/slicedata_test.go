package content

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// TestSliceData checks SliceData against the verifier: for every prefix of
// a real slice, the bytes VerifyRange can prove from that prefix are
// exactly the requested bytes inside the complete groups SliceData counts;
// the count never falls, grows by at most one per slice byte, and the whole
// slice carries the whole widened range.
func TestSliceData(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 60 {
		size := r.Int64N(5*GroupSize + 1)
		if trial%7 == 0 {
			size = int64(r.IntN(3)+1) * GroupSize
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		var ob bytes.Buffer
		info, err := Ingest(t.Context(), bytes.NewReader(data), io.Discard, &ob)
		if err != nil {
			t.Fatal(err)
		}
		off := r.Int64N(size + 1)
		n := r.Int64N(size - off + 1)
		var slice bytes.Buffer
		if err := ExtractRange(&slice, bytes.NewReader(data), bytes.NewReader(ob.Bytes()), size, off, n); err != nil {
			t.Fatal(err)
		}
		ws, we, _ := WidenRange(size, off, n)
		prev := int64(0)
		for k := int64(0); k <= int64(slice.Len()); k++ {
			d, err := SliceData(size, off, n, k)
			if err != nil {
				t.Fatal(err)
			}
			if d < prev || d > prev+1 || d > we-ws {
				t.Fatalf("size %d range %d+%d: prefix %d carries %d data bytes after %d", size, off, n, k, d, prev)
			}
			prev = d
			if k%97 != 0 && k != int64(slice.Len()) {
				continue
			}
			// Complete groups among the data counted.
			full := ws + d
			if full < we {
				full = ws + (d/GroupSize)*GroupSize
			}
			want := max(0, min(full, off+n)-off)
			var out bytes.Buffer
			VerifyRange(&out, bytes.NewReader(slice.Bytes()[:k]), info.ID, off, n)
			if int64(out.Len()) != want {
				t.Fatalf("size %d range %d+%d prefix %d: SliceData %d (complete to %d) but %d bytes verify", size, off, n, k, d, full, out.Len())
			}
		}
		if prev != we-ws {
			t.Fatalf("whole slice carries %d data bytes, want %d", prev, we-ws)
		}
	}
}

func FuzzSliceData(f *testing.F) {
	f.Add(int64(100000), int64(5000), int64(70000), int64(3000))
	f.Add(int64(0), int64(0), int64(0), int64(8))
	f.Add(int64(1<<40), int64(1<<30), int64(1<<20), int64(1<<19))
	f.Fuzz(func(t *testing.T, size, off, n, k int64) {
		d, err := SliceData(size, off, n, k)
		if err != nil {
			return
		}
		ws, we, _ := WidenRange(size, off, n)
		if d < 0 || d > we-ws {
			t.Fatalf("SliceData(%d, %d, %d, %d) = %d outside [0, %d]", size, off, n, k, d, we-ws)
		}
		if total, _ := SliceSize(size, off, n); k >= total && d != we-ws {
			t.Fatalf("whole slice carries %d, want %d", d, we-ws)
		}
	})
}
