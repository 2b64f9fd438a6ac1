package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/charter-dev/charter/content"
	"golang.org/x/sync/errgroup"
)

// DownloadOptions tune DownloadFile.
type DownloadOptions struct {
	// Progress, when set, is called with the verified bytes so far.
	Progress func(done int64)
	// Total, when set, is told the size once it is known.
	Total func(size int64)
	// Resumed, when set, is told that the download resumes from a partial
	// file (its path) holding verified bytes of total.
	Resumed func(part string, verified, total int64)
}

// partState is the sidecar file that lets an interrupted download resume:
// which chunks of the partial file are verified and written.
type partState struct {
	ID    string `json:"id"`
	Size  int64  `json:"size"`
	Chunk int64  `json:"chunk"`
	Done  []bool `json:"done"`
}

// PartSuffix is appended to the output path while a download is running;
// StateSuffix names its resume state.
const (
	PartSuffix  = ".charter-part"
	StateSuffix = ".charter-part.json"
)

// DownloadFile downloads id to path, fetching ranges in parallel and
// verifying every byte before it is written. An interrupted download
// resumes from its partial file. The file appears at path only once
// complete; if verification fails, the partial file is removed and the
// error names the bad range.
//
// The partial file, its resume state and the file itself are written
// through an os.Root opened on path's folder, so a symbolic link planted
// beside path cannot lead the writes out of that folder. A download refused
// before any byte was verified leaves nothing behind.
func (c *Client) DownloadFile(ctx context.Context, id content.ID, path string, opt DownloadOptions) (int64, error) {
	root, err := os.OpenRoot(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("cannot write %s: folder %s does not exist\nhint: create it first, or write somewhere else", path, filepath.Dir(path))
	}
	if err != nil {
		return 0, fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer root.Close()
	return c.downloadIn(ctx, root, filepath.Base(path), id, opt)
}

// downloadIn is DownloadFile for the file name inside root.
func (c *Client) downloadIn(ctx context.Context, root *os.Root, name string, id content.ID, opt DownloadOptions) (int64, error) {
	info, err := c.Info(ctx, id)
	if err != nil {
		return 0, err
	}
	if opt.Total != nil {
		opt.Total(info.Size)
	}
	part, statePath := name+PartSuffix, name+StateSuffix
	chunk := c.chunkSize()
	nchunks := int((info.Size + chunk - 1) / chunk)
	st := partState{ID: id.String(), Size: info.Size, Chunk: chunk, Done: make([]bool, nchunks)}
	resumed := false
	if b, err := root.ReadFile(statePath); err == nil {
		var old partState
		if json.Unmarshal(b, &old) == nil && old.ID == st.ID && old.Size == st.Size && old.Chunk == st.Chunk && len(old.Done) == nchunks {
			if fi, err := root.Lstat(part); err == nil && fi.Mode().IsRegular() && fi.Size() == info.Size {
				st, resumed = old, true
			}
		}
	}
	if fi, err := root.Lstat(part); err == nil && !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %s is not a regular file; not writing through it\nhint: remove it, or download into a new folder", ErrUnsafePath, filepath.Join(root.Name(), part))
	}
	f, err := root.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("cannot write %s: %w", filepath.Join(root.Name(), part), err)
	}
	// Large downloads write their verified blocks with direct I/O where
	// the file system allows it: no copy into the page cache, no
	// writeback left for the final fsync (directfile_linux.go).
	var direct *directFile
	if info.Size >= directAbove {
		direct = openDirect(root, part)
	}
	if direct != nil {
		defer direct.Close()
	}
	var done atomic.Int64
	fail := func(err error) (int64, error) {
		f.Close()
		// Keep a partial file only when it holds verified bytes to
		// resume from.
		if errors.Is(err, content.ErrCorrupt) || (!resumed && done.Load() == 0) {
			root.Remove(part)
			root.Remove(statePath)
		}
		return 0, err
	}
	if err := f.Truncate(info.Size); err != nil {
		return fail(err)
	}
	for i, d := range st.Done {
		if d {
			done.Add(min(chunk, info.Size-int64(i)*chunk))
		}
	}
	if resumed && opt.Resumed != nil {
		opt.Resumed(filepath.Join(root.Name(), part), done.Load(), info.Size)
	}
	if opt.Progress != nil {
		opt.Progress(done.Load())
	}
	var mu sync.Mutex
	save := func() error {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(st)
		return writeFileAtomic(root, statePath, b)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, c.Parallel))
	for i := range nchunks {
		if st.Done[i] {
			continue
		}
		off := int64(i) * chunk
		n := min(chunk, info.Size-off)
		g.Go(func() error {
			w := &progressWriter{w: &partWriter{f: f, direct: direct, off: off}, fn: func(k int64) {
				v := done.Add(k)
				if opt.Progress != nil {
					opt.Progress(v)
				}
			}}
			if err := c.fetch(gctx, id, off, n, w, info.Size); err != nil {
				return err
			}
			mu.Lock()
			st.Done[i] = true
			mu.Unlock()
			return save()
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	if info.Size == 0 {
		if err := c.fetch(ctx, id, 0, 0, io.Discard, 0); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := root.Rename(part, name); err != nil {
		return 0, err
	}
	root.Remove(statePath)
	return info.Size, nil
}

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

func writeFileAtomic(root *os.Root, name string, b []byte) error {
	tmp := name + ".tmp"
	if err := root.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return root.Rename(tmp, name)
}
