// Package localfs is a blob.Store on a local file system directory.
//
// Layout under the root directory:
//
//	blobs/<xx>/<id>        data part; <xx> is the first digest byte in hex
//	blobs/<xx>/<id>.obao   Bao outboard part (none for a blob of at most
//	                       16 KiB stored by a group: implied.go)
//	tmp/stage-*            staged writes, invisible until committed
//
// A commit writes the staged temp file, fsyncs it, hard-links it to its
// final name (which fails, keeping the existing bytes, if the name exists),
// fsyncs the shard directory and unlinks the temp name. A process killed at
// any point leaves either no file or a complete file under the final name;
// stale temp files are deleted by the next Open. See docs/storage.md.
package localfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

const (
	blobsDir    = "blobs"
	tmpDir      = "tmp"
	stagePrefix = "stage-"
	obaoSuffix  = ".obao"
	bufSize     = 256 << 10
)

// Store is a blob.Store rooted at a directory. It is safe for concurrent
// use, also by several processes sharing the directory (on systems with
// flock(2); elsewhere one process per directory).
type Store struct {
	root  string
	flush syncer // shared by the groups committing at once (group.go)
}

var (
	_ blob.Store         = (*Store)(nil)
	_ content.LentWriter = (*staged)(nil)
)

// Open opens (creating if needed) the store rooted at dir and deletes staged
// files left behind by writers that died.
func Open(ctx context.Context, dir string) (*Store, error) {
	s := &Store{root: dir}
	for _, d := range []string{dir, s.path(blobsDir), s.path(tmpDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("localfs: open %s: %w", dir, err)
		}
	}
	// Make the directories themselves durable before anything is linked
	// into them.
	for _, d := range []string{s.path(blobsDir), dir} {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("localfs: open %s: %w", dir, err)
		}
	}
	if err := s.cleanStale(ctx); err != nil {
		return nil, fmt.Errorf("localfs: open %s: %w", dir, err)
	}
	return s, nil
}

// Root returns the directory the store was opened at.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

func shard(id content.ID) string {
	d := id.Digest()
	return hex.EncodeToString(d[:1])
}

func (s *Store) keyPath(k blob.Key) (string, error) {
	if k.ID.IsZero() || !k.Part.Valid() {
		return "", fmt.Errorf("localfs: invalid key %v", k)
	}
	return s.path(blobsDir, shard(k.ID), k.String()), nil
}

// cleanStale removes temp files no live writer holds.
func (s *Store) cleanStale(ctx context.Context) error {
	ents, err := os.ReadDir(s.path(tmpDir))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(e.Name(), stagePrefix) {
			continue
		}
		p := s.path(tmpDir, e.Name())
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		free, err := tryLock(f)
		if err == nil && free {
			err = os.Remove(p)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Stage starts a write into a new temp file, written in aligned blocks
// (direct.go).
func (s *Store) Stage(ctx context.Context) (blob.Staged, error) {
	if pageCacheStaging.Load() {
		return s.stage(ctx, bufSize)
	}
	return s.stage(ctx, 0)
}

var pageCacheStaging atomic.Bool

// SetPageCacheStaging makes Stage, in every Store of the process, write
// through the page cache with a 256 KiB buffer as it did before writes in
// aligned blocks with O_DIRECT (on) or not (off, the default), and returns
// the previous setting. It is for benchmarks that time both in one run.
func SetPageCacheStaging(on bool) (was bool) { return pageCacheStaging.Swap(on) }

// stage starts a write into a new temp file, buffered by buf bytes, or
// written in aligned blocks by a blockWriter if buf is 0.
func (s *Store) stage(ctx context.Context, buf int) (*staged, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(s.path(tmpDir), stagePrefix+"*")
		if err != nil {
			return nil, fmt.Errorf("localfs: stage: %w", err)
		}
		if err := lock(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("localfs: stage: %w", err)
		}
		// A concurrent Open in another process may have removed the file
		// between its creation and our lock; start again if so.
		if gone, err := unlinked(f); err != nil || gone {
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("localfs: stage: %w", err)
			}
			continue
		}
		if buf == 0 {
			return &staged{s: s, f: f, w: newBlockWriter(f)}, nil
		}
		return &staged{s: s, f: f, w: bufio.NewWriterSize(f, buf)}, nil
	}
}

// stageWriter buffers a staged file's writes: a *bufio.Writer or a
// *blockWriter.
type stageWriter interface {
	Write(p []byte) (int, error)
	Flush() error
}

type staged struct {
	s    *Store
	f    *os.File
	w    stageWriter
	done bool
	gone bool // discarded: the temp file is closed and removed
	// unnamed: f has no name (O_TMPFILE, in a group); it is linked, not
	// renamed, and there is nothing to remove.
	unnamed bool
}

