package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/zeebo/blake3"
)

// Kinds of stored object.
const (
	KindBlob    = "blob"
	KindDataset = "dataset"
)

// BlobInfo describes a stored object (api.BlobInfo).
type BlobInfo = api.BlobInfo

// PutOptions tune an upload.
type PutOptions struct {
	// Kind is KindBlob (default) or KindDataset.
	Kind string
	// Want, when set, is the id the caller expects; the server keeps
	// nothing if the bytes do not match it.
	Want *content.ID
	// Progress, when set, is called with the number of bytes sent so far.
	Progress func(sent int64)
	// Always sends the bytes without asking first whether the server
	// holds them (see Put).
	Always bool
	// Resumed, when set, is called when a resumable upload (resume.go)
	// continues one that was interrupted, with the bytes the server
	// already held.
	Resumed func(held int64)
}

// ErrServerLied reports a server that answered with an id other than the
// one the client computed over the bytes it sent.
var ErrServerLied = errors.New("client: server's content id differs from the id of the bytes sent")

// Put stores r on the server (size may be -1 when unknown), signed with
// the client's key (WithKey). Input that cannot be re-read is first spooled
// to a temporary file. Unless opt.Always is set, the client asks first:
// it hashes the input locally (or takes opt.Want) and asks the server
// whether it holds that id (POST /v1/blobs/missing); content the server
// holds is not sent again, and the answer has Created false. Otherwise the
// client sends the input declaring its id, which binds the body to the
// request's signature (no Content-Digest, so no SHA-256 pass), hashes the
// bytes as it sends them and checks the server's answer against its own
// hash. With opt.Always and no opt.Want, the input is read twice: once for
// the signed Content-Digest, once to send it.
func (c *Client) Put(ctx context.Context, r io.Reader, size int64, opt PutOptions) (BlobInfo, error) {
	if c.key == nil {
		return BlobInfo{}, ErrNoKey
	}
	if !opt.Always {
		rs, n, cleanup, err := seekable(r, size)
		if err != nil {
			return BlobInfo{}, err
		}
		defer cleanup()
		info, stored, err := c.askFirst(ctx, rs, n, &opt)
		if err != nil || stored {
			return info, err
		}
		if info, done, err := c.putResumable(ctx, rs, n, opt); done || err != nil {
			return info, err // resume.go
		}
		r, size = rs, n
	}
	if opt.Always && opt.Want != nil && size >= 0 {
		// A large file of a dataset (PutDir asked first for all files).
		if rs, ok := r.(io.ReadSeeker); ok {
			if info, done, err := c.putResumable(ctx, rs, size, opt); done || err != nil {
				return info, err // resume.go
			}
		}
	}
	info, local, err := c.put(ctx, r, size, opt)
	var e *Error
	if errors.As(err, &e) && strings.HasSuffix(e.Problem.Type, "/corrupt-stored-copy") && opt.Want == nil {
		// The server's copy is bad: send the bytes again, declaring their
		// id, so the server replaces its copy.
		if sk, ok := r.(io.Seeker); ok {
			if _, err := sk.Seek(0, io.SeekStart); err == nil {
				opt.Want = &local
				info, _, err = c.put(ctx, r, size, opt)
				return info, err
			}
		}
	}
	return info, err
}

// ErrNoKey reports an upload by a client that has no key to sign it with.
var ErrNoKey = errors.New("client: uploads are signed, and this client has no key\nhint: make one with `charter key new`; in Go, call Client.WithKey")

// WithKey returns a client that signs uploads with key (RFC 9421): the
// server stores only signed uploads and charges them to the key's quota.
func (c *Client) WithKey(key *identity.Key) *Client {
	c2 := *c
	c2.key = key
	return &c2
}

// Key returns the key the client signs uploads with, or nil.
func (c *Client) Key() *identity.Key { return c.key }

