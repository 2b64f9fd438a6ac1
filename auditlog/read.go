package auditlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// bundleWidth is the number of entries in a full entry bundle and of hashes
// in a full tile (C2SP tlog-tiles).
const bundleWidth = layout.EntryBundleWidth

// proverReuse bounds how many bundles share one prover (and its tile cache)
// while iterating.
const proverReuse = 64

// TileReader reads the tiles and entry bundles of a log in the C2SP
// tlog-tiles layout. When asked for a partial resource (p > 0) that is gone,
// it falls back to the full one, and it reports a missing resource with an
// error wrapping fs.ErrNotExist. The Log's own storage is one; tessera's
// client.HTTPFetcher (a remote log served by Handler) and client.FileFetcher
// (a copy of a log directory) are others.
type TileReader interface {
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

func readCheckpointFile(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, layout.CheckpointPath))
}

// readBundle reads the first n entries of entry bundle k for a tree of size
// treeSize, without verifying them.
func readBundle(ctx context.Context, r TileReader, k, treeSize uint64, n int) ([][]byte, error) {
	p := layout.PartialTileSize(0, k, treeSize)
	file := layout.EntriesPath(k, p)
	raw, err := r.ReadEntryBundle(ctx, k, p)
	if err != nil {
		return nil, readErr(file, int64(k*bundleWidth), err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, tampered(file, int64(k*bundleWidth), "is not an entry bundle: %v", err)
	}
	if len(b.Entries) < n {
		return nil, tampered(file, int64(k*bundleWidth), "holds %d entries, the signed checkpoint says %d", len(b.Entries), n)
	}
	return b.Entries[:n], nil
}

// bundleLen is the number of entries of bundle k in a tree of size treeSize.
func bundleLen(k, treeSize uint64) int {
	first := k * bundleWidth
	if first >= treeSize {
		return 0
	}
	return int(min(bundleWidth, treeSize-first))
}

// verifiedBundle reads entry bundle k and proves every entry in it against
// cp. The proof: the inclusion proof of the bundle's first leaf verifies
// against cp's root, and its first hashes — the right-hand siblings inside
// the bundle, one per level — equal the tree hashes of the bundle's other
// leaves recomputed from the entries read. Errors wrap ErrTampered when the
// storage disagrees with cp.
func verifiedBundle(ctx context.Context, r TileReader, pr *prover, cp Checkpoint, k uint64) ([][]byte, error) {
	m := bundleLen(k, cp.Size)
	if m == 0 {
		return nil, fmt.Errorf("%w: bundle %d is beyond the checkpoint size %d", ErrNotFound, k, cp.Size)
	}
	entries, err := readBundle(ctx, r, k, cp.Size, m)
	if err != nil {
		return nil, err
	}
	if err := checkBundle(ctx, pr, cp, k, entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// checkBundle proves entries, the entries of bundle k, against cp.
func checkBundle(ctx context.Context, pr *prover, cp Checkpoint, k uint64, entries [][]byte) error {
	first := k * bundleWidth
	file := layout.EntriesPath(k, layout.PartialTileSize(0, k, cp.Size))
	leaves := make([][]byte, len(entries))
	for i, e := range entries {
		leaves[i] = rfc6962.DefaultHasher.HashLeaf(e)
	}
	hashes, err := pr.inclusion(ctx, first)
	if err != nil {
		return err
	}
	var leaf [HashSize]byte
	copy(leaf[:], leaves[0])
	if err := verifyInclusion(first, leaf, hashes, cp); err != nil {
		return tampered(file, int64(first), "does not match the signed checkpoint: %s", rootMismatch(err))
	}
	j := 0
	for lo := 1; lo < len(leaves); lo *= 2 {
		hi := min(2*lo, len(leaves))
		if j >= len(hashes) || !bytes.Equal(hashes[j], treeHash(leaves[lo:hi])) {
			return tampered(file, int64(first+uint64(lo)), "does not match the signed checkpoint: entries %d to %d hash to another tree", first+uint64(lo), first+uint64(hi)-1)
		}
		j++
	}
	return nil
}

// Entry returns the encoded entry at index, verified against the latest
// checkpoint. Errors wrap ErrNotFound or ErrTampered.
func (l *Log) Entry(ctx context.Context, index uint64) ([]byte, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("%w: index %d, checkpoint size %d", ErrNotFound, index, cp.Size)
	}
	entries, err := verifiedBundle(ctx, l.reader, newProver(ctx, l.reader, cp.Size), cp, index/bundleWidth)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(entries[index%bundleWidth]), nil
}

// Entries iterates over the entries from index from up to the latest
// checkpoint at the time of the call, in order, each verified against that
// checkpoint before it is yielded (see ReadEntries).
func (l *Log) Entries(ctx context.Context, from uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			yield(Record{}, err)
			return
		}
		for rec, err := range ReadEntries(ctx, l.reader, cp, from) {
			if !yield(rec, err) {
				return
			}
		}
	}
}

