package blob_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/memstore"
	"github.com/charter-dev/charter/blob/storagetest"
)

// recorder wraps a store and records the keys committed, in order, failing
// the commit of failOn.
type recorder struct {
	*memstore.Store
	commits []blob.Key
	failOn  *blob.Part
}

func (r *recorder) Stage(ctx context.Context) (blob.Staged, error) {
	st, err := r.Store.Stage(ctx)
	return &recStaged{Staged: st, r: r}, err
}

type recStaged struct {
	blob.Staged
	r *recorder
}

var errInjected = errors.New("injected commit failure")

func (s *recStaged) Commit(ctx context.Context, k blob.Key) error {
	if s.r.failOn != nil && *s.r.failOn == k.Part {
		s.Staged.Abort()
		return errInjected
	}
	s.r.commits = append(s.r.commits, k)
	return s.Staged.Commit(ctx, k)
}

func TestPutCommitsOutboardFirst(t *testing.T) {
	r := &recorder{Store: memstore.New()}
	info, err := blob.Put(context.Background(), r, bytes.NewReader([]byte("order")), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []blob.Key{{ID: info.ID, Part: blob.Outboard}, {ID: info.ID, Part: blob.Data}}
	if len(r.commits) != 2 || r.commits[0] != want[0] || r.commits[1] != want[1] {
		t.Fatalf("commits %v, want %v", r.commits, want)
	}
}

func TestPutCommitFailure(t *testing.T) {
	ctx := context.Background()
	b := []byte("fails")
	id := storagetest.IDOf(b)
	for _, p := range []blob.Part{blob.Outboard, blob.Data} {
		r := &recorder{Store: memstore.New(), failOn: &p}
		if _, err := blob.Put(ctx, r, bytes.NewReader(b), nil); !errors.Is(err, errInjected) {
			t.Fatalf("failing %v commit: Put = %v", p, err)
		}
		// The data part is never visible without success.
		if _, err := r.Stat(ctx, blob.Key{ID: id, Part: blob.Data}); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("failing %v commit left data: %v", p, err)
		}
		// A retry completes the blob.
		r.failOn = nil
		if _, err := blob.Put(ctx, r, bytes.NewReader(b), &id); err != nil {
			t.Fatalf("retry: %v", err)
		}
	}
}

// stagerOnly has no Stat, so Put cannot skip reading.
type stagerOnly struct{ s *memstore.Store }

func (s stagerOnly) Stage(ctx context.Context) (blob.Staged, error) { return s.s.Stage(ctx) }

func TestPutStagerOnly(t *testing.T) {
	ctx := context.Background()
	m := memstore.New()
	b := storagetest.Bytes(1, 5000)
	id := storagetest.IDOf(b)
	for range 2 {
		info, err := blob.Put(ctx, stagerOnly{m}, bytes.NewReader(b), &id)
		if err != nil || info.ID != id || info.Size != int64(len(b)) {
			t.Fatalf("Put through a plain Stager = %v, %v", info, err)
		}
	}
}

func TestKeyString(t *testing.T) {
	id := storagetest.IDOf([]byte("k"))
	if got := (blob.Key{ID: id, Part: blob.Data}).String(); got != id.String() {
		t.Errorf("data key = %q", got)
	}
	if got := (blob.Key{ID: id, Part: blob.Outboard}).String(); got != id.String()+".obao" {
		t.Errorf("outboard key = %q", got)
	}
	if blob.Part(7).Valid() || blob.Part(7).String() != "part(7)" {
		t.Error("Part(7) is valid or misprinted")
	}
}

func TestDeleteMissingOutboard(t *testing.T) {
	ctx := context.Background()
	m := memstore.New()
	info, err := blob.Put(ctx, m, bytes.NewReader([]byte("x")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, blob.Key{ID: info.ID, Part: blob.Outboard}); err != nil {
		t.Fatal(err)
	}
	if err := blob.Delete(ctx, m, info.ID); err != nil {
		t.Fatalf("Delete with the outboard already gone = %v", err)
	}
}