func (c *Client) put(ctx context.Context, r io.Reader, size int64, opt PutOptions) (BlobInfo, content.ID, error) {
	if c.key == nil {
		return BlobInfo{}, content.ID{}, ErrNoKey
	}
	q := url.Values{}
	if opt.Kind != "" {
		q.Set("kind", opt.Kind)
	}
	if opt.Want != nil {
		q.Set("id", opt.Want.String())
	}
	// The signature covers the body's SHA-256 (Content-Digest), which must
	// be known before the body is sent: read the input once to digest it,
	// then again to send it. Input that cannot be re-read is spooled to a
	// temporary file first. A declared id binds the body instead (see
	// below): then the input is read once.
	rs, ok := r.(io.ReadSeeker)
	if opt.Want != nil && size >= 0 && !ok {
		rs, ok = noSeek{r}, true
	}
	if !ok || size < 0 {
		f, err := os.CreateTemp("", "charter-put-*")
		if err != nil {
			return BlobInfo{}, content.ID{}, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if size, err = io.Copy(f, r); err != nil {
			return BlobInfo{}, content.ID{}, err
		}
		rs = f
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return BlobInfo{}, content.ID{}, err
		}
	}
	// A declared id binds the body to the signature (the server keeps
	// nothing that does not hash to it): no SHA-256 pass then.
	digest, err := "", error(nil)
	if opt.Want == nil {
		if digest, err = digestOf(rs, size); err != nil {
			return BlobInfo{}, content.ID{}, err
		}
	}
	// With a declared id the server checks the bytes against it, and
	// says so: the client need not hash them again as it sends them.
	var h *blake3.Hasher
	var hw io.Writer
	if opt.Want == nil {
		h = blake3.New()
		hw = h
	}
	var src io.Reader = rs
	if ns, ok := rs.(noSeek); ok {
		src = ns.Reader
	}
	body, stopProgress := sendBody(src, size, hw, opt.Progress)
	defer stopProgress()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/blobs", q), body)
	if err != nil {
		return BlobInfo{}, content.ID{}, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody // else net/http sends an empty body chunked, without a length
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var signOpts []httpsig.SignOption
	if digest != "" {
		req.Header.Set(httpsig.ContentDigestHeader, digest)
	} else {
		signOpts = append(signOpts, httpsig.WithBodyBoundElsewhere())
	}
	if err := httpsig.Sign(req, c.key, time.Now(), signOpts...); err != nil {
		return BlobInfo{}, content.ID{}, err
	}
	resp, err := c.do(req)
	var local content.ID
	if h != nil {
		var d [32]byte
		h.Sum(d[:0])
		local = content.IDFromDigest(d)
	}
	if err != nil {
		return BlobInfo{}, local, err
	}
	defer resp.Body.Close()
	var info BlobInfo
	if err := decodeJSON(resp.Body, &info); err != nil {
		return info, local, err
	}
	if opt.Want != nil {
		// The server may answer without reading the body when it already
		// holds the declared id.
		local = *opt.Want
	}
	if info.ID != local.String() {
		return info, local, fmt.Errorf("%w: server says %s, sent bytes hash to %s", ErrServerLied, info.ID, local)
	}
	return info, local, nil
}

// digestOf returns the Content-Digest of the next size bytes of rs and
// rewinds it.
func digestOf(rs io.ReadSeeker, size int64) (string, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", err
	}
	counted := &countingReader{r: io.LimitReader(rs, size+1)}
	digest, err := httpsig.ContentDigest(counted)
	if err != nil {
		return "", err
	}
	if counted.n != size {
		return "", fmt.Errorf("client: the input changed while it was read: %d bytes, expected %d", counted.n, size)
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	return digest, nil
}

// seekable returns r as a ReadSeeker of known size, spooling it to a
// temporary file when it is not one; cleanup removes the file.
func seekable(r io.Reader, size int64) (io.ReadSeeker, int64, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok && size >= 0 {
		return rs, size, func() {}, nil
	}
	f, err := os.CreateTemp("", "charter-put-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, n, cleanup, nil
}

// askFirst hashes rs (unless opt.Want names the id) and asks the server
// whether it holds the content. If it does, stored is true and info
// describes it; otherwise rs is rewound and opt.Want set to the local id,
// so the upload that follows is checked against it.
func (c *Client) askFirst(ctx context.Context, rs io.ReadSeeker, size int64, opt *PutOptions) (info BlobInfo, stored bool, err error) {
	id := opt.Want
	if id == nil {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return info, false, err
		}
		local, n, err := hashInput(ctx, io.LimitReader(rs, size+1), size)
		if err != nil {
			return info, false, err
		}
		if n != size {
			return info, false, fmt.Errorf("client: the input changed while it was read: %d bytes, expected %d", n, size)
		}
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return info, false, err
		}
		id = &local
	}
	missing, err := c.Missing(ctx, []content.ID{*id})
	var e *Error
	if errors.As(err, &e) && (e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusMethodNotAllowed) {
		missing, err = []content.ID{*id}, nil // a server from before the question: send
	}
	if err != nil {
		return info, false, err
	}
	if len(missing) == 0 {
		kind := KindBlob
		if opt.Kind != "" {
			kind = opt.Kind
		}
		return BlobInfo{ID: id.String(), Size: size, Kind: kind}, true, nil
	}
	opt.Want = id
	return info, false, nil
}

