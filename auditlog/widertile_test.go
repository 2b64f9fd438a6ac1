package auditlog

import (
	"context"
	"testing"

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
	l.tiles.r = widening{TileReader: l.reader, size: 361}
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
