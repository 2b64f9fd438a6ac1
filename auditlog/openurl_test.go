package auditlog

import (
	"context"
	"strings"
	"testing"
)

// TestOpenURLRefuses: locations OpenURL cannot open are refused with a
// message that says how to write one.
func TestOpenURLRefuses(t *testing.T) {
	s := newSigner(t, DefaultOrigin)
	for _, tc := range []struct{ loc, want string }{
		{"s3://bucket/log", `no log driver for "s3"`},
		{"mysql://charter@tcp(127.0.0.1:3306)/", "names no database"},
		{"mysql://charter@tcp(127.0.0.1:3306", "bad data source name"},
	} {
		_, err := OpenURL(context.Background(), tc.loc, s, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hint:") {
			t.Errorf("OpenURL(%q): %v, want %q and a hint", tc.loc, err, tc.want)
		}
	}
}

// TestOpenURLFile: file:// and a plain path open the same POSIX log.
func TestOpenURLFile(t *testing.T) {
	dir := t.TempDir()
	s := newSigner(t, DefaultOrigin)
	l := openAt(t, SchemeFile+dir, s, Options{})
	appendN(t, l, 0, 3)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cp, err := openAt(t, dir, s, Options{}).Checkpoint(context.Background())
	if err != nil || cp.Size != 3 {
		t.Fatalf("reopened by path: size %d, %v", cp.Size, err)
	}
}
