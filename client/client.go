// Package client is the Go SDK for a Charter server. The charter CLI is a
// thin shell over it.
//
// Every byte a download returns has been verified against the content id
// the caller asked for: data arrives as Bao slices (data plus proof nodes)
// and only verified bytes are written to the caller's writer.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/charter-dev/charter/identity"
)

// DefaultServer is the server address used when none is given.
const DefaultServer = "http://127.0.0.1:7070"

// Client talks to one Charter server.
type Client struct {
	base *url.URL
	hc   *http.Client
	// Parallel is the number of ranges a download fetches at once.
	Parallel int
	// ChunkSize is the size of each range of a parallel download; a
	// multiple of content.GroupSize.
	ChunkSize int64
	// StreamChunkSize is the size of each range Stream asks for (default
	// DefaultStreamChunk); a multiple of content.GroupSize.
	StreamChunkSize int64
	// ResumeAbove is the size above which Put sends a file as a resumable
	// upload, in parts (resume.go): 0 means DefaultResumeAbove, negative
	// never.
	ResumeAbove int64
	// key signs uploads (see WithKey).
	key *identity.Key
	// grant is sent with every request when set (see WithGrant).
	grant string
	// session names this client's download session (header
	// Charter-Session, sent with every request under a grant); the
	// server's receipts are per grant and session. See Session and
	// CloseSession.
	session string
	// indexBase is the dataset index PutDir sends a new index against as
	// a delta (see WithIndexBase).
	indexBase *content.Index
	// noDirect is set once a presigned data URL could not be fetched
	// (direct.go): this client and its copies then stop asking for them.
	noDirect *atomic.Bool
}

// New returns a client for the server at addr (e.g. "http://127.0.0.1:7070").
func New(addr string) (*Client, error) {
	if addr == "" {
		addr = DefaultServer
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server address %q is not an http(s) URL\nhint: use e.g. --server http://127.0.0.1:7070", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.DisableCompression = true
	tr.WriteBufferSize = 256 << 10
	tr.ReadBufferSize = 256 << 10
	return &Client{base: u, hc: &http.Client{Transport: tr}, Parallel: 4, ChunkSize: 8 << 20, session: newSessionID(), noDirect: new(atomic.Bool)}, nil
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// Problem is the RFC 9457 problem document the server answers errors
// with (api.Problem).
type Problem = api.Problem

// Error is an error answer from the server.
type Error struct {
	Problem Problem
}

func (e *Error) Error() string {
	msg := e.Problem.Title
	if e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	if e.Problem.Hint != "" {
		msg += "\nhint: " + e.Problem.Hint
	}
	return fmt.Sprintf("server said %d %s", e.Problem.Status, msg)
}

// StatusCode returns the HTTP status of err if it is a server answer, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem.Status
	}
	return 0
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends req and turns non-2xx answers into *Error.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.grant != "" {
		req.Header.Set(HeaderGrant, c.grant)
		req.Header.Set(HeaderSession, c.session)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Charter server at %s: %w\nhint: start one with `charter serve` or pass --server", c.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, problemFrom(resp)
}

// problemFrom reads an error answer as a problem document.
func problemFrom(resp *http.Response) error {
	e := &Error{}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(body, &e.Problem); err != nil || e.Problem.Status == 0 {
		e.Problem = Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: strings.TrimSpace(string(body))}
	}
	return e
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, q), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp.Body, v)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path, nil), strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return decodeJSON(resp.Body, out)
}

func decodeJSON(r io.Reader, v any) error {
	if err := json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("client: malformed answer from server: %w", err)
	}
	return nil
}

// Health is the server's health report (api.Health).
type Health = api.Health

// Health fetches /healthz. A degraded server answers 503 with the same
// document, which Health returns without error.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/healthz", nil), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Charter server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	var h Health
	return &h, decodeJSON(resp.Body, &h)
}
