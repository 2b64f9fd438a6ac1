package client_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/client"
)

// TestPutFileProgress: a file put with a declared id goes to the socket
// by sendfile, and its progress still ends at the file's size; the file
// stays open for its owner.
func TestPutFileProgress(t *testing.T) {
	c, _ := newProvenServer(t)
	b := randomBytes(3<<20+123, 11)
	path := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last int64
	info, err := c.Put(context.Background(), f, int64(len(b)), client.PutOptions{Progress: func(n int64) { last = n }})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Created || info.Size != int64(len(b)) || last != int64(len(b)) {
		t.Fatalf("info %+v, last progress %d, want %d", info, last, len(b))
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatalf("the caller's file was closed: %v", err)
	}
}
