package auditlog

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

// tileTrees builds inclusion proofs from tiles whose internal subtrees are
// hashed once and kept: a proof needs up to eight nodes inside each tile on
// its path, and tessera's proof builder rehashes up to 255 leaves to get
// them, per proof. Tiles never change once written, so neither do their
// subtrees. Every proof is still verified against the checkpoint by the
// caller (receipt), so a wrong node cannot produce a wrong receipt.
type tileTrees struct {
	tiles *tileCache
	mu    sync.Mutex
	trees map[[3]uint64][][][]byte // (tile level, tile index, width) -> levels of hashes
	order [][3]uint64
}

const tileTreesSize = 512

// inclusion returns the RFC 6962 inclusion proof of leaf index in the tree
// of the given size.
func (t *tileTrees) inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		if hashes[i], err = t.node(ctx, id, size); err != nil {
			return nil, err
		}
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// node returns the hash of a complete subtree of the tree of size.
func (t *tileTrees) node(ctx context.Context, id compact.NodeID, size uint64) ([]byte, error) {
	tl := uint64(id.Level / 8)
	sub := id.Level % 8
	first := id.Index << sub // first node of the tile's bottom row it covers
	ti := first / bundleWidth
	rowLen := size >> (8 * tl) // complete nodes at the tile's bottom level
	width := rowLen - ti*bundleWidth
	if width > bundleWidth {
		width = bundleWidth
	}
	if width == 0 || (first%bundleWidth)+(1<<sub) > width {
		return nil, fmt.Errorf("%w: node %d/%d is not in a tree of size %d", ErrBadProof, id.Level, id.Index, size)
	}
	p := uint8(width % bundleWidth) // 0 for a full tile
	levels, err := t.tree(ctx, tl, ti, p, int(width))
	if err != nil {
		return nil, err
	}
	return levels[sub][(first%bundleWidth)>>sub], nil
}

// tree returns the hashed levels of a tile: levels[0] its stored row,
// levels[k] the complete nodes k levels up.
func (t *tileTrees) tree(ctx context.Context, level, index uint64, p uint8, width int) ([][][]byte, error) {
	k := [3]uint64{level, index, uint64(p)}
	t.mu.Lock()
	lv, ok := t.trees[k]
	t.mu.Unlock()
	if ok {
		return lv, nil
	}
	raw, err := t.tiles.ReadTile(ctx, level, index, p)
	if err != nil {
		return nil, readErr(layout.TilePath(level, index, p), -1, err)
	}
	if len(raw) < width*HashSize || len(raw)%HashSize != 0 {
		return nil, tampered(layout.TilePath(level, index, p), -1, "holds %d bytes, the tree needs %d hashes", len(raw), width)
	}
	raw = raw[:width*HashSize] // a wider tile: see widerTile
	row := make([][]byte, width)
	for i := range row {
		row[i] = raw[i*HashSize : (i+1)*HashSize]
	}
	lv = [][][]byte{row}
	for len(row) > 1 {
		up := make([][]byte, len(row)/2)
		for i := range up {
			up[i] = rfc6962.DefaultHasher.HashChildren(row[2*i], row[2*i+1])
		}
		lv = append(lv, up)
		row = up
	}
	for len(lv) < 9 {
		lv = append(lv, nil)
	}
	t.mu.Lock()
	if t.trees == nil {
		t.trees = map[[3]uint64][][][]byte{}
	}
	if _, ok := t.trees[k]; !ok {
		t.trees[k] = lv
		t.order = append(t.order, k)
		if len(t.order) > tileTreesSize {
			delete(t.trees, t.order[0])
			t.order = t.order[1:]
		}
	}
	t.mu.Unlock()
	return lv, nil
}
