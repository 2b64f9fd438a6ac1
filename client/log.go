package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/receipt"
)

func (c *Client) getText(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, nil), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("client: %s: answer over %d bytes", path, limit)
	}
	return b, nil
}

// LogKey fetches the log's checkpoint verifier key. Pin it (for example in
// a witness file) rather than fetching it every time.
func (c *Client) LogKey(ctx context.Context) (string, error) {
	b, err := c.getText(ctx, "/log/key", 4096)
	return strings.TrimSpace(string(b)), err
}

// LogCheckpoint fetches the latest signed checkpoint, unverified.
func (c *Client) LogCheckpoint(ctx context.Context) ([]byte, error) {
	return c.getText(ctx, "/log/checkpoint", 64<<10)
}

// LogProof fetches the receipt bundle of log entry index.
func (c *Client) LogProof(ctx context.Context, index uint64) (*receipt.Bundle, error) {
	var b receipt.Bundle
	err := c.getJSON(ctx, "/v1/log/proof/"+strconv.FormatUint(index, 10), nil, &b)
	return &b, err
}

// LogConsistency fetches the consistency proof from tree size old to the
// latest checkpoint, in its text form.
func (c *Client) LogConsistency(ctx context.Context, old uint64) ([]byte, error) {
	var a api.ConsistencyAnswer
	err := c.getJSON(ctx, "/v1/log/consistency", url.Values{"old": {strconv.FormatUint(old, 10)}}, &a)
	return []byte(a.Proof), err
}
