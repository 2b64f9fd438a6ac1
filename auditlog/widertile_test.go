package auditlog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
)

// widening reads tiles as tessera's MySQL driver does: one row per tile,
// overwritten as it grows, so a partial tile asked for at an older tree
// size comes back as wide as the tree is now.
type widening struct {
	TileReader
	size uint64
}

func (w widening) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	if p != 0 {
		p = layout.PartialTileSize(level, index, w.size)
	}
	return w.TileReader.ReadTile(ctx, level, index, p)
}

// TestProveUnderOlderCheckpointWiderTiles proves entries under a
// checkpoint older than the tree when the storage hands back tiles wider
// than the checkpoint's partial tiles (another replica appended meanwhile):
// the proof uses the first hashes of the wider tile and verifies.
func TestProveUnderOlderCheckpointWiderTiles(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, "example.com/wider")
	l := openLog(t, t.TempDir(), s)
	appendN(t, l, 0, 261)
	old, err := l.Checkpoint(ctx)
	if err != nil || old.Size != 261 {
		t.Fatalf("checkpoint %d, %v; want 261", old.Size, err)
	}
	appendN(t, l, 261, 100)
	entries := map[uint64]Entry{}
	for rec, err := range l.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		entries[rec.Index] = rec.Entry
	}
	l.trees.r = widening{TileReader: l.reader, size: 361}
	for _, i := range []uint64{0, 200, 258, 260} {
		e := entries[i]
		r, err := l.ProveEntryUnder(ctx, old, i, e.Type, e.Payload)
		if err != nil {
			t.Fatalf("entry %d under the checkpoint of size 261: %v", i, err)
		}
		if _, _, err := VerifyReceipt(r.Entry, r.Proof, l.VerifierKey()); err != nil {
			t.Fatalf("entry %d: the proof does not verify: %v", i, err)
		}
	}
}

// countingTiles counts the tile reads per (level, index) and answers them
// as the MySQL driver does (widening).
type countingTiles struct {
	widening
	mu    sync.Mutex
	reads map[[2]uint64]int
}

func (c *countingTiles) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	c.mu.Lock()
	c.reads[[2]uint64{level, index}]++
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // let concurrent proofs find the read under way
	return c.widening.ReadTile(ctx, level, index, p)
}

// TestTileTreesReadOnce proves many entries at once, then under an older,
// smaller checkpoint: every tile is read once (concurrent proofs share the
// read), and the wider tile read for the newer checkpoint serves the older
// one's narrower partial tile without another read. Every proof verifies.
func TestTileTreesReadOnce(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, "example.com/readonce")
	l := openLog(t, t.TempDir(), s)
	appendN(t, l, 0, 300)
	old, err := l.Checkpoint(ctx)
	if err != nil || old.Size != 300 {
		t.Fatalf("checkpoint %d, %v; want 300", old.Size, err)
	}
	appendN(t, l, 300, 100)
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 400 {
		t.Fatalf("checkpoint %d, %v; want 400", cp.Size, err)
	}
	entries := map[uint64]Entry{}
	for rec, err := range l.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		entries[rec.Index] = rec.Entry
	}
	ct := &countingTiles{widening: widening{TileReader: l.reader, size: 400}, reads: map[[2]uint64]int{}}
	l.trees.r = ct
	prove := func(cp Checkpoint, i uint64) error {
		e := entries[i]
		r, err := l.ProveEntryUnder(ctx, cp, i, e.Type, e.Payload)
		if err != nil {
			return fmt.Errorf("entry %d under the checkpoint of size %d: %v", i, cp.Size, err)
		}
		if _, _, err := VerifyReceipt(r.Entry, r.Proof, l.VerifierKey()); err != nil {
			return fmt.Errorf("entry %d: the proof does not verify: %v", i, err)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range uint64(64) {
		wg.Go(func() {
			if err := prove(cp, i*6); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for k, n := range ct.reads {
		if n != 1 {
			t.Errorf("tile %d/%d read %d times, want once", k[0], k[1], n)
		}
	}
	before := len(ct.reads)
	for _, i := range []uint64{0, 200, 256, 290, 299} {
		if err := prove(old, i); err != nil {
			t.Fatal(err)
		}
	}
	for k, n := range ct.reads {
		if n != 1 {
			t.Errorf("tile %d/%d read %d times after the older checkpoint's proofs, want once", k[0], k[1], n)
		}
	}
	if len(ct.reads) != before {
		t.Errorf("the older checkpoint's proofs read %d more tiles", len(ct.reads)-before)
	}
}
