// Package car exports Charter content as CAR files that IPFS and Filecoin
// tools import.
//
// A file becomes a UnixFS DAG built the way IPIP-499's unixfs-v1-2025
// profile prescribes (and `ipfs add` in Kubo 0.40 and later does by default):
// CIDv1, sha2-256, raw leaves of 1 MiB, balanced layout with at most 1024
// links per node, directories that switch to a HAMT (fanout 256) when their
// dag-pb block would exceed 256 KiB. A dataset (a set of paths) becomes a
// UnixFS directory tree. The blocks are written as a CARv1 stream whose
// single root is the file's or directory's CID.
//
// The CAR root CID is not the Charter content id: the content id is the
// BLAKE3 hash of the file's bytes, the root CID the sha2-256 hash of the
// top UnixFS node. They name the same bytes: `ipfs cat <root> | b3sum`
// prints the content id's digest. See docs/spec/car-export.md.
//
// Memory does not grow with file size: each block is written to the CAR
// as the importer produces it and then dropped; only the CIDs already
// written (for de-duplication) and the directory entries are kept.
package car

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	chunk "github.com/ipfs/boxo/chunker"
	mdag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	mh "github.com/multiformats/go-multihash"
)

// The UnixFS parameters of the unixfs-v1-2025 profile (IPIP-499).
const (
	ChunkSize        = 1 << 20   // bytes per raw leaf
	MaxLinks         = 1024      // links per file DAG node
	HAMTShardingSize = 256 << 10 // directory block size above which it becomes a HAMT
	HAMTFanout       = 256       // HAMT shard width
	MaxNameLen       = 255       // bytes per path element, as NAME_MAX
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrBadPath reports a dataset path that cannot be a UnixFS path.
	ErrBadPath = errors.New("car: invalid dataset path")
	// ErrRootChanged reports that the source produced a different root
	// than the one promised in the CAR header: its bytes changed between
	// Root and Write. The CAR written is invalid and must be discarded.
	ErrRootChanged = errors.New("car: source changed: root differs from the one in the header")
)

// cidBuilder makes CIDv1 dag-pb sha2-256 CIDs (raw leaves use the same
// prefix with codec raw).
var cidBuilder = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

// OpenFunc opens the bytes of one file. It may be called more than once (Root
// and Write each read every file once); each call must yield the same bytes.
type OpenFunc func(ctx context.Context) (io.ReadCloser, error)

// Entry is one file of a dataset.
type Entry struct {
	// Path is slash-separated and relative, e.g. "train/part-0001.parquet".
	Path string
	Open OpenFunc
}

// Source is what an export reads: one file or a dataset.
type Source struct {
	file    OpenFunc
	entries []Entry // sorted by path; nil for a file
	dataset bool
}

// File returns a Source for one file. Its CAR root is the file's UnixFS root.
func File(open OpenFunc) Source { return Source{file: open} }

// Dataset returns a Source for a directory tree holding the given files.
// Directories are implied by the paths; the CAR root is the top directory,
// as `ipfs add -r DIR` gives for DIR. Paths must be valid UTF-8, relative,
// slash-separated, without empty, "." or ".." elements or elements longer
// than MaxNameLen bytes; no path may repeat or be a directory of another.
func Dataset(entries []Entry) (Source, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	if err := CheckPaths(pathsOf(sorted)); err != nil {
		return Source{}, err
	}
	for _, e := range sorted {
		if e.Open == nil {
			return Source{}, fmt.Errorf("car: dataset entry %q has no Open function", e.Path)
		}
	}
	return Source{entries: sorted, dataset: true}, nil
}

func pathsOf(es []Entry) []string {
	ps := make([]string, len(es))
	for i, e := range es {
		ps[i] = e.Path
	}
	return ps
}

// CheckPaths reports whether paths, sorted or not, can name the files of one
// dataset (see Dataset). The error wraps ErrBadPath.
func CheckPaths(paths []string) error {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	files := make(map[string]bool, len(sorted))
	for i, p := range sorted {
		if err := checkPath(p); err != nil {
			return err
		}
		if i > 0 && sorted[i-1] == p {
			return fmt.Errorf("%w: %q appears twice", ErrBadPath, p)
		}
		files[p] = true
	}
	for _, p := range sorted {
		for dir := parent(p); dir != ""; dir = parent(dir) {
			if files[dir] {
				return fmt.Errorf("%w: %q is a file and also the directory of %q", ErrBadPath, dir, p)
			}
		}
	}
	return nil
}

