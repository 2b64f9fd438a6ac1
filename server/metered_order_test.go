package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/charter-dev/charter/httpsig"
)

// orderWriter watches a data response between the handler and the
// connection, as a kill -9 would cut it: whether the headers were flushed
// before the first body byte, and what the catalog had recorded for the
// grant when the body's last byte was handed over.
type orderWriter struct {
	http.ResponseWriter
	recorded func() int64
	n        int64
	flushed  bool // before the first body byte
	wrote    bool
	atLast   int64 // recorded when the last byte was written; -1: never
}

func (o *orderWriter) Flush() {
	if !o.wrote {
		o.flushed = true
	}
	http.NewResponseController(o.ResponseWriter).Flush()
}

func (o *orderWriter) Write(p []byte) (int, error) {
	o.wrote = o.wrote || len(p) > 0
	clen, _ := strconv.ParseInt(o.Header().Get("Content-Length"), 10, 64)
	if len(p) > 0 && o.n+int64(len(p)) >= clen {
		o.atLast = o.recorded()
	}
	n, err := o.ResponseWriter.Write(p)
	o.n += int64(n)
	return n, err
}

// TestMeteredSendOrder: a metered response reaches the connection in an
// order that keeps its bill and what the client got in step if the server
// is killed at any point: its headers are flushed before any of it is
// recorded (a client is never billed for a response it did not see
// start), and its last byte is handed over only once all of it is
// recorded (a client that got the whole body was billed for it). Before,
// a small response was recorded whole while still in the server's
// buffer, and the kill -9 simulation (seed 3) found a licensee billed 583
// bytes for a request that got a 502; a large one could reach the client
// whole before its record.
func TestMeteredSendOrder(t *testing.T) {
	ctx := context.Background()
	m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(1<<40), 300<<10)
	recorded := func() int64 {
		g, err := m.s.cat.Grant(ctx, m.grant.ID.String())
		if err != nil {
			t.Error(err)
			return -1
		}
		return g.Bytes
	}
	done := make(chan *orderWriter, 1)
	h := m.s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := &orderWriter{ResponseWriter: w, recorded: recorded, atLast: -1}
		h.ServeHTTP(o, r)
		done <- o
	}))
	defer hs.Close()
	m.hs = hs
	raw := "/v1/blobs/" + m.modelContent.String()
	for _, c := range []struct {
		name, path, rng string
		code            int
		data            int64 // data bytes the response carries
	}{
		{"small raw range", raw, "bytes=0-582", http.StatusPartialContent, 583},
		{"large raw range", raw, "bytes=1000-200999", http.StatusPartialContent, 200000},
		{"whole object", raw, "", http.StatusOK, 300 << 10},
		{"small slice", m.slicePath(0, 583), "", http.StatusOK, 16 << 10},
		{"large slice", m.slicePath(20000, 150000), "", http.StatusOK, 160 << 10},
	} {
		before := recorded()
		hdr := map[string]string{HeaderSession: "order"}
		if c.rng != "" {
			hdr["Range"] = c.rng
		}
		w := m.signedData(m.consumer, "GET", c.path, hdr, httpsig.WithHeadersIfPresent("range", "charter-session"))
		if code, b := m.send(w, nil); code != c.code {
			t.Fatalf("%s: %d %s", c.name, code, b)
		}
		last := <-done
		switch {
		case !last.flushed:
			t.Errorf("%s: body written before the headers were flushed", c.name)
		case last.atLast-before != c.data:
			t.Errorf("%s: %d bytes recorded when the last byte went out; the response carries %d", c.name, last.atLast-before, c.data)
		}
		if got := recorded() - before; got != c.data {
			t.Errorf("%s: %d bytes recorded in the end, want %d", c.name, got, c.data)
		}
	}
}
