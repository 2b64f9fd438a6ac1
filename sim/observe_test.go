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
