package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
)

// Sending a range without copying it. A server that serves a blob's bytes
// as they are (the data part of a split slice) asks the reader to send
// them itself (blob.Sender). On an endpoint spoken to in plain HTTP the
// store then sends one presigned GET on a TCP connection of its own,
// reads the response headers, and hands the body to the writer as an
// *io.LimitedReader of that *net.TCPConn: a writer whose ReadFrom reaches
// a TCP socket (net/http's response does) moves the bytes socket to
// socket with splice(2), and they never enter this process. Anything else
// (HTTPS, a short range, a chunked or unexpected answer) is copied through
// the SDK's reader as before.
const (
	// sendMin is the shortest range sent on a connection of its own;
	// shorter ones go through the SDK's reader and its read-ahead.
	sendMin = 1 << 20
	// maxIdleSend is how many such connections a store keeps open.
	maxIdleSend = 4
)

// rawConn is an idle connection of the send path with its reader (which
// holds no bytes between responses).
type rawConn struct {
	c  *net.TCPConn
	br *bufio.Reader
}

// SetSplice turns the splice path of SendRange on (the default) or off;
// off, every range is copied through the SDK's reader. Benchmarks use it
// to compare both in one run.
func (s *Store) SetSplice(on bool) { s.noSplice.Store(!on) }

// SendRange implements blob.Sender: it writes bytes [off, off+n) of the
// blob to w, or fails; see "Sending a range without copying it".
func (r *reader) SendRange(w io.Writer, off, n int64) (int64, error) {
	if off < 0 || n < 0 || off+n > r.size {
		return 0, fmt.Errorf("s3: send %s: range %d+%d is outside its %d bytes", r.name, off, n, r.size)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("s3: send %s: reader closed", r.name)
	}
	if n >= sendMin && !r.s.noSplice.Load() {
		k, err := r.s.send(r.ctx, w, r.key, off, n, r.size)
		if !errors.Is(err, errNoSplice) {
			if err != nil {
				err = fmt.Errorf("s3: send %s: %w", r.name, err)
			}
			return k, err
		}
	}
	r.hintOff, r.hintEnd = off, off+n
	k, err := io.CopyBuffer(onlyWriter{w}, io.NewSectionReader(readerAt{r}, off, n), make([]byte, 256<<10))
	if err == nil && k < n {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// readerAt reads r with its lock held by the caller.
type readerAt struct{ r *reader }

func (a readerAt) ReadAt(p []byte, off int64) (int, error) { return a.r.readAt(p, off) }

// onlyWriter hides a writer's ReadFrom from io.Copy.
type onlyWriter struct{ io.Writer }

// errNoSplice: the range cannot be sent on a connection of its own, and
// nothing was written yet.
var errNoSplice = errors.New("no splice")

// send writes [off, off+n) of key to w from a GET on a connection of its
// own; errNoSplice when the endpoint is not plain HTTP or the server
// answered in a way that cannot be passed through (nothing written then).
func (s *Store) send(ctx context.Context, w io.Writer, key string, off, n, size int64) (int64, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if off > 0 || n < size {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	ps, err := s.presign.PresignGetObject(ctx, in)
	if err != nil {
		return 0, err
	}
	u, err := url.Parse(ps.URL)
	if err != nil || u.Scheme != "http" {
		return 0, errNoSplice
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ps.URL, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range ps.SignedHeader {
		if k = http.CanonicalHeaderKey(k); k != "Host" {
			req.Header[k] = v
		}
	}
	req.Header.Set("User-Agent", "charter")
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	// A kept connection the server closed meanwhile fails before any
	// answer: then once more on a new one.
	for attempt := 0; ; attempt++ {
		rc, reused, err := s.sendConn(ctx, addr, attempt > 0)
		if err != nil {
			return 0, err
		}
		k, answered, err := s.sendOn(ctx, rc, req, w, n)
		if err != nil && reused && !answered {
			continue
		}
		return k, err
	}
}

// sendConn returns a kept connection to addr, or a new one.
func (s *Store) sendConn(ctx context.Context, addr string, fresh bool) (rc *rawConn, reused bool, err error) {
	if !fresh {
		select {
		case rc := <-s.idle:
			return rc, true, nil
		default:
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, false, errNoSplice
	}
	return &rawConn{c: tc, br: bufio.NewReaderSize(tc, 4<<10)}, false, nil
}

// sendOn sends req on rc and copies its body, n bytes, to w. answered
// says whether a response began (after which nothing is retried).
func (s *Store) sendOn(ctx context.Context, rc *rawConn, req *http.Request, w io.Writer, n int64) (written int64, answered bool, err error) {
	stop := context.AfterFunc(ctx, func() { rc.c.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if !stop() || !keep {
			rc.c.Close()
			return
		}
		select {
		case s.idle <- rc:
		default:
			rc.c.Close()
		}
	}()
	if err := req.Write(rc.c); err != nil {
		return 0, false, err
	}
	if _, err := rc.br.Peek(1); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil {
		return 0, true, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return 0, true, blob.ErrNotFound
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return 0, true, fmt.Errorf("GET answered %s: %.200q", resp.Status, msg)
	case resp.ContentLength != n || len(resp.TransferEncoding) > 0 || resp.Header.Get("Content-Encoding") != "":
		// Not the bytes asked for as they are: the SDK's reader
		// checks and copies them.
		return 0, true, errNoSplice
	}
	// What the header read took of the body first, then the rest
	// straight from the socket.
	if b := min(int64(rc.br.Buffered()), n); b > 0 {
		p, _ := rc.br.Peek(int(b))
		m, err := w.Write(p)
		rc.br.Discard(m)
		written += int64(m)
		if err != nil {
			return written, true, err
		}
	}
	lr := &io.LimitedReader{R: rc.c, N: n - written}
	m, err := io.Copy(w, lr)
	written += m
	if err == nil && written < n {
		err = fmt.Errorf("object ended at %d of %d bytes: %w", written, n, io.ErrUnexpectedEOF)
	}
	keep = err == nil && !resp.Close && rc.br.Buffered() == 0
	return written, true, err
}

var _ blob.Sender = (*reader)(nil)