func checkPath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty path", ErrBadPath)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadPath, p)
	}
	for _, el := range strings.Split(p, "/") {
		switch {
		case el == "":
			return fmt.Errorf("%w: %q has an empty element (leading, trailing or double slash)", ErrBadPath, p)
		case el == "." || el == "..":
			return fmt.Errorf("%w: %q has a %q element", ErrBadPath, p, el)
		case len(el) > MaxNameLen:
			return fmt.Errorf("%w: %q has an element longer than %d bytes", ErrBadPath, p, MaxNameLen)
		case strings.ContainsRune(el, 0):
			return fmt.Errorf("%w: %q contains a NUL byte", ErrBadPath, p)
		}
	}
	return nil
}

// parent returns the directory part of a slash path, "" at the top.
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

func base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// Root returns the root CID the source exports to, reading every file once
// and writing nothing.
func Root(ctx context.Context, src Source) (cid.Cid, error) {
	nd, err := build(ctx, src, nil)
	if err != nil {
		return cid.Undef, err
	}
	return nd.Cid(), nil
}

// Write streams a CARv1 of src to w with root in its header; root must come
// from Root(ctx, src). It needs no seeking, so w may be a pipe or an HTTP
// response. If the source's bytes changed since Root, Write returns
// ErrRootChanged after writing the blocks, and the output is invalid.
func Write(ctx context.Context, w io.Writer, root cid.Cid, src Source) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	// Hide any io.WriterAt of w from go-car so it writes sequentially.
	sc, err := storage.NewWritable(struct{ io.Writer }{bw}, []cid.Cid{root}, carv2.WriteAsCarV1(true))
	if err != nil {
		return fmt.Errorf("car: %w", err)
	}
	nd, err := build(ctx, src, sc)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("car: %w", err)
	}
	if !nd.Cid().Equals(root) {
		return fmt.Errorf("%w: header has %s, content gives %s", ErrRootChanged, root, nd.Cid())
	}
	return nil
}

// placeholder has the encoded length of every root Export can produce
// (CIDv1, one-byte codec, sha2-256): 36 bytes.
var placeholder = cid.NewCidV1(cid.DagProtobuf, mustSum(nil))

func mustSum(b []byte) mh.Multihash {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return h
}