func (st *staged) Write(p []byte) (int, error) {
	if st.done {
		return 0, blob.ErrClosed
	}
	return st.w.Write(p)
}

// WriteLent writes p without copying it where it can (content.LentWriter,
// blockWriter.WriteLent).
func (st *staged) WriteLent(p []byte, done func()) error {
	bw, ok := st.w.(*blockWriter)
	if st.done || !ok {
		_, err := st.Write(p)
		done()
		return err
	}
	return bw.WriteLent(p, done)
}

func (st *staged) Commit(ctx context.Context, k blob.Key) error {
	if st.done {
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
	defer st.discard()
	if err := st.w.Flush(); err != nil {
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	if err := st.f.Sync(); err != nil {
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	dir := filepath.Dir(final)
	if err := st.s.mkShard(dir); err != nil {
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	if err := publish(st.f.Name(), final); err != nil {
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("localfs: commit %s: %w", k, err)
	}
	return nil
}

// publish makes tmp visible as final unless final exists. A hard link is
// atomic and never replaces an existing name; file systems without hard
// links fall back to a rename after checking, which can only replace
// equal bytes (both names hold the same content id).
func publish(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	if _, serr := os.Lstat(final); serr == nil {
		return nil
	}
	if rerr := os.Rename(tmp, final); rerr != nil {
		return fmt.Errorf("link: %v; rename: %w", err, rerr)
	}
	return nil
}

func (s *Store) mkShard(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// discard closes and removes the temp file, releasing its lock.
func (st *staged) discard() {
	if st.gone {
		return
	}
	st.gone = true
	if bw, ok := st.w.(*blockWriter); ok {
		bw.close() // its goroutine may still be writing to st.f
	}
	if !st.unnamed {
		os.Remove(st.f.Name())
	}
	st.f.Close()
}

func (st *staged) Abort() error {
	if st.done {
		return nil
	}
	st.done = true
	st.discard()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open opens the file holding k.
func (s *Store) Open(ctx context.Context, k blob.Key) (blob.Reader, error) {
	p, err := s.keyPath(k)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) && k.Part == blob.Outboard {
		b, err := s.impliedOutboard(ctx, k) // implied.go
		if err != nil {
			return nil, err
		}
		return memReader{bytes.NewReader(b)}, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("localfs: open %s: %w", k, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("localfs: open %s: %w", k, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("localfs: open %s: %w", k, err)
	}
	return &reader{File: f, size: fi.Size()}, nil
}

type reader struct {
	*os.File
	size int64
}

func (r *reader) Size() int64 { return r.size }

// Stat returns the size of k.
func (s *Store) Stat(ctx context.Context, k blob.Key) (int64, error) {
	p, err := s.keyPath(k)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) && k.Part == blob.Outboard {
		b, err := s.impliedOutboard(ctx, k) // implied.go
		return int64(len(b)), err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("localfs: stat %s: %w", k, blob.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("localfs: stat %s: %w", k, err)
	}
	return fi.Size(), nil
}

// Remove deletes k and syncs its directory.
func (s *Store) Remove(ctx context.Context, k blob.Key) error {
	p, err := s.keyPath(k)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: remove %s: %w", k, blob.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("localfs: remove %s: %w", k, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("localfs: remove %s: %w", k, err)
	}
	return nil
}

// Enumerate walks the shard directories in order. Files whose names are not
// content ids in the right shard are ignored.
func (s *Store) Enumerate(ctx context.Context, after content.ID, fn func(content.ID, int64) error) error {
	shards, err := os.ReadDir(s.path(blobsDir))
	if err != nil {
		return fmt.Errorf("localfs: enumerate: %w", err)
	}
	ad := after.Digest()
	first := hex.EncodeToString(ad[:1])
	type entry struct {
		id   content.ID
		d    [32]byte
		size int64
	}
	for _, sh := range shards { // os.ReadDir sorts by name: hex order is byte order
		name := sh.Name()
		if !sh.IsDir() || len(name) != 2 || name < first {
			continue
		}
		ents, err := os.ReadDir(s.path(blobsDir, name))
		if err != nil {
			return fmt.Errorf("localfs: enumerate: %w", err)
		}
		var list []entry
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), obaoSuffix) {
				continue
			}
			id, err := content.ParseID(e.Name())
			if err != nil || id.String() != e.Name() || shard(id) != name {
				continue
			}
			d := id.Digest()
			if bytes.Compare(d[:], ad[:]) <= 0 {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return fmt.Errorf("localfs: enumerate: %w", err)
			}
			list = append(list, entry{id, d, fi.Size()})
		}
		slices.SortFunc(list, func(a, b entry) int { return bytes.Compare(a.d[:], b.d[:]) })
		for _, e := range list {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e.id, e.size); err != nil {
				if errors.Is(err, blob.ErrStop) {
					return nil
				}
				return err
			}
		}
	}
	return nil
}
