package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/charter-dev/charter/content"
)

// Direct reads (server.MediaSliceDirect, docs/spec/verified-ranges.md
// "Direct data"): a server with direct reads on answers a verified range
// with its tree and a presigned URL of the widened data on its S3 store.
// The client fetches the data there and verifies it against the tree
// exactly as the split layout's data (content.VerifySplit): nothing
// unverified reaches the writer. When the store cannot be reached or
// refuses the URL (before any byte was written), the client stops asking
// for direct reads and asks the server for the range again, which it then
// serves itself: the range is charged twice that once (the URL was paid
// for when it was issued).
const mediaSliceDirect = "application/vnd.charter.bao-slice-direct"

// Headers of a direct answer (server.HeaderDataURL, ...).
const (
	headerDataURL   = "Charter-Data-URL"
	headerDataRange = "Charter-Data-Range"
)

// directHC fetches presigned data. It is a plain client: neither the
// request signature nor the grant go to the store, and it follows no
// redirect (the URL names exactly what was signed).
var directHC = &http.Client{
	Transport: func() http.RoundTripper {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		tr.DisableCompression = true
		tr.ReadBufferSize = 256 << 10
		return tr
	}(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// errDirect marks a presigned fetch that failed before any byte.
var errDirect = errors.New("client: the store refused or could not be reached for the presigned data range")

func (c *Client) directOK() bool { return c.noDirect != nil && !c.noDirect.Load() }

// openDirect starts the GET of the data part resp's headers name. On
// failure it turns direct reads off for c and its copies.
func (c *Client) openDirect(resp *http.Response) (io.ReadCloser, error) {
	fail := func(format string, a ...any) (io.ReadCloser, error) {
		if c.noDirect != nil {
			c.noDirect.Store(true)
		}
		return nil, fmt.Errorf("%w: "+format, append([]any{errDirect}, a...)...)
	}
	if !c.directOK() {
		return nil, errors.New("client: the server sent a presigned data range this client did not ask for")
	}
	raw, rng := resp.Header.Get(headerDataURL), resp.Header.Get(headerDataRange)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (rng != "" && !strings.HasPrefix(rng, "bytes=")) {
		return fail("the server's direct answer names no usable URL and range")
	}
	req, err := http.NewRequestWithContext(resp.Request.Context(), http.MethodGet, raw, nil)
	if err != nil {
		return fail("%v", err)
	}
	want := http.StatusOK // the whole blob: no Range
	if rng != "" {
		req.Header.Set("Range", rng)
		want = http.StatusPartialContent
	}
	req.Header.Set("User-Agent", "charter")
	dr, err := directHC.Do(req)
	if err != nil {
		return fail("%v", err)
	}
	if dr.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(dr.Body, 512))
		dr.Body.Close()
		return fail("%s: %.200s", dr.Status, b)
	}
	return dr.Body, nil
}

// refetch asks for [off, off+n) of id again after a direct fetch failed
// with why, and verifies that answer instead.
func (c *Client) refetch(resp *http.Response, id content.ID, off, n int64, w io.Writer, total int64, why error) error {
	if !errors.Is(why, errDirect) {
		return why
	}
	again, err := c.openSlice(resp.Request.Context(), id, off, n)
	if err != nil {
		return fmt.Errorf("%w (after: %v)", err, why)
	}
	defer again.Body.Close()
	return c.verifySlice(again, id, off, n, w, total)
}

// SetDirectReads turns asking for presigned data ranges on (the default)
// or off, for c and the clients derived from it (WithKey, WithGrant, ...).
// Off, the server sends every byte itself; a client that knows it cannot
// reach the server's S3 store turns it off so as not to pay for a URL it
// cannot use.
func (c *Client) SetDirectReads(on bool) {
	if c.noDirect == nil {
		c.noDirect = new(atomic.Bool)
	}
	c.noDirect.Store(!on)
}
