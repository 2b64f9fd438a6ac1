package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
)

// TestUploadCutByCrashRecorded: a crash between storing an upload's blob
// and recording it in the catalog leaves a blob the catalog lacks (the
// kill -9 simulation found it: "catalog differs from the replay of the
// log: 1 rows missing (object ... blob)"). The next start records it, so
// the catalog equals its rebuild again and admin check is clean.
func TestUploadCutByCrashRecorded(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t, Config{SessionIdle: time.Hour})
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the crash left: the blob stored, its record never written.
	store, err := localfs.Open(ctx, filepath.Join(m.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 70000)
	rand.Read(b)
	info, err := blob.Put(ctx, store, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := any(store).(interface{ Close() error }); ok {
		c.Close()
	}
	m.start(quietConfig(m.dir))
	for deadline := time.Now().Add(10 * time.Second); ; {
		o, err := m.s.cat.Object(ctx, info.ID)
		if err == nil {
			if o.Size != info.Size {
				t.Fatalf("recorded with size %d, stored %d", o.Size, info.Size)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stored blob was not recorded after the restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := CheckCatalog(ctx, quietConfig(m.dir)); err != nil || !rep.Clean() {
		t.Fatalf("admin check: %v %+v", err, rep)
	}
}
