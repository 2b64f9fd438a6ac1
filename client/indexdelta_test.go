package client_test

import (
	"context"
	"fmt"
	"github.com/charter-dev/charter/api"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/charter-dev/charter/content"
)

// TestPutDirIndexDelta: a new version of a dataset of 10 KB files with 1%
// of its files changed, put by a client that holds the previous index,
// sends the changed files and a delta of the index: at most 1.5% of the
// dataset's bytes (issue 14), and the server stores the same index the
// client built. CHARTER_DELTA_FILES sets the number of files (default
// 1,000; the figure is for 10,000).
//
//	CHARTER_DELTA_FILES=10000 go test ./client -run TestPutDirIndexDelta -v
func TestPutDirIndexDelta(t *testing.T) {
	files := 1000
	if v := os.Getenv("CHARTER_DELTA_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("CHARTER_DELTA_FILES=%q: want a number of files, at least 100", v)
		}
		files = n
	}
	var bc bodyCounter
	c, _ := newProvenServerWrapped(t, bc.wrap)
	ctx := context.Background()
	dir := t.TempDir()
	const size = 10 << 10
	var total int64
	name := func(i int) string {
		return filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%06d.bin", i))
	}
	for i := range files {
		p := name(i)
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := randomBytes(size, byte(i))
		b[0], b[1], b[2] = byte(i), byte(i>>8), byte(i>>16)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += size
	}
	v1, idx1, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var changed int64
	for i := 0; i < files; i += 100 {
		b, _ := os.ReadFile(name(i))
		b[3] ^= 0xff
		os.WriteFile(name(i), b, 0o644)
		changed += int64(len(b))
	}
	bc.bytes.Store(0)
	bc.uploads.Store(0)
	v2, idx2, err := c.WithIndexBase(idx1).PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := idx2.Encode()
	delta, _ := content.Diff(mustID(t, v1.ID), idx1, idx2).Encode()
	sent := bc.bytes.Load()
	t.Logf("%d files, 1%% changed: sent %d bytes = %.3f%% of the dataset's %d (changed files %d, index delta %d; the whole index would be %d = %.2f%%)",
		files, sent, 100*float64(sent)/float64(total), total, changed, len(delta), len(raw), 100*float64(len(raw))/float64(total))
	// The changed files go in one batch upload, a header line
	// (api.MaxBatchHeader bytes at most) before each.
	framing := int64(files/100) * api.MaxBatchHeader
	if sent < changed+int64(len(delta)) || sent > changed+int64(len(delta))+framing {
		t.Fatalf("sent %d bytes, want the changed files' %d and the delta's %d", sent, changed, len(delta))
	}
	if float64(sent) > 0.015*float64(total) {
		t.Fatalf("sent %.2f%% of the dataset, want at most 1.5%%", 100*float64(sent)/float64(total))
	}
	// The server stored the index the client built, byte for byte.
	got, err := c.FetchIndex(ctx, mustID(t, v2.ID))
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := got.Encode(); string(back) != string(raw) {
		t.Fatal("the stored index differs from the one the client built")
	}

	// A base the server does not hold: the whole index is sent.
	stranger, _ := content.NewIndex(append([]content.File{{Path: "zz-never-stored", Size: 1, ID: idx1.Files[0].ID}}, idx1.Files...))
	b, _ := os.ReadFile(name(1))
	b[3] ^= 0xff
	os.WriteFile(name(1), b, 0o644)
	bc.bytes.Store(0)
	_, idx3, err := c.WithIndexBase(stranger).PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw3, _ := idx3.Encode()
	if n := bc.bytes.Load(); n < int64(len(raw3)) {
		t.Fatalf("with a base the server lacks, sent %d bytes, less than the whole index's %d", n, len(raw3))
	}
}

func mustID(t *testing.T, s string) content.ID {
	t.Helper()
	id, err := content.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
