package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// Batch upload tuning: how many small files go in one request, and how many
// requests are in flight at once. A batch is built in memory (its signed
// Content-Digest must be known before it is sent), so BatchBytes ×
// BatchInFlight bounds the memory a put of small files uses.
const (
	BatchFiles    = 256
	BatchBytes    = 4 << 20
	BatchInFlight = 4
)

// batchFile is one file of a batch upload.
type batchFile struct {
	path  string // dataset path, for messages
	local string // file to read
	id    content.ID
	size  int64
}

// ErrBatchUnsupported reports a server without POST /v1/blobs/batch.
var ErrBatchUnsupported = errors.New("client: the server takes no batch uploads")

// putSmall uploads, in batches (POST /v1/blobs/batch) with BatchInFlight
// requests at a time, every file of files that send lists and that is at
// most api.MaxBatchBlobSize bytes, and removes each from send once the
// server stored it. progress, when set, is called with the bytes stored so
// far. A server from before batch uploads leaves send as it was and
// returns nil: the caller uploads the files one by one.
func (c *Client) putSmall(ctx context.Context, files []content.File, local map[string]string, send map[content.ID]bool, progress func(int64)) error {
	var small []batchFile
	queued := map[content.ID]bool{}
	for _, f := range files {
		if !send[f.ID] || queued[f.ID] || f.Size > api.MaxBatchBlobSize {
			continue
		}
		queued[f.ID] = true
		small = append(small, batchFile{path: f.Path, local: local[f.Path], id: f.ID, size: f.Size})
	}
	if len(small) == 0 {
		return nil
	}
	var batches [][]batchFile
	for start := 0; start < len(small); {
		end, body := start, 0
		for end < len(small) && end-start < BatchFiles && (end == start || body+int(small[end].size)+api.MaxBatchHeader <= BatchBytes) {
			body += int(small[end].size) + api.MaxBatchHeader
			end++
		}
		batches = append(batches, small[start:end])
		start = end
	}
	var sent atomic.Int64
	var mu sync.Mutex
	done := func(b []batchFile) {
		mu.Lock()
		for _, f := range b {
			delete(send, f.id)
		}
		mu.Unlock()
		n := int64(0)
		for _, f := range b {
			n += f.size
		}
		if v := sent.Add(n); progress != nil {
			progress(v)
		}
	}
	// Every batch at once (BatchInFlight at a time), the first too: a
	// server without batch uploads refuses each with 404 and keeps
	// nothing, and the files are then sent one by one.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(BatchInFlight)
	for _, b := range batches {
		g.Go(func() error {
			if err := c.putBatch(gctx, b); err != nil {
				return err
			}
			done(b)
			return nil
		})
	}
	err := g.Wait()
	if errors.Is(err, ErrBatchUnsupported) {
		return nil
	}
	return err
}

// putBatch sends one batch: each file framed as "ID SIZE\n" and its bytes,
// signed with the client's key over the body's SHA-256.
func (c *Client) putBatch(ctx context.Context, files []batchFile) error {
	var body bytes.Buffer
	n := 0
	for _, f := range files {
		n += api.MaxBatchHeader + int(f.size) + 1
	}
	body.Grow(n) // once: growing by doubling cleared and copied it over and over
	hdr := make([]byte, 0, api.MaxBatchHeader)
	for _, f := range files {
		hdr = api.AppendBatchHeader(hdr[:0], f.id, f.size)
		body.Write(hdr)
		n, err := readFileInto(&body, f.local, f.size)
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if n != f.size {
			return fmt.Errorf("%s changed while it was uploaded (%d bytes, now %d)", f.path, f.size, n)
		}
	}
	digest, err := httpsig.ContentDigest(bytes.NewReader(body.Bytes()))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/blobs/batch", nil), bytes.NewReader(body.Bytes()))
	if err != nil {
		return err
	}
	req.ContentLength = int64(body.Len())
	req.Header.Set("Content-Type", api.MediaBatch)
	req.Header.Set(httpsig.ContentDigestHeader, digest)
	if err := httpsig.Sign(req, c.key, time.Now()); err != nil {
		return err
	}
	resp, err := c.do(req)
	var e *Error
	if errors.As(err, &e) && (e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusMethodNotAllowed) {
		return ErrBatchUnsupported
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ans api.BatchAnswer
	if err := decodeJSON(resp.Body, &ans); err != nil {
		return err
	}
	if len(ans.Blobs) != len(files) {
		return fmt.Errorf("client: malformed answer from server: %d results for %d blobs", len(ans.Blobs), len(files))
	}
	var errs []error
	for i, r := range ans.Blobs {
		f := files[i]
		switch {
		case r.ID != f.id.String():
			return fmt.Errorf("client: malformed answer from server: result %d is for %s, sent %s", i, r.ID, f.id)
		case r.Problem != nil:
			errs = append(errs, fmt.Errorf("%s: %w", f.path, &Error{Problem: *r.Problem}))
		case r.Size != f.size:
			errs = append(errs, fmt.Errorf("%s: server stored %d bytes, the file has %d", f.path, r.Size, f.size))
		}
	}
	return errors.Join(errs...)
}

// readFileInto appends the first size+1 bytes of file to buf and returns
// how many there were.
func readFileInto(buf *bytes.Buffer, file string, size int64) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf.Grow(int(size))
	return buf.ReadFrom(io.LimitReader(f, size+1))
}

// monotone returns progress reporting only values above the largest so
// far: PutDir reports the batched files first and then counts every file
// in order.
func monotone(progress func(done, total int64)) func(done, total int64) {
	if progress == nil {
		return nil
	}
	var most int64 = -1
	var mu sync.Mutex
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done > most {
			most = done
			progress(done, total)
		}
	}
}
