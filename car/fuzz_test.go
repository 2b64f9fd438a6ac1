package car_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ipfs/boxo/files"

	"github.com/charter-dev/charter/car"
)

// FuzzCheckPaths feeds newline-separated path lists (from a dataset index
// or a user) to the path checks: they must not panic, must reject only with
// ErrBadPath, and anything they accept must export and read back intact.
func FuzzCheckPaths(f *testing.F) {
	for _, s := range []string{"a", "a\nb/c", "a\na/b", "x/../y", "/abs", "a//b", "ü/é", "a\na", ".hidden/x", "a.b/c.d\ne"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		paths := strings.Split(s, "\n")
		if len(paths) > 8 {
			return
		}
		err := car.CheckPaths(paths)
		var es []car.Entry
		for _, p := range paths {
			es = append(es, car.Entry{Path: p, Open: bytesOpener([]byte(p))})
		}
		src, derr := car.Dataset(es)
		if (err == nil) != (derr == nil) {
			t.Fatalf("CheckPaths = %v but Dataset = %v", err, derr)
		}
		if err != nil {
			if !errors.Is(err, car.ErrBadPath) {
				t.Fatalf("CheckPaths error %v does not wrap ErrBadPath", err)
			}
			return
		}
		var buf bytes.Buffer
		root, err := car.Root(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if err := car.Write(context.Background(), &buf, root, src); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		err = files.Walk(readBackBytes(t, buf.Bytes(), root), func(p string, nd files.Node) error {
			if f, ok := nd.(files.File); ok {
				b, err := io.ReadAll(f)
				got[p] = string(b)
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(paths) {
			t.Fatalf("read back %d files, want %d", len(got), len(paths))
		}
		for _, p := range paths {
			if got[p] != p {
				t.Fatalf("%q read back as %q", p, got[p])
			}
		}
	})
}
