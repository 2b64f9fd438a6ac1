package localfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/charter-dev/charter/blob"
)

// groupBuf is the write buffer of a blob staged in a group: groups hold
// many small blobs, and each keeps its buffer only until it is recorded.
const groupBuf = 32 << 10

var _ blob.Grouper = (*Store)(nil)

// Group starts a set of writes committed together. The outboard of a blob
// of at most 16 KiB, its length alone, is not written: Open and Stat derive
// it from the data (implied.go). Its Commit makes the writes durable with
// two flushes of the file system, whatever their number:
//
//  1. every staged file is written (not yet visible): on Linux an unnamed
//     file (O_TMPFILE), which a crash leaves nothing of; elsewhere a temp
//     file under tmp/;
//  2. flush: the data of every temp file is on disk;
//  3. each is linked to its final name (outboard before data);
//  4. flush: the new names are on disk; only now does Commit return.
//
// A crash before 4 ends leaves, for each blob, no name or a name whose
// bytes were on disk before the name was made (step 2), never a name with
// missing bytes; the temp files are deleted by the next Open. On Linux a
// flush is one syncfs(2) of the store's file system, shared with the
// groups flushing at the same time (syncer: a group waits for a flush that
// began after it asked); elsewhere it is an fsync of each temp file, then
// of each shard directory linked into.
func (s *Store) Group(ctx context.Context) (blob.Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &group{s: s}, nil
}

type group struct {
	s       *Store
	staged  []*staged // every write started, committed or not
	pending []pendingLink
	done    bool
}

type pendingLink struct {
	st    *staged
	final string
}

func (g *group) Stage(ctx context.Context) (blob.Staged, error) {
	if g.done {
		return nil, blob.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var st *staged
	f, err := openUnnamed(g.s.path(tmpDir))
	if err != nil {
		return nil, fmt.Errorf("localfs: stage: %w", err)
	}
	var pooled *bufio.Writer
	if f != nil {
		pooled = groupWriters.Get().(*bufio.Writer)
		pooled.Reset(f)
		st = &staged{s: g.s, f: f, w: pooled, unnamed: true}
	} else if st, err = g.s.stage(ctx, groupBuf); err != nil {
		return nil, err
	}
	g.staged = append(g.staged, st)
	return &groupStaged{g: g, st: st, pooled: pooled}, nil
}

// groupWriters holds the write buffers of blobs staged in groups: a batch
// of a thousand small blobs would otherwise allocate two thousand.
var groupWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, groupBuf) }}

// groupStaged is a write in a group: its Commit records the key and
// flushes the bytes to the temp file; the group links it.
type groupStaged struct {
	g      *group
	st     *staged
	pooled *bufio.Writer // st's buffer, from groupWriters, or nil
	n      int64         // bytes written
	head   [impliedHeader]byte
}

// release gives the write buffer back to the pool once st no longer
// writes through it.
func (gs *groupStaged) release() {
	if gs.pooled != nil {
		gs.pooled.Reset(nil)
		groupWriters.Put(gs.pooled)
		gs.pooled = nil
	}
}

func (gs *groupStaged) Write(p []byte) (int, error) {
	if gs.n < impliedHeader {
		copy(gs.head[gs.n:], p)
	}
	n, err := gs.st.Write(p)
	gs.n += int64(n)
	return n, err
}

func (gs *groupStaged) Commit(ctx context.Context, k blob.Key) error {
	st := gs.st
	if st.done || gs.g.done {
		return blob.ErrClosed
	}
	final, err := st.s.keyPath(k)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st.done = true
	if k.Part == blob.Outboard && gs.n == impliedHeader && isImpliedOutboard(gs.head[:]) {
		// Implied by the data part's size (implied.go): not stored.
		st.w = nil
		gs.release()
		st.discard()
		return nil
	}
	err = st.w.Flush()
	st.w = nil // the buffer is not needed any more
	gs.release()
	if err != nil {
		st.discard()
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	gs.g.pending = append(gs.g.pending, pendingLink{st: st, final: final})
	return nil
}

func (gs *groupStaged) Abort() error {
	err := gs.st.Abort()
	if gs.st.done {
		gs.release()
	}
	return err
}

func (g *group) Commit(ctx context.Context) error {
	if g.done {
		return blob.ErrClosed
	}
	g.done = true
	defer g.discard()
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(g.pending) == 0 {
		return nil
	}
	if err := g.s.flushGroup(g.pending, nil); err != nil {
		return fmt.Errorf("localfs: commit group: %w", err)
	}
	dirs := map[string]bool{}
	for _, p := range g.pending {
		dir := filepath.Dir(p.final)
		if !dirs[dir] {
			if err := g.s.mkShard(dir); err != nil {
				return fmt.Errorf("localfs: commit group: %w", err)
			}
			dirs[dir] = true
		}
		link := func() error { return publish(p.st.f.Name(), p.final) }
		if p.st.unnamed {
			link = func() error { return linkUnnamed(p.st.f, p.final) }
		}
		if err := link(); err != nil {
			return fmt.Errorf("localfs: commit group: %w", err)
		}
	}
	if err := g.s.flushGroup(nil, dirs); err != nil {
		return fmt.Errorf("localfs: commit group: %w", err)
	}
	return nil
}

// discard removes every temp file of the group.
func (g *group) discard() {
	for _, st := range g.staged {
		st.done = true
		st.discard()
	}
	g.staged, g.pending = nil, nil
}

func (g *group) Abort() error {
	if g.done {
		return nil
	}
	g.done = true
	g.discard()
	return nil
}

// fsyncEach is the portable flush: fsync each pending temp file, then each
// directory.
func fsyncEach(pending []pendingLink, dirs map[string]bool) error {
	for _, p := range pending {
		if err := p.st.f.Sync(); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

var errNoSyncfs = errors.New("syncfs not available")
