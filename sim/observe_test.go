package sim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
)

// TestObserveAbortedProxy: the kill loop reaches the server through
// httputil.ReverseProxy, which aborts (panics with http.ErrAbortHandler)
// when the server dies or the client leaves mid-body. Such a response is
// still observed, and may have carried up to its declared length: before,
// it went unrecorded, so bytes the server wrote and rightly receipted
// looked unserved (the kill loop's "receipts record 165142 bytes; 82571
// served" on seed 2).
func TestObserveAbortedProxy(t *testing.T) {
	const size = 82571
	id := content.IDFromDigest([32]byte{1})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		// The server dies mid-body.
		panic(http.ErrAbortHandler)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	w := &world{}
	front := httptest.NewServer(w.observe("licensee", httputil.NewSingleHostReverseProxy(target)))
	defer front.Close()
	resp, err := http.Get(front.URL + "/v1/blobs/" + id.String())
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); w.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.obs) != 1 {
		t.Fatalf("%d observations of an aborted response, want 1", len(w.obs))
	}
	o := w.obs[0]
	if lo, hi := o.dataBounds(); !o.aborted || lo != 0 || hi != size {
		t.Fatalf("aborted response: aborted %v, bounds %d..%d, want 0..%d", o.aborted, lo, hi, size)
	}
}

// TestDataBoundsKilled: a slice cut short by a kill of the server bounds
// its bill from above only (the server records at checkpoints and at the
// end); cut short by the client, the server lived to record what it
// wrote; complete, it was billed whatever happened after.
func TestDataBoundsKilled(t *testing.T) {
	const size = 300 << 10
	slice := func(written int64, killed bool) *observation {
		clen, _ := content.SliceSize(size, 0, 64<<10)
		return &observation{slice: true, status: http.StatusOK, clen: clen, written: min(written, clen), aborted: written < clen, killed: killed, size: size, off: 0, n: 64 << 10}
	}
	for _, c := range []struct {
		o      *observation
		lo, hi int64 // lo -1: more than 0
	}{
		{slice(40000, false), -1, 64 << 10},
		{slice(40000, true), 0, 64 << 10},
		{slice(1<<20, true), 64 << 10, 64 << 10},
	} {
		lo, hi := c.o.dataBounds()
		if hi != c.hi || (c.lo == -1 && lo <= 0) || (c.lo >= 0 && lo != c.lo) {
			t.Errorf("written %d killed %v: bounds %d..%d, want %d..%d", c.o.written, c.o.killed, lo, hi, c.lo, c.hi)
		}
	}
}
