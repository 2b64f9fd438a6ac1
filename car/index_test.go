package car_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ipfs/boxo/files"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/memstore"
	"github.com/charter-dev/charter/car"
	"github.com/charter-dev/charter/content"
)

// TestFromIndex exports a dataset stored in a blob store, read through
// blob.Get, and reads it back.
func TestFromIndex(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	want := map[string][]byte{
		"a.txt":     []byte("alpha"),
		"dir/b.bin": randBytes(9, car.ChunkSize+3),
	}
	var fs []content.File
	for p, b := range want {
		info, err := blob.Put(ctx, s, bytes.NewReader(b), nil)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, content.File{Path: p, Size: info.Size, ID: info.ID})
	}
	idx, err := content.NewIndex(fs)
	if err != nil {
		t.Fatal(err)
	}
	get := func(ctx context.Context, id content.ID) (io.ReadCloser, error) { return blob.Get(ctx, s, id) }
	src, err := car.FromIndex(idx, get)
	if err != nil {
		t.Fatal(err)
	}
	path, root := export(t, src)
	checkCAR(t, path, root)
	n := 0
	err = files.Walk(readBack(t, path, root), func(p string, nd files.Node) error {
		if f, ok := nd.(files.File); ok {
			b, _ := io.ReadAll(f)
			if !bytes.Equal(b, want[p]) {
				t.Errorf("%s differs", p)
			}
			n++
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("walked %d files: %v", n, err)
	}

	// A single blob exports like car.File of its bytes.
	one, err := car.Root(ctx, car.FromContent(fs[0].ID, get))
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := car.Root(ctx, car.File(bytesOpener(want[fs[0].Path])))
	if !one.Equals(direct) {
		t.Fatalf("FromContent root %s, File root %s", one, direct)
	}
}