// hashBufs holds HashReader's 1 MiB buffers: a put of many small files
// hashes each, and a fresh buffer a file cost more than the hashing.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// HashReader returns the content id of the bytes of r and their number:
// one local BLAKE3 pass, what Put does before asking the server.
func HashReader(r io.Reader) (content.ID, int64, error) {
	h := blake3.New()
	buf := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(buf)
	n, err := io.CopyBuffer(h, r, *buf)
	if err != nil {
		return content.ID{}, n, err
	}
	var d [32]byte
	h.Sum(d[:0])
	return content.IDFromDigest(d), n, nil
}

// parallelHashAbove is the size from which hashInput hashes on several
// goroutines (content.Hash): below it, starting them costs more than
// they save.
const parallelHashAbove = 8 << 20

// serialHash makes hashInput hash on one goroutine at every size (tests
// and benchmarks time the two).
var serialHash bool

// hashInput is HashReader for an input of the given size: content.Hash
// for a large one, which hashes on both cores of a two-core machine while
// reading (a first put of 1 GiB waited 0.7-1.0 s for its hash instead of
// 1.4-1.6 s at load 10, same CPU).
func hashInput(ctx context.Context, r io.Reader, size int64) (content.ID, int64, error) {
	if size < parallelHashAbove || serialHash {
		return HashReader(r)
	}
	info, err := content.Hash(ctx, r)
	return info.ID, info.Size, err
}

