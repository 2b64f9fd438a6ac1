package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

// TestUpdateSeqWatermark checks the bookkeeping of which log entries are
// applied (the watermark moved in memory, log_applied for the rest)
// against a model, over random batches: entries in and out of order,
// repeated, riding along with another (MarkApplied), without effect
// (undone, still applied) and failing (undone, not applied). After every
// batch, Applied must say exactly what the model says, and every entry
// must have left its trail row exactly when it took effect; the catalog is
// reopened now and then.
func TestUpdateSeqWatermark(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testWatermark(t, seed) })
	}
}

func testWatermark(t *testing.T, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 9))
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	a, err := asset.ParseID(content.IDFromDigest([32]byte{1}).String())
	if err != nil {
		t.Fatal(err)
	}
	applied := map[uint64]bool{} // the model
	effect := map[uint64]bool{}  // entries whose trail row must exist
	const span = 48
	for round := range 60 {
		n := 1 + rng.IntN(12)
		var changes []catalog.Change
		type want struct {
			idx uint64
			err error
		}
		var wants []want
		// What the model expects, entry by entry, in batch order.
		pending := map[uint64]bool{}
		for range n {
			idx := uint64(rng.IntN(span))
			var ride []uint64
			for range rng.IntN(3) {
				ride = append(ride, uint64(rng.IntN(span)))
			}
			outcome := rng.IntN(6) // 0: no effect, 1: fails, else applies
			var w error
			switch {
			case applied[idx] || pending[idx]:
				w = catalog.ErrApplied
			case outcome == 0:
				w = catalog.ErrNoEffect
				pending[idx] = true
			case outcome == 1:
				w = errBoom
			default:
				pending[idx] = true
				for _, r := range ride {
					pending[r] = true
				}
				effect[idx] = true
			}
			wants = append(wants, want{idx, w})
			changes = append(changes, catalog.Change{Index: idx, Fn: func(tx catalog.Tx) error {
				for _, r := range ride {
					if err := tx.MarkApplied(r); err != nil {
						return err
					}
				}
				if err := tx.Trail(a, idx, "test", "applied"); err != nil {
					return err
				}
				switch outcome {
				case 0:
					return fmt.Errorf("entry %d: %w", idx, catalog.ErrNoEffect)
				case 1:
					return fmt.Errorf("entry %d: %w", idx, errBoom)
				}
				return nil
			}})
		}
		errs := c.UpdateSeq(ctx, changes)
		for i, w := range wants {
			if w.err == nil && errs[i] != nil || w.err != nil && !errors.Is(errs[i], w.err) {
				t.Fatalf("round %d, entry %d (#%d of the batch): got %v, want %v", round, w.idx, i, errs[i], w.err)
			}
		}
		for i := range pending {
			applied[i] = true
		}
		next, above, err := c.Applied(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wantNext uint64
		for applied[wantNext] {
			wantNext++
		}
		var gotAbove, wantAbove []uint64
		for i := range above {
			gotAbove = append(gotAbove, i)
		}
		for i := range applied {
			if i >= wantNext {
				wantAbove = append(wantAbove, i)
			}
		}
		slices.Sort(gotAbove)
		slices.Sort(wantAbove)
		if next != wantNext || !slices.Equal(gotAbove, wantAbove) {
			t.Fatalf("round %d: applied below %d and %v, want below %d and %v", round, next, gotAbove, wantNext, wantAbove)
		}
		trail, err := c.Trail(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, e := range trail {
			got = append(got, e.LogIndex)
		}
		var wantTrail []uint64
		for i := range effect {
			wantTrail = append(wantTrail, i)
		}
		slices.Sort(wantTrail)
		if !slices.Equal(got, wantTrail) {
			t.Fatalf("round %d: trail rows %v, want %v (entries that took effect)", round, got, wantTrail)
		}
		if rng.IntN(8) == 0 {
			c.Close()
			if c, err = Open(ctx, path); err != nil {
				t.Fatal(err)
			}
		}
	}
}

var errBoom = errors.New("applier failed")
