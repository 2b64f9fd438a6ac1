package content

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestIndexDeltaRoundTrip: for random pairs of indexes, the delta Diff
// writes survives Encode and ParseIndexDelta and turns the old index into
// exactly the new one, and it is small when little changed.
func TestIndexDeltaRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) *Index {
		files := make([]File, 0, n)
		for i := range n {
			files = append(files, File{Path: fmt.Sprintf("d%d/f%05d", i%7, i), Size: int64(rng.IntN(100)), ID: idOf(fmt.Sprint(rng.IntN(1000)))})
		}
		x, err := NewIndex(files)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for round := range 50 {
		old := random(rng.IntN(200))
		files := append([]File{}, old.Files...)
		// Change, remove and add some files.
		for i := range files {
			if rng.IntN(10) == 0 {
				files[i].ID = idOf(fmt.Sprint("changed", round, i))
			}
		}
		kept := files[:0]
		for _, f := range files {
			if rng.IntN(20) != 0 {
				kept = append(kept, f)
			}
		}
		for i := range rng.IntN(5) {
			kept = append(kept, File{Path: fmt.Sprintf("new/%d/%d", round, i), Size: 3, ID: idOf("new")})
		}
		nw, err := NewIndex(kept)
		if err != nil {
			t.Fatal(err)
		}
		oldEnc, _ := old.Encode()
		d := Diff(idOf(string(oldEnc)), old, nw)
		enc, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseIndexDelta(enc)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, enc)
		}
		got, err := back.Apply(old)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !reflect.DeepEqual(got.Files, nw.Files) && !(len(got.Files) == 0 && len(nw.Files) == 0) {
			t.Fatalf("round %d: applied delta differs from the new index", round)
		}
	}
}

// TestIndexDeltaRefuses: deltas that do not apply, or are malformed.
func TestIndexDeltaRefuses(t *testing.T) {
	base, _ := NewIndex([]File{{Path: "a", Size: 1, ID: idOf("a")}, {Path: "c", Size: 1, ID: idOf("c")}})
	for name, d := range map[string]*IndexDelta{
		"remove missing":  {Base: idOf("b"), Remove: []string{"b"}},
		"remove past end": {Base: idOf("b"), Remove: []string{"z"}},
		"file and folder": {Base: idOf("b"), Put: []File{{Path: "a/x", Size: 1, ID: idOf("x")}}},
	} {
		if _, err := d.Apply(base); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%s: %v, want ErrBadIndex", name, err)
		}
	}
	for _, s := range []string{
		`{}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"x","remove":[],"put":[]}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":["b","a"],"put":[]}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":["a"],"put":[{"path":"a","size":1,"id":"` + idOf("a").String() + `"}]}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":[],"put":[{"path":"../a","size":1,"id":"` + idOf("a").String() + `"}]}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":[],"put":[{"path":"a","id":"` + idOf("a").String() + `"}]}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":[],"put":[],"extra":1}`,
		`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"` + idOf("b").String() + `","remove":[]}`,
	} {
		if _, err := ParseIndexDelta([]byte(s)); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%s: %v, want ErrBadIndex", s, err)
		}
	}
}

func FuzzParseIndexDelta(f *testing.F) {
	old, _ := NewIndex([]File{{Path: "a", Size: 1, ID: idOf("a")}, {Path: "c/d", Size: 2, ID: idOf("c")}})
	nw, _ := NewIndex([]File{{Path: "b", Size: 1, ID: idOf("b")}, {Path: "c/d", Size: 3, ID: idOf("c2")}})
	enc, _ := Diff(idOf("old"), old, nw).Encode()
	f.Add(enc)
	f.Add([]byte(`{"mediaType":"application/vnd.charter.dataset-delta+json","base":"b","remove":[],"put":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseIndexDelta(b)
		if err != nil {
			if !errors.Is(err, ErrBadIndex) {
				t.Fatalf("error does not wrap ErrBadIndex: %v", err)
			}
			return
		}
		again, err := d.Encode()
		if err != nil {
			t.Fatalf("parsed delta does not encode: %v", err)
		}
		d2, err := ParseIndexDelta(again)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("delta does not round-trip: %v", err)
		}
		// Applying it to any index never panics.
		d.Apply(old)
	})
}
