package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
)

// getSmall restores into root, in batch reads (POST /v1/blobs/batch-read)
// with BatchInFlight requests at a time, every file of files of at most
// api.MaxBatchBlobSize bytes, verifying each blob whole. Each file is
// written under a temporary name; once all are, one flush of the file
// system makes them durable (syncfs on Linux, else an fsync per file) and
// they are renamed to their names, so a name never holds unverified or
// unflushed bytes. It returns the paths restored; a server from before
// batch reads restores nothing and returns no error. progress, when set,
// is called with the bytes restored so far.
func (c *Client) getSmall(ctx context.Context, root *os.Root, files []content.File, progress func(int64)) (map[string]bool, error) {
	byID := map[content.ID][]content.File{}
	var ids []content.ID
	for _, f := range files {
		if f.Size > api.MaxBatchBlobSize {
			continue
		}
		if _, ok := byID[f.ID]; !ok {
			ids = append(ids, f.ID)
		}
		byID[f.ID] = append(byID[f.ID], f)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Folders first, one at a time: a planted link is refused before
	// anything is created through it (mkdirNoLinks).
	// Each folder is then opened once (a Root of its own, under root):
	// files are written and renamed by their base names in it, instead
	// of root walking every path's folders again for each call.
	dirs := map[string]*os.Root{".": root}
	defer func() {
		for d, r := range dirs {
			if d != "." {
				r.Close()
			}
		}
	}()
	for _, id := range ids {
		for _, f := range byID[id] {
			if d := path.Dir(f.Path); dirs[d] == nil {
				if err := mkdirNoLinks(root, d); err != nil {
					return nil, err
				}
				sub, err := root.OpenRoot(filepath.FromSlash(d))
				if err != nil {
					return nil, err
				}
				dirs[d] = sub
			}
		}
	}
	// in returns the folder of dataset path p and p's base name in it.
	in := func(p string) (*os.Root, string) { return dirs[path.Dir(p)], path.Base(p) }
	var batches [][]content.ID
	for start := 0; start < len(ids); {
		end, bytes := start, int64(0)
		for end < len(ids) && end-start < BatchFiles && (end == start || bytes+byID[ids[end]][0].Size <= BatchBytes) {
			bytes += byID[ids[end]][0].Size
			end++
		}
		batches = append(batches, ids[start:end])
		start = end
	}
	var (
		mu      sync.Mutex
		written []string // temporary names, to rename or remove
		done    atomic.Int64
	)
	cleanup := func() {
		for _, p := range written {
			root.Remove(p)
		}
	}
	fetch := func(ctx context.Context, batch []content.ID) error {
		return c.readBatch(ctx, batch, func(id content.ID, b []byte) error {
			for _, f := range byID[id] {
				part := filepath.FromSlash(f.Path) + PartSuffix
				mu.Lock()
				written = append(written, part)
				mu.Unlock()
				dir, base := in(f.Path)
				if err := writeNew(dir, base+PartSuffix, b); err != nil {
					return fmt.Errorf("%s: %w", f.Path, err)
				}
				if v := done.Add(f.Size); progress != nil {
					progress(v)
				}
			}
			return nil
		}, func(id content.ID) int64 { return byID[id][0].Size })
	}
	// Every batch at once (BatchInFlight at a time), the first too: a
	// server without batch reads refuses each with 404, and the files are
	// then fetched one by one.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(BatchInFlight)
	for _, b := range batches {
		g.Go(func() error { return fetch(gctx, b) })
	}
	if err := g.Wait(); err != nil {
		cleanup()
		if errors.Is(err, ErrBatchUnsupported) {
			return nil, nil
		}
		return nil, err
	}
	if err := flushFiles(root, written); err != nil {
		cleanup()
		return nil, err
	}
	got := map[string]bool{}
	for _, id := range ids {
		for _, f := range byID[id] {
			dir, base := in(f.Path)
			if err := renameNoLink(dir, base+PartSuffix, base); err != nil {
				cleanup()
				return nil, err
			}
			got[f.Path] = true
		}
	}
	return got, nil
}

// writeNew writes b to name in root, refusing a name that exists as
// anything but a regular file (a planted link is not written through).
func writeNew(root *os.Root, name string, b []byte) error {
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file; not writing through it\nhint: remove it, or restore into a new folder", ErrUnsafePath, filepath.Join(root.Name(), name))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && syncEachFile {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// renameNoLink renames from to name unless name is a link or a folder.
func renameNoLink(root *os.Root, from, name string) error {
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file; not replacing it\nhint: restore into a new folder", ErrUnsafePath, filepath.Join(root.Name(), name))
	}
	return root.Rename(from, name)
}

// readBatch asks for the whole blobs ids in one batch read and calls got
// with each one's verified bytes, in order. size gives the size the
// caller knows for each id (from a verified dataset index): a blob of
// another size is an error.
func (c *Client) readBatch(ctx context.Context, ids []content.ID, got func(content.ID, []byte) error, size func(content.ID) int64) error {
	req := api.BatchReadRequest{IDs: make([]string, len(ids))}
	for i, id := range ids {
		req.IDs[i] = id.String()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/blobs/batch-read", nil), bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.do(hr)
	var e *Error
	if errors.As(err, &e) && (e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusMethodNotAllowed) {
		return ErrBatchUnsupported
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var buf bytes.Buffer
	for _, id := range ids {
		rec, err := readStreamHeader(br)
		if err != nil {
			return fmt.Errorf("batch read of %s: %w", id, err)
		}
		if rec.id != id {
			return fmt.Errorf("client: malformed answer from server: %s where %s was asked", rec.id, id)
		}
		if rec.problem != nil {
			return fmt.Errorf("%s: %w", id, &Error{Problem: *rec.problem})
		}
		if want := size(id); rec.size != want {
			return fmt.Errorf("%w: %s: stated %d bytes, the index says %d", ErrWrongSize, id, rec.size, want)
		}
		sliceLen, err := content.SliceSize(rec.size, 0, rec.size)
		if err != nil {
			return err
		}
		buf.Reset()
		lr := &io.LimitedReader{R: br, N: sliceLen}
		proven, err := content.VerifyRange(&buf, lr, id, 0, rec.size)
		if err == nil && proven != rec.size {
			err = fmt.Errorf("%w: %s: stated %d bytes, proven %d", ErrWrongSize, id, rec.size, proven)
		}
		if err == nil && lr.N != 0 {
			// VerifyRange reads ahead; what it left of the slice is
			// drained so the next record starts where it should.
			if _, derr := io.Copy(io.Discard, lr); derr != nil || lr.N != 0 {
				err = fmt.Errorf("batch read of %s: the answer ends inside a slice", id)
			}
		}
		if err != nil {
			if errors.Is(err, content.ErrCorrupt) {
				c.report(id, 0, rec.size)
			}
			return fmt.Errorf("%s: %w", id, err)
		}
		if err := got(id, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// streamRecord is the header of one record of a batch read's answer.
type streamRecord struct {
	id      content.ID
	size    int64
	problem *api.Problem
}

// maxStreamHeader bounds a header line of a batch read's answer, and
// maxStreamProblem the problem document after it.
const (
	maxStreamHeader  = 128
	maxStreamProblem = 64 << 10
)

// errStreamFormat reports an answer that is not a batch read stream.
var errStreamFormat = errors.New("client: malformed batch read answer from server")

// readStreamHeader reads "ID ok SIZE\n", or "ID problem LEN\n" and the
// problem document after it.
func readStreamHeader(br *bufio.Reader) (streamRecord, error) {
	var rec streamRecord
	b, err := br.Peek(maxStreamHeader)
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if err != nil && err != io.EOF {
			return rec, err
		}
		return rec, fmt.Errorf("%w: no record header", errStreamFormat)
	}
	line := string(b[:nl])
	br.Discard(nl + 1)
	fields := strings.Split(line, " ")
	if len(fields) != 3 {
		return rec, fmt.Errorf("%w: header %q", errStreamFormat, line)
	}
	id, err := content.ParseID(fields[0])
	if err != nil {
		return rec, fmt.Errorf("%w: %q is not a content id", errStreamFormat, fields[0])
	}
	n, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || n < 0 || n > api.MaxBatchBlobSize {
		return rec, fmt.Errorf("%w: size %q", errStreamFormat, fields[2])
	}
	rec.id = id
	switch fields[1] {
	case "ok":
		rec.size = n
	case "problem":
		if n > maxStreamProblem {
			return rec, fmt.Errorf("%w: problem of %d bytes", errStreamFormat, n)
		}
		raw := make([]byte, n)
		if _, err := io.ReadFull(br, raw); err != nil {
			return rec, err
		}
		var p api.Problem
		if err := json.Unmarshal(raw, &p); err != nil || p.Status == 0 {
			return rec, fmt.Errorf("%w: problem document %q", errStreamFormat, raw)
		}
		rec.problem = &p
	default:
		return rec, fmt.Errorf("%w: header %q", errStreamFormat, line)
	}
	return rec, nil
}
