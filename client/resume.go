package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// DefaultResumeAbove is the size above which Put sends a file in parts
// that survive an interruption (Client.ResumeAbove).
const DefaultResumeAbove = 1 << 30

// putResumable sends the size bytes of rs, whose id opt.Want the client
// computed, as a resumable upload (docs/spec/resumable-uploads.md): it
// asks which parts the server holds already, sends the others, one signed
// request each, and asks the server to finish. An interrupted put thus
// resumes where it stopped, losing at most one part: the server, not the
// client, keeps the progress, so a resume needs no state on this machine
// and works from any machine with the same key. done is false when the
// upload is not resumable (too small, input without ReadAt, a server
// without resumable uploads): the caller then sends it whole.
func (c *Client) putResumable(ctx context.Context, rs io.ReadSeeker, size int64, opt PutOptions) (info BlobInfo, done bool, err error) {
	above := c.ResumeAbove
	if above == 0 {
		above = DefaultResumeAbove
	}
	ra, ok := rs.(io.ReaderAt)
	if above < 0 || size <= above || opt.Want == nil || !ok || opt.Kind == KindDataset {
		return info, false, nil
	}
	id := *opt.Want
	info, st, err := c.finishUpload(ctx, id, size)
	var e *Error
	if errors.As(err, &e) && (e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusMethodNotAllowed || e.Problem.Status == http.StatusNotImplemented) {
		return info, false, nil // a server without resumable uploads: send it whole
	}
	if err != nil || st == nil {
		return info, err == nil, err
	}
	if st.PartSize <= 0 || (size+st.PartSize-1)/st.PartSize > 1<<20 {
		return info, true, fmt.Errorf("client: malformed answer from server: part size %d", st.PartSize)
	}
	held := make(map[int]bool, len(st.Parts))
	for _, n := range st.Parts {
		held[n] = true
	}
	if st.Held > 0 && opt.Resumed != nil {
		opt.Resumed(st.Held)
	}
	sent := st.Held
	count := int((size + st.PartSize - 1) / st.PartSize)
	for n := range count {
		if held[n] {
			continue
		}
		off := int64(n) * st.PartSize
		part := io.NewSectionReader(ra, off, min(st.PartSize, size-off))
		base := sent
		if err := c.putPart(ctx, id, size, n, part, func(k int64) {
			if opt.Progress != nil {
				opt.Progress(base + k)
			}
		}); err != nil {
			return info, true, fmt.Errorf("part %d of %d (bytes %d-%d): %w\nhint: put the file again to resume from the parts the server holds", n+1, count, off, off+part.Size(), err)
		}
		sent += part.Size()
	}
	info, st, err = c.finishUpload(ctx, id, size)
	if err == nil && st != nil {
		err = fmt.Errorf("client: the server holds %d of %d parts after all were sent", len(st.Parts), count)
	}
	if err == nil && info.ID != id.String() {
		err = fmt.Errorf("%w: server says %s, sent bytes hash to %s", ErrServerLied, info.ID, id)
	}
	return info, true, err
}

// finishUpload asks the server to finish the resumable upload of id: it
// answers the stored blob (st nil) or which parts it holds.
func (c *Client) finishUpload(ctx context.Context, id content.ID, size int64) (BlobInfo, *api.UploadStatus, error) {
	q := url.Values{"size": {strconv.FormatInt(size, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/uploads/"+id.String(), q), nil)
	if err != nil {
		return BlobInfo{}, nil, err
	}
	if err := httpsig.Sign(req, c.key, time.Now()); err != nil {
		return BlobInfo{}, nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return BlobInfo{}, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		var info BlobInfo
		return info, nil, decodeJSON(resp.Body, &info)
	}
	var st api.UploadStatus
	if err := decodeJSON(resp.Body, &st); err != nil {
		return BlobInfo{}, nil, err
	}
	return BlobInfo{}, &st, nil
}

// putPart sends part n of the upload of id.
func (c *Client) putPart(ctx context.Context, id content.ID, size int64, n int, part *io.SectionReader, progress func(int64)) error {
	digest, err := digestOf(part, part.Size())
	if err != nil {
		return err
	}
	q := url.Values{"size": {strconv.FormatInt(size, 10)}}
	body := &progressReader{r: part, fn: progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v1/uploads/"+id.String()+"/"+strconv.Itoa(n), q), body)
	if err != nil {
		return err
	}
	req.ContentLength = part.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(httpsig.ContentDigestHeader, digest)
	if err := httpsig.Sign(req, c.key, time.Now()); err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
