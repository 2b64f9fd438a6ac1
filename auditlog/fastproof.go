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
// them, per proof. The hashes of a tile never change once written; a
// partial tile only gains hashes as the tree grows. So one tree per tile is
// kept, the widest read: it serves every narrower width (a partial tile of
// an older checkpoint) as well. Tessera's MySQL driver keeps one row per
// tile, overwritten as the tile grows, so a partial tile read at one tree
// size comes back as wide as the tree is now, and the next checkpoint's
// proofs need no read of it. Concurrent proofs needing one tile (every
// request waiting for a new checkpoint wakes at once) share one read. Every
// proof is still verified against the checkpoint by the caller (receipt),
// so a wrong node cannot produce a wrong receipt.
type tileTrees struct {
	r       TileReader
	mu      sync.Mutex
	trees   map[[2]uint64]*tileTree // (tile level, tile index) -> the widest hashed
	order   [][2]uint64
	reading map[[2]uint64]*tileRead
}

// tileTree is a tile's hashed levels: levels[0] its stored row, levels[k]
// the complete nodes k levels up.
type tileTree struct {
	width  int
	levels [][][]byte
}

// tileRead is a read of a tile under way; done is closed when tree or err
// is set.
type tileRead struct {
	done chan struct{}
	tree *tileTree
	err  error
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

// tree returns the hashed levels of a tile at least width wide (p is its
// partial width, 0 for a full tile): levels[0] its stored row, levels[k]
// the complete nodes k levels up; wider levels than asked for may come
// back.
func (t *tileTrees) tree(ctx context.Context, level, index uint64, p uint8, width int) ([][][]byte, error) {
	k := [2]uint64{level, index}
	t.mu.Lock()
	if tt := t.trees[k]; tt != nil && tt.width >= width {
		t.mu.Unlock()
		return tt.levels, nil
	}
	if rd := t.reading[k]; rd != nil {
		// Join the read under way; it may have started before this
		// checkpoint's entries were integrated, so it may be too narrow.
		t.mu.Unlock()
		select {
		case <-rd.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if rd.err == nil && rd.tree.width >= width {
			return rd.tree.levels, nil
		}
		t.mu.Lock()
	}
	rd := &tileRead{done: make(chan struct{})}
	if t.reading == nil {
		t.reading = map[[2]uint64]*tileRead{}
	}
	if t.reading[k] == nil {
		t.reading[k] = rd
	}
	t.mu.Unlock()
	rd.tree, rd.err = t.read(ctx, level, index, p, width)
	t.mu.Lock()
	if t.reading[k] == rd {
		delete(t.reading, k)
	}
	if rd.err == nil {
		if old := t.trees[k]; old == nil || old.width < rd.tree.width {
			if t.trees == nil {
				t.trees = map[[2]uint64]*tileTree{}
			}
			if old == nil {
				t.order = append(t.order, k)
			}
			t.trees[k] = rd.tree
			if len(t.order) > tileTreesSize {
				delete(t.trees, t.order[0])
				t.order = t.order[1:]
			}
		}
	}
	t.mu.Unlock()
	close(rd.done)
	if rd.err != nil {
		return nil, rd.err
	}
	return rd.tree.levels, nil
}

// read reads a tile and hashes its levels. A tile wider than asked for
// (see tileTrees) is hashed whole.
func (t *tileTrees) read(ctx context.Context, level, index uint64, p uint8, width int) (*tileTree, error) {
	// Not cancelled with the caller: others may share the read.
	raw, err := t.r.ReadTile(context.WithoutCancel(ctx), level, index, p)
	if err != nil {
		return nil, readErr(layout.TilePath(level, index, p), -1, err)
	}
	if len(raw) < width*HashSize || len(raw) > bundleWidth*HashSize || len(raw)%HashSize != 0 {
		return nil, tampered(layout.TilePath(level, index, p), -1, "holds %d bytes, the tree needs %d hashes", len(raw), width)
	}
	row := make([][]byte, len(raw)/HashSize)
	for i := range row {
		row[i] = raw[i*HashSize : (i+1)*HashSize]
	}
	tt := &tileTree{width: len(row), levels: [][][]byte{row}}
	for len(row) > 1 {
		up := make([][]byte, len(row)/2)
		for i := range up {
			up[i] = rfc6962.DefaultHasher.HashChildren(row[2*i], row[2*i+1])
		}
		tt.levels = append(tt.levels, up)
		row = up
	}
	for len(tt.levels) < 9 {
		tt.levels = append(tt.levels, nil)
	}
	return tt, nil
}