// Missing returns the ids among ids that the server does not hold (or
// holds a copy of that failed verification), in order: the ones an upload
// must send. It asks in batches of api.MaxMissingIDs. The server's answer
// grants nothing; it is what GET /v1/blobs/{id}/info tells anyone.
func (c *Client) Missing(ctx context.Context, ids []content.ID) ([]content.ID, error) {
	var out []content.ID
	for len(ids) > 0 {
		batch := ids[:min(len(ids), api.MaxMissingIDs)]
		ids = ids[len(batch):]
		req := api.MissingRequest{IDs: make([]string, len(batch))}
		asked := make(map[string]bool, len(batch))
		for i, id := range batch {
			req.IDs[i] = id.String()
			asked[req.IDs[i]] = true
		}
		var ans struct {
			Missing *[]string `json:"missing"`
		}
		if err := c.postJSON(ctx, "/v1/blobs/missing", req, &ans); err != nil {
			return nil, err
		}
		if ans.Missing == nil {
			return nil, errors.New(`client: malformed answer from server: no "missing" list`)
		}
		for _, v := range *ans.Missing {
			id, err := content.ParseID(v)
			if err != nil || !asked[v] {
				return nil, fmt.Errorf("client: malformed answer from server: %q was not asked about", v)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// noSeek passes a reader that is read once, from where it is, as a
// ReadSeeker; put never seeks it when the id is declared.
type noSeek struct{ io.Reader }

func (noSeek) Seek(int64, int) (int64, error) {
	return 0, errors.New("client: internal error: seek on a one-pass input")
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.n)
	}
	return n, err
}

// Info returns what the server holds under id.
func (c *Client) Info(ctx context.Context, id content.ID) (BlobInfo, error) {
	var info BlobInfo
	err := c.getJSON(ctx, "/v1/blobs/"+id.String()+"/info", nil, &info)
	return info, err
}

// FetchRange writes the verified bytes [off, off+n) of id to w. Nothing
// that fails verification reaches w; the error then wraps
// content.ErrCorrupt and names the bad range.
func (c *Client) FetchRange(ctx context.Context, id content.ID, off, n int64, w io.Writer) error {
	return c.fetch(ctx, id, off, n, w, -1)
}

// ErrWrongSize reports a server whose stated size of some content is not
// the size its verified slices prove.
var ErrWrongSize = errors.New("client: the content's proven size differs from the size the server stated")

// fetch is FetchRange for content the server said has total bytes: when the
// range reaches that end, the slice proves the real size, which must match,
// so a server cannot cut a download short by understating the size.
func (c *Client) fetch(ctx context.Context, id content.ID, off, n int64, w io.Writer, total int64) error {
	resp, err := c.openSlice(ctx, id, off, n)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return c.verifySlice(resp, id, off, n, w, total)
}

// openSlice asks for the slice of [off, off+n) of id and returns the
// response once its headers arrived.
func (c *Client) openSlice(ctx context.Context, id content.ID, off, n int64) (*http.Response, error) {
	q := url.Values{"offset": {strconv.FormatInt(off, 10)}, "length": {strconv.FormatInt(n, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/blobs/"+id.String()+"/slice", q), nil)
	if err != nil {
		return nil, err
	}
	// Either layout is verified the same way; the split one lets the
	// server send the data from its file without copying it, and this
	// client hash it in large blocks. A server that does not know it
	// sends the plain slice.
	// A server with direct reads on may answer the split layout's tree
	// with a presigned URL of its data (direct.go).
	accept := mediaSliceSplit + ", " + mediaSlice
	if c.directOK() {
		accept = mediaSliceDirect + ", " + accept
	}
	req.Header.Set("Accept", accept)
	return c.do(req)
}

// Media types of a verified range (server.MediaSlice, MediaSliceSplit).
const (
	mediaSlice      = "application/vnd.charter.bao-slice"
	mediaSliceSplit = "application/vnd.charter.bao-slice-split"
)

// verifyBuffers holds the blocks split slices are verified in, aligned to
// directAlign so that a download can write them to its file with direct
// I/O (directfile_linux.go).
var verifyBuffers = sync.Pool{New: func() any {
	b := alignedBlock(verifyBlock)
	return &b
}}

// verifyBlock is the size of the blocks a split slice's data is read,
// hashed and written in.
const verifyBlock = 1 << 20

// verifySlice verifies the slice in resp and writes its bytes to w (see
// fetch).
func (c *Client) verifySlice(resp *http.Response, id content.ID, off, n int64, w io.Writer, total int64) error {
	var size int64
	var err error
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	switch ct = strings.TrimSpace(ct); ct {
	case mediaSliceDirect:
		body, derr := c.openDirect(resp)
		if derr != nil {
			// Nothing was written: ask again, served by the server.
			return c.refetch(resp, id, off, n, w, total, derr)
		}
		defer body.Close()
		buf := verifyBuffers.Get().(*[]byte)
		size, err = content.VerifySplit(w, io.MultiReader(resp.Body, body), id, off, n, *buf)
		verifyBuffers.Put(buf)
	case mediaSliceSplit:
		// Verified blocks of up to 1 MiB, each written once, straight
		// from the block it was hashed in.
		buf := verifyBuffers.Get().(*[]byte)
		size, err = content.VerifySplit(w, resp.Body, id, off, n, *buf)
		verifyBuffers.Put(buf)
	default:
		// The plain layout yields one 16 KiB group at a time: write
		// them in larger pieces. What was verified before a failure is
		// written too.
		bw := bufio.NewWriterSize(w, verifyBlock)
		size, err = content.VerifyRange(bw, resp.Body, id, off, n)
		if ferr := bw.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("content: writing verified bytes: %w", ferr)
		}
	}
	if err != nil {
		if errors.Is(err, content.ErrCorrupt) {
			c.report(id, off, n)
		}
		return fmt.Errorf("%s bytes %d-%d: %w", id, off, off+n, err)
	}
	if total >= 0 && off+n == total && size != total {
		return fmt.Errorf("%w: %s: stated %d bytes, proven %d", ErrWrongSize, id, total, size)
	}
	return nil
}

// report tells the server that a range failed verification, so it checks
// its own copy. Failures to report are ignored: the download fails anyway.
func (c *Client) report(id content.ID, off, n int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30e9)
	defer cancel()
	c.postJSON(ctx, "/v1/blobs/"+id.String()+"/verify", map[string]int64{"offset": off, "length": n}, nil)
}

// Stream writes the whole verified content of id to w, in order. It asks
// for ranges of StreamChunkSize bytes, one at a time into w, and sends the
// request for the next range while the current one is read, so a range's
// round trip overlaps the transfer of the one before; the bytes of the
// range ahead wait in the connection's buffers, not in memory here. A range
// that fails verification stops the stream: w has then received the
// verified bytes before the bad 16 KiB group, and nothing after.
func (c *Client) Stream(ctx context.Context, id content.ID, w io.Writer, progress func(int64)) (int64, error) {
	info, err := c.Info(ctx, id)
	if err != nil {
		return 0, err
	}
	if info.Size == 0 {
		return 0, c.fetch(ctx, id, 0, 0, w, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunk := c.StreamChunkSize
	if chunk <= 0 {
		chunk = DefaultStreamChunk
	}
	chunk = (chunk + content.GroupSize - 1) / content.GroupSize * content.GroupSize
	type pending struct {
		off, n int64
		resp   *http.Response
		err    error
		ready  chan struct{}
	}
	open := func(off int64) *pending {
		p := &pending{off: off, n: min(chunk, info.Size-off), ready: make(chan struct{})}
		go func() {
			defer close(p.ready)
			p.resp, p.err = c.openSlice(ctx, id, p.off, p.n)
		}()
		return p
	}
	var done int64
	next := open(0)
	defer func() {
		if next != nil {
			<-next.ready
			if next.resp != nil {
				next.resp.Body.Close()
			}
		}
	}()
	for next != nil {
		cur := next
		next = nil
		<-cur.ready
		if cur.err != nil {
			return done, cur.err
		}
		if end := cur.off + cur.n; end < info.Size {
			next = open(end)
		}
		err := c.verifySlice(cur.resp, id, cur.off, cur.n, w, info.Size)
		cur.resp.Body.Close()
		done += cur.n
		if err != nil {
			return done - cur.n, err
		}
		if progress != nil {
			progress(done)
		}
	}
	return done, nil
}

// DefaultStreamChunk is the range Stream asks for in one request when
// StreamChunkSize is not set: a blob up to 1 GiB is one request, which the
// server serves from its store in one read of each part (for S3, one GET
// of the whole object, the cheapest read an S3 server has).
const DefaultStreamChunk = 1 << 30

func (c *Client) chunkSize() int64 {
	cs := c.ChunkSize
	if cs <= 0 {
		cs = 8 << 20
	}
	return (cs + content.GroupSize - 1) / content.GroupSize * content.GroupSize
}
