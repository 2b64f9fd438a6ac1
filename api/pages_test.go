package api

import (
	"errors"
	"math"
	"testing"
)

func TestCursor(t *testing.T) {
	for _, pos := range []uint64{1, 2, 127, 128, 1 << 20, math.MaxUint64} {
		c := Cursor(pos)
		got, err := ParseCursor(c)
		if err != nil || got != pos {
			t.Fatalf("cursor %q of %d parses as %d, %v", c, pos, got, err)
		}
	}
	if Cursor(0) != "" {
		t.Fatal("position 0 has a cursor")
	}
	if pos, err := ParseCursor(""); pos != 0 || err != nil {
		t.Fatalf("empty cursor: %d, %v", pos, err)
	}
	for _, bad := range []string{"1", "AA", "gAA", "-1", "AQ==", "Ag=", "//", "AQE", "gICAgICAgICAgAE", "aGVsbG8gd29ybGQ"} {
		if pos, err := ParseCursor(bad); !errors.Is(err, ErrCursor) {
			t.Errorf("ParseCursor(%q) = %d, %v; want ErrCursor", bad, pos, err)
		}
	}
}

// FuzzParseCursor: a cursor that parses is the one Cursor makes of its
// position, and nothing else parses.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "AQ", "gAE", "__________8B", "AA", "gAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := ParseCursor(s)
		if err != nil {
			return
		}
		if Cursor(pos) != s {
			t.Fatalf("%q parses as %d, whose cursor is %q", s, pos, Cursor(pos))
		}
	})
}
