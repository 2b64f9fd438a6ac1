package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// WithIndexBase returns a client whose PutDir sends the dataset index as
// the changes to base, an earlier version of the dataset the server holds
// (docs/spec/dataset-index.md, "Delta"), when that is smaller: a new
// version of a 10,000-file dataset with 1% of its files changed then
// uploads the changed files and about 1% of its index, not the whole
// index again. A server that lacks base, or does not take deltas, gets
// the whole index. The charter CLI keeps the last index it put of each
// folder in its state folder and passes it here.
func (c *Client) WithIndexBase(base *content.Index) *Client {
	c2 := *c
	c2.indexBase = base
	return &c2
}

// putIndex stores the dataset index idx (encoded raw), as a delta against
// c.indexBase when there is one and the delta is smaller.
func (c *Client) putIndex(ctx context.Context, idx *content.Index, raw []byte) (BlobInfo, error) {
	full := func() (BlobInfo, error) {
		return c.Put(ctx, bytes.NewReader(raw), int64(len(raw)), PutOptions{Kind: KindDataset})
	}
	if c.indexBase == nil {
		return full()
	}
	baseRaw, err := c.indexBase.Encode()
	if err != nil {
		return full()
	}
	baseID, _, _ := HashReader(bytes.NewReader(baseRaw))
	id, _, _ := HashReader(bytes.NewReader(raw))
	if baseID == id {
		return full() // unchanged: asks first, sends nothing
	}
	delta, err := content.Diff(baseID, c.indexBase, idx).Encode()
	if err != nil || len(delta) >= len(raw)/2 {
		return full()
	}
	missing, err := c.Missing(ctx, []content.ID{id})
	if err == nil && len(missing) == 0 {
		return BlobInfo{ID: id.String(), Size: int64(len(raw)), Kind: KindDataset}, nil
	}
	info, err := c.putDelta(ctx, id, delta)
	var e *Error
	if errors.As(err, &e) && (strings.HasSuffix(e.Problem.Type, "/delta-base-missing") || strings.HasSuffix(e.Problem.Type, "/delta-mismatch") ||
		e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusUnsupportedMediaType) {
		return full()
	}
	return info, err
}

// putDelta sends delta, declaring id, the index it makes.
func (c *Client) putDelta(ctx context.Context, id content.ID, delta []byte) (BlobInfo, error) {
	if c.key == nil {
		return BlobInfo{}, ErrNoKey
	}
	q := url.Values{"id": {id.String()}, "kind": {KindDataset}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/blobs", q), bytes.NewReader(delta))
	if err != nil {
		return BlobInfo{}, err
	}
	req.Header.Set("Content-Type", content.DatasetDeltaMediaType)
	if err := httpsig.Sign(req, c.key, time.Now()); err != nil {
		return BlobInfo{}, err
	}
	resp, err := c.do(req)
	if err != nil {
		return BlobInfo{}, err
	}
	defer resp.Body.Close()
	var info BlobInfo
	if err := decodeJSON(resp.Body, &info); err != nil {
		return info, err
	}
	if info.ID != id.String() {
		return info, ErrServerLied
	}
	return info, nil
}
