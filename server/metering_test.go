package server

import (
	"math/rand/v2"
	"testing"
)

// TestAddRangeMatchesBitmap merges random ranges and compares the result
// with a bitmap of the bytes covered: sorted, disjoint, not touching, and
// covering exactly the bytes served (below the collapse limit).
func TestAddRangeMatchesBitmap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		const size = 512
		var rs [][2]int64
		var bits [size]bool
		for range r.IntN(40) + 1 {
			a := r.Int64N(size)
			b := a + r.Int64N(min(size-a, 48)+1)
			if a == b {
				continue
			}
			rs = addRange(rs, a, b)
			for i := a; i < b; i++ {
				bits[i] = true
			}
		}
		var want [][2]int64
		for i := int64(0); i < size; i++ {
			if bits[i] && (i == 0 || !bits[i-1]) {
				want = append(want, [2]int64{i, i})
			}
			if bits[i] {
				want[len(want)-1][1] = i + 1
			}
		}
		if len(rs) != len(want) {
			t.Fatalf("trial %d: got %v, want %v", trial, rs, want)
		}
		for i := range rs {
			if rs[i] != want[i] {
				t.Fatalf("trial %d: got %v, want %v", trial, rs, want)
			}
		}
	}
}

// TestAddRangeCollapses: past the per-content limit the ranges become
// their hull, so a hostile client cannot grow a session without bound.
func TestAddRangeCollapses(t *testing.T) {
	var rs [][2]int64
	for i := range int64(maxRangesPerContent + 1) {
		rs = addRange(rs, i*10, i*10+1)
	}
	if len(rs) != 1 || rs[0] != [2]int64{0, maxRangesPerContent*10 + 1} {
		t.Fatalf("got %d ranges, first %v", len(rs), rs[0])
	}
}

func FuzzSessionID(f *testing.F) {
	for _, s := range []string{"0123456789abcdef", "", "a b", "anonymous", "x/../y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validSession(s) {
			return
		}
		if len(s) == 0 || len(s) > 64 {
			t.Fatalf("accepted session id of %d bytes", len(s))
		}
		for _, c := range s {
			if c == '/' || c == ' ' || c > 0x7e {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
