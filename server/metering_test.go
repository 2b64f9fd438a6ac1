package server

import (
	"errors"
	"net/http"
	"testing"
)

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

// FuzzByteRange: whatever the Range header, a served range lies inside
// the content and is not empty; refusals are 416 problems.
func FuzzByteRange(f *testing.F) {
	for _, s := range []string{"", "bytes=0-99", "bytes=-5", "bytes=10-", "bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=-0", "bytes= 1-2", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		off, n, partial, err := parseByteRange(h, size)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("%q: %v", h, err)
			}
			return
		}
		if !partial {
			if off != 0 || n != size {
				t.Fatalf("%q: whole body as %d+%d of %d", h, off, n, size)
			}
			return
		}
		if off < 0 || n < 1 || off > size-n {
			t.Fatalf("%q: range %d+%d of %d", h, off, n, size)
		}
	})
}
