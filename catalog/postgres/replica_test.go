package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
)

// TestWatchWatermark: a process watching the watermark learns of entries
// another process (another Catalog on the same schema) applies, never
// reads one above the stored watermark, and falls back to reading it when
// its listening connection is gone.
func TestWatchWatermark(t *testing.T) {
	schema := newSchema(t)
	a, b := openSchema(t, schema), openSchema(t, schema)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := b.WatchWatermark(ctx)
	nop := func(catalog.Tx) error { return nil }
	for i := range uint64(5) {
		if errs := a.UpdateSeq(ctx, []catalog.Change{{Index: i, Fn: nop}}); errs[0] != nil {
			t.Fatal(errs[0])
		}
		stored, err := a.Watermark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stored != i+1 {
			t.Fatalf("stored watermark %d after applying entry %d", stored, i)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			w, err := watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w > stored {
				t.Fatalf("watched watermark %d above the stored %d", w, stored)
			}
			if w == stored {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watched watermark stayed at %d, stored is %d", w, stored)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// With its connection gone the watch reads the database.
	cancel()
	if errs := a.UpdateSeq(context.Background(), []catalog.Change{{Index: 5, Fn: nop}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if w, err := watch(context.Background()); err != nil || w != 6 {
		t.Fatalf("watch after its connection closed: %d, %v; want 6 (read from the database)", w, err)
	}
}
