package sim

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/content"
)

// observation is one data-plane response as it left the server: what was
// asked for, by whom, under which grant, and how many bytes went out.
type observation struct {
	step    int
	actor   string
	content content.ID
	slice   bool   // a verified range (/slice); else raw bytes
	grant   string // Charter-Grant header
	session string // Charter-Session header
	keyid   string // the key the request claims to be signed by
	rangeHd string // Range header of a raw request

	status  int
	clen    int64 // Content-Length the handler declared; -1 if none
	written int64 // body bytes the connection accepted
	failed  bool  // a write failed (the client went away)
	// aborted: the front door gave up on the response mid-body (in the
	// kill loop, the reverse proxy aborts when the server dies or the
	// client goes away). What the server wrote beyond what was forwarded
	// is unknown: anything up to the declared length.
	aborted bool
	// kill counts the server's kills when the request came in; killed:
	// the server was killed while the response was in flight. A server
	// killed mid-response may lose the record of what it wrote since its
	// last checkpoint (server/metering.go): an incomplete response cut by
	// a kill bounds the bill from above only.
	kill   int64
	killed bool
	size   int64 // Charter-Size: the whole content's size
	off, n int64 // the data range of a slice
}

// complete reports whether the whole body went out.
func (o *observation) complete() bool {
	return !o.failed && (o.clen < 0 || o.written == o.clen)
}

// dataBounds returns the least and most bytes of content the response
// delivered. A complete slice delivered at least its range and at most
// the range widened to whole groups; a cut one at least what it wrote
// beyond its proof nodes. Raw bytes are what was written. A response the
// front door aborted may have carried anything up to its declared length:
// the server wrote it into a connection whose end was never read. An
// incomplete response cut by a kill of the server may be billed for none
// of it (the server records what it wrote at checkpoints and at the end);
// a complete one was billed (the server holds its last byte back until
// then), and one that never showed a 2xx was billed for nothing (the
// server flushes the headers before it records anything).
func (o *observation) dataBounds() (lo, hi int64) {
	if o.status/100 != 2 || (o.written == 0 && !o.aborted) {
		return 0, 0
	}
	if !o.slice {
		lo, hi = 0, o.written
		if o.complete() {
			lo = o.written
		}
		if o.aborted {
			hi = max(hi, o.clen)
		}
		return lo, hi
	}
	// A slice carries whole 16 KiB groups: the data it sends is the
	// range widened to group boundaries (docs/spec/verified-ranges.md).
	wide := o.n
	if o.n > 0 {
		g := int64(content.GroupSize)
		start, end := o.off/g*g, min(o.size, (o.off+o.n+g-1)/g*g)
		wide = end - start
	}
	if o.complete() {
		return o.n, wide
	}
	if o.killed {
		return 0, wide
	}
	overhead := int64(0)
	if o.clen > wide {
		overhead = o.clen - wide
	}
	return max(0, min(o.n, o.written-overhead)), wide
}

var keyidRE = regexp.MustCompile(`keyid="([^"]+)"`)

// observe wraps the front door of one actor: every GET of content (raw or
// verified range) is recorded with what went out.
func (w *world) observe(actor string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		o := w.classify(actor, r)
		if o == nil {
			next.ServeHTTP(rw, r)
			return
		}
		w.inflight.Add(1)
		defer w.inflight.Add(-1)
		cw := &countingWriter{ResponseWriter: rw}
		// httputil.ReverseProxy (the kill loop's front door) panics with
		// http.ErrAbortHandler when it cannot finish a body: the response
		// is recorded all the same, as aborted, and the panic goes on.
		aborted := true
		defer func() {
			if aborted {
				w.record(o, cw, r, true)
			}
		}()
		next.ServeHTTP(cw, r)
		aborted = false
		w.record(o, cw, r, false)
	})
}

// record completes an observation from what the response wrote and keeps
// it.
func (w *world) record(o *observation, cw *countingWriter, r *http.Request, aborted bool) {
	o.aborted = aborted
	o.killed = w.kills.Load() != o.kill
	o.status = cw.status
	if o.status == 0 {
		o.status = http.StatusOK
	}
	o.written, o.failed = cw.n, cw.failed
	o.clen = -1
	if v := cw.Header().Get("Content-Length"); v != "" {
		o.clen, _ = strconv.ParseInt(v, 10, 64)
	}
	o.size, _ = strconv.ParseInt(cw.Header().Get("Charter-Size"), 10, 64)
	if o.slice {
		q := r.URL.Query()
		o.off, _ = strconv.ParseInt(q.Get("offset"), 10, 64)
		o.n = o.size - o.off
		if v := q.Get("length"); v != "" {
			o.n, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	w.mu.Lock()
	w.obs = append(w.obs, o)
	w.mu.Unlock()
}

func (w *world) classify(actor string, r *http.Request) *observation {
	if r.Method != http.MethodGet {
		return nil
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/blobs/")
	if !ok {
		return nil
	}
	idStr, tail, _ := strings.Cut(rest, "/")
	if tail != "" && tail != "slice" {
		return nil
	}
	id, err := content.ParseID(idStr)
	if err != nil {
		return nil
	}
	o := &observation{step: int(w.stepNo.Load()), kill: w.kills.Load(), actor: actor, content: id, slice: tail == "slice",
		grant: r.Header.Get("Charter-Grant"), session: r.Header.Get("Charter-Session"), rangeHd: r.Header.Get("Range")}
	if m := keyidRE.FindStringSubmatch(r.Header.Get("Signature-Input")); m != nil {
		o.keyid = m[1]
	}
	return o
}

// countingWriter counts the body bytes the connection accepted.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	failed bool
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	if err != nil {
		c.failed = true
	}
	return n, err
}

// Flush passes flushes through, so streaming behaves as without the
// observer.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