// header returns the CARv1 header naming root, as go-car writes it.
func header(root cid.Cid) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := storage.NewWritable(&buf, []cid.Cid{root}, carv2.WriteAsCarV1(true)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Export writes a CARv1 of src to w starting at offset 0, reading the
// source only once: it writes a header with a placeholder root, streams
// the blocks, and then overwrites the header with the real root (same
// length). It returns the root. The output is valid only if Export returns
// nil. An *os.File works as w.
func Export(ctx context.Context, w io.WriterAt, src Source) (cid.Cid, error) {
	bw := bufio.NewWriterSize(&offsetWriter{w: w}, 1<<20)
	sc, err := storage.NewWritable(struct{ io.Writer }{bw}, []cid.Cid{placeholder}, carv2.WriteAsCarV1(true))
	if err != nil {
		return cid.Undef, fmt.Errorf("car: %w", err)
	}
	nd, err := build(ctx, src, sc)
	if err != nil {
		return cid.Undef, err
	}
	if err := bw.Flush(); err != nil {
		return cid.Undef, fmt.Errorf("car: %w", err)
	}
	old, err := header(placeholder)
	if err != nil {
		return cid.Undef, fmt.Errorf("car: %w", err)
	}
	hdr, err := header(nd.Cid())
	if err != nil {
		return cid.Undef, fmt.Errorf("car: %w", err)
	}
	if len(hdr) != len(old) {
		return cid.Undef, fmt.Errorf("car: root %s does not fit the header placeholder", nd.Cid())
	}
	if _, err := w.WriteAt(hdr, 0); err != nil {
		return cid.Undef, fmt.Errorf("car: write header: %w", err)
	}
	return nd.Cid(), nil
}

type offsetWriter struct {
	w   io.WriterAt
	off int64
}

func (o *offsetWriter) Write(p []byte) (int, error) {
	n, err := o.w.WriteAt(p, o.off)
	o.off += int64(n)
	return n, err
}

// WriteFile exports src to the file name: it writes a temporary file in the
// same directory, syncs it and renames it over name, so a failed or
// interrupted export leaves no partial CAR under name.
func WriteFile(ctx context.Context, name string, src Source) (cid.Cid, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return cid.Undef, fmt.Errorf("car: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	root, err := Export(ctx, f, src)
	if err == nil {
		// An exported file is the user's, readable as any other
		// (CreateTemp makes it owner-only).
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		return cid.Undef, fmt.Errorf("car: write %s: %w", name, err)
	}
	return root, nil
}

// build imports src, handing every new block to sink (nil: hash only), and
// returns the root node.
func build(ctx context.Context, src Source, sink storage.WritableCar) (ipld.Node, error) {
	ds := &dagSink{sink: sink, seen: map[string]struct{}{}, dirs: map[string]ipld.Node{}}
	if !src.dataset {
		if src.file == nil {
			return nil, errors.New("car: empty Source; use File or Dataset")
		}
		return importFile(ctx, ds, "", src.file)
	}

	dirs := map[string]uio.Directory{}
	var dirPaths []string
	mkdir := func(p string) (uio.Directory, error) {
		if d, ok := dirs[p]; ok {
			return d, nil
		}
		d, err := newDirectory(ds)
		if err != nil {
			return nil, err
		}
		dirs[p] = d
		dirPaths = append(dirPaths, p)
		return d, nil
	}
	if _, err := mkdir(""); err != nil {
		return nil, err
	}
	for _, e := range src.entries {
		for p := parent(e.Path); ; p = parent(p) { // make all ancestors
			if _, err := mkdir(p); err != nil {
				return nil, err
			}
			if p == "" {
				break
			}
		}
		nd, err := importFile(ctx, ds, e.Path, e.Open)
		if err != nil {
			return nil, err
		}
		if err := dirs[parent(e.Path)].AddChild(ctx, base(e.Path), nd); err != nil {
			return nil, fmt.Errorf("car: add %q: %w", e.Path, err)
		}
	}
	// Close directories deepest first, each into its parent.
	slices.SortFunc(dirPaths, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/") + boolInt(a == "") - boolInt(b == "")
	})
	var root ipld.Node
	for _, p := range dirPaths {
		nd, err := dirs[p].GetNode()
		if err != nil {
			return nil, fmt.Errorf("car: directory %q: %w", p, err)
		}
		if err := ds.Add(ctx, nd); err != nil {
			return nil, err
		}
		if p == "" {
			root = nd
			break
		}
		if err := dirs[parent(p)].AddChild(ctx, base(p), nd); err != nil {
			return nil, fmt.Errorf("car: directory %q: %w", p, err)
		}
		delete(dirs, p)
	}
	return root, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newDirectory(ds ipld.DAGService) (uio.Directory, error) {
	return uio.NewDirectory(ds,
		uio.WithCidBuilder(cidBuilder),
		uio.WithMaxHAMTFanout(HAMTFanout),
		uio.WithSizeEstimationMode(uio.SizeEstimationBlock),
		func(d uio.Directory) { d.SetHAMTShardingSize(HAMTShardingSize) },
	)
}

func importFile(ctx context.Context, ds *dagSink, name string, open OpenFunc) (ipld.Node, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("car: open %q: %w", name, err)
	}
	defer rc.Close()
	params := helpers.DagBuilderParams{
		Maxlinks:   MaxLinks,
		RawLeaves:  true,
		CidBuilder: cidBuilder,
		Dagserv:    ds,
	}
	db, err := params.New(chunk.NewSizeSplitter(&ctxReader{ctx: ctx, r: rc}, ChunkSize))
	if err != nil {
		return nil, fmt.Errorf("car: %q: %w", name, err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return nil, fmt.Errorf("car: import %q: %w", name, err)
	}
	return nd, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// dagSink is the ipld.DAGService the importer writes into: it passes each
// new block to the CAR and forgets it, except directory nodes, which the
// HAMT code may read back.
type dagSink struct {
	sink storage.WritableCar
	seen map[string]struct{}
	dirs map[string]ipld.Node
}

func (d *dagSink) Add(ctx context.Context, nd ipld.Node) error {
	k := nd.Cid().KeyString()
	if _, ok := d.seen[k]; ok {
		return nil
	}
	d.seen[k] = struct{}{}
	if pn, ok := nd.(*mdag.ProtoNode); ok && isDir(pn) {
		d.dirs[k] = nd
	}
	if d.sink == nil {
		return nil
	}
	if err := d.sink.Put(ctx, k, nd.RawData()); err != nil {
		return fmt.Errorf("car: write block: %w", err)
	}
	return nil
}

func (d *dagSink) AddMany(ctx context.Context, nds []ipld.Node) error {
	for _, nd := range nds {
		if err := d.Add(ctx, nd); err != nil {
			return err
		}
	}
	return nil
}

func (d *dagSink) Get(_ context.Context, c cid.Cid) (ipld.Node, error) {
	if nd, ok := d.dirs[c.KeyString()]; ok {
		return nd, nil
	}
	return nil, ipld.ErrNotFound{Cid: c}
}

func (d *dagSink) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	for _, c := range cs {
		nd, err := d.Get(ctx, c)
		out <- &ipld.NodeOption{Node: nd, Err: err}
	}
	close(out)
	return out
}

func (d *dagSink) Remove(context.Context, cid.Cid) error       { return nil }
func (d *dagSink) RemoveMany(context.Context, []cid.Cid) error { return nil }

// isDir reports whether pn is a UnixFS directory or HAMT shard.
func isDir(pn *mdag.ProtoNode) bool {
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return false
	}
	t := fsn.Type()
	return t == unixfs.TDirectory || t == unixfs.THAMTShard
}
