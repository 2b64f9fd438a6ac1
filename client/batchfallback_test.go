package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

// TestDatasetWithoutBatches: against a server without POST /v1/blobs/batch
// and /v1/blobs/batch-read (404, as before they existed), a dataset of
// several batches of small files is still put and got whole, one file at a
// time, though every batch was tried at once.
func TestDatasetWithoutBatches(t *testing.T) {
	var refused atomic.Int64
	c := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/blobs/batch" || r.URL.Path == "/v1/blobs/batch-read" {
				refused.Add(1)
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	src := t.TempDir()
	n := client.BatchFiles + 10 // two batches each way
	for i := range n {
		b := randomBytes(100, byte(i))
		b[0], b[1] = byte(i), byte(i>>8)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, idx, err := c.PutDir(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Files) != n {
		t.Fatalf("index of %d files, want %d", len(idx.Files), n)
	}
	id, _ := content.ParseID(info.ID)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := c.GetDataset(ctx, id, out, client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range idx.Files {
		want, _ := os.ReadFile(filepath.Join(src, f.Path))
		got, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s restored wrong (%v)", f.Path, err)
		}
	}
	if refused.Load() == 0 {
		t.Fatal("the batch endpoints were never asked")
	}
}
