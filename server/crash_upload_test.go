package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
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

// leaveAfterCommit is a blob store whose data commits cancel the request
// they serve once done: the client went away right after the bytes were
// stored.
type leaveAfterCommit struct {
	blob.Store
	cancel context.CancelFunc
}

func (l *leaveAfterCommit) Stage(ctx context.Context) (blob.Staged, error) {
	st, err := l.Store.Stage(ctx)
	return &cancelOnCommit{Staged: st, cancel: l.cancel}, err
}

type cancelOnCommit struct {
	blob.Staged
	cancel context.CancelFunc
}

func (c *cancelOnCommit) Commit(ctx context.Context, k blob.Key) error {
	err := c.Staged.Commit(ctx, k)
	if k.Part == blob.Data {
		c.cancel()
	}
	return err
}

// TestUploadRecordedWhenClientLeaves: an upload whose client goes away
// once its bytes are stored is recorded all the same (it was stored with
// no record until the next start, and admin check reported the
// difference; the simulation found it in restart-mid-burst).
func TestUploadRecordedWhenClientLeaves(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	b := make([]byte, 5000)
	rand.Read(b)
	digest, err := httpsig.ContentDigest(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.s.blobs = &leaveAfterCommit{Store: m.s.blobs, cancel: cancel}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, m.hs.URL+"/v1/blobs", bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(httpsig.ContentDigestHeader, digest)
	if err := httpsig.Sign(req, m.ann, time.Now()); err != nil {
		t.Fatal(err)
	}
	m.s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	id := content.IDFromDigest(blake3.Sum256(b))
	if _, err := m.s.cat.Object(context.Background(), id); err != nil {
		t.Fatalf("stored but not recorded once the client left: %v", err)
	}
}