// ReadEntries iterates over the entries of the log read by r, from index
// from up to cp.Size, in order. Every bundle is proved against cp (a
// checkpoint the caller verified) before its entries are yielded, so r may
// be untrusted, e.g. a remote log. An entry that does not decode yields an
// error wrapping ErrMalformed (with the record's Index set) and iteration
// goes on; data that disagrees with cp yields an error wrapping ErrTampered
// and ends it, as does any other read error.
func ReadEntries(ctx context.Context, r TileReader, cp Checkpoint, from uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		var pr *prover
		for k := from / bundleWidth; k*bundleWidth < cp.Size; k++ {
			if err := ctx.Err(); err != nil {
				yield(Record{}, err)
				return
			}
			if pr == nil || k%proverReuse == 0 {
				pr = newProver(ctx, r, cp.Size)
			}
			entries, err := verifiedBundle(ctx, r, pr, cp, k)
			if err != nil {
				yield(Record{}, err)
				return
			}
			for i, raw := range entries {
				idx := k*bundleWidth + uint64(i)
				if idx < from {
					continue
				}
				e, err := DecodeEntry(bytes.Clone(raw))
				if err != nil {
					err = fmt.Errorf("entry %d: %w", idx, err)
				}
				if !yield(Record{Index: idx, Entry: e}, err) {
					return
				}
			}
		}
	}
}

// Verify audits the whole log against its latest checkpoint: the
// checkpoint's signature, then everything Audit checks. It returns the
// checkpoint it audited.
func (l *Log) Verify(ctx context.Context) (Checkpoint, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := Audit(ctx, l.reader, cp); err != nil {
		if errors.Is(err, ErrMalformed) {
			return cp, err // the storage is intact
		}
		return Checkpoint{}, err
	}
	return cp, nil
}

// Audit checks the whole log read by r against cp, a checkpoint the caller
// verified: every entry bundle, every tile at every level, and the root
// hash recomputed from the entries. r may be untrusted, e.g. a remote log.
// Errors wrap ErrTampered for any disagreement, or ErrMalformed (after a
// complete, otherwise clean audit) when some entry does not decode.
func Audit(ctx context.Context, r TileReader, cp Checkpoint) error {
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	var upper [][]byte // hashes of complete bundles: the row of tile level 1
	var badEntry error
	for k := uint64(0); k*bundleWidth < cp.Size; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := bundleLen(k, cp.Size)
		entries, err := readBundle(ctx, r, k, cp.Size, m)
		if err != nil {
			return err
		}
		leaves := make([][]byte, m)
		for i, e := range entries {
			leaves[i] = rfc6962.DefaultHasher.HashLeaf(e)
			if err := rng.Append(leaves[i], nil); err != nil {
				return fmt.Errorf("auditlog: audit: %w", err)
			}
			if _, err := DecodeEntry(e); err != nil && badEntry == nil {
				badEntry = fmt.Errorf("entry %d: %w", k*bundleWidth+uint64(i), err)
			}
		}
		if err := checkTile(ctx, r, 0, k, cp.Size, leaves); err != nil {
			return err
		}
		if m == bundleWidth {
			upper = append(upper, treeHash(leaves))
		}
	}
	for level := uint64(1); len(upper) > 0; level++ {
		var next [][]byte
		for k := uint64(0); k*bundleWidth < uint64(len(upper)); k++ {
			row := upper[k*bundleWidth : min(uint64(len(upper)), (k+1)*bundleWidth)]
			if err := checkTile(ctx, r, level, k, cp.Size, row); err != nil {
				return err
			}
			if len(row) == bundleWidth {
				next = append(next, treeHash(row))
			}
		}
		upper = next
	}
	root := emptyRoot[:]
	if cp.Size > 0 {
		var err error
		if root, err = rng.GetRootHash(nil); err != nil {
			return fmt.Errorf("auditlog: audit: %w", err)
		}
	}
	if !bytes.Equal(root, cp.Hash[:]) {
		return tampered("", -1, "does not match the signed checkpoint: the entries hash to root %s, the checkpoint (size %d) signs root %s", base64.StdEncoding.EncodeToString(root), cp.Size, base64.StdEncoding.EncodeToString(cp.Hash[:]))
	}
	if badEntry != nil {
		return fmt.Errorf("auditlog: audit: %w", badEntry)
	}
	return nil
}

// checkTile compares tile (level, k) of a tree of size treeSize with the
// hashes recomputed from the entries.
func checkTile(ctx context.Context, r TileReader, level, k, treeSize uint64, want [][]byte) error {
	p := layout.PartialTileSize(level, k, treeSize)
	file := layout.TilePath(level, k, p)
	raw, err := r.ReadTile(ctx, level, k, p)
	if err != nil {
		return readErr(file, -1, err)
	}
	if len(raw)%HashSize != 0 || len(raw)/HashSize < len(want) {
		return tampered(file, -1, "holds %d bytes, the tree needs %d hashes", len(raw), len(want))
	}
	for i, h := range want {
		if !bytes.Equal(raw[i*HashSize:(i+1)*HashSize], h) {
			return tampered(file, -1, "does not match the entries: hash %d differs", i)
		}
	}
	return nil
}
