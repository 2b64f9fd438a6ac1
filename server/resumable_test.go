package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// TestResumableUpload: parts kept per key (another key's upload of the
// same id sees none of them and cannot complete it), wrong part numbers
// and lengths refused, the blob stored once every part is held, parts
// that do not hash to the id dropped, and at most MaxOpenUploads
// unfinished uploads per key.
func TestResumableUpload(t *testing.T) {
	s, hs := newTestServer(t)
	s.cfg.UploadPartSize = 64 << 10
	data := bytes.Repeat([]byte("resumable "), 20000) // 200,000 bytes: 4 parts
	info, _ := content.Ingest(t.Context(), bytes.NewReader(data), io.Discard, io.Discard)
	id := info.ID.String()
	size := fmt.Sprint(len(data))
	call := func(key *identity.Key, method, path string, body []byte) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, hs.URL+path, rd)
		if err := httpsig.Sign(req, key, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	part := func(n int) []byte { return data[n*64<<10 : min(len(data), (n+1)*64<<10)] }
	status := func(key *identity.Key) api.UploadStatus {
		t.Helper()
		code, out := call(key, "POST", "/v1/uploads/"+id+"?size="+size, nil)
		if code != http.StatusOK {
			t.Fatalf("status: %d %s", code, out)
		}
		var st api.UploadStatus
		json.Unmarshal([]byte(out), &st)
		return st
	}
	for _, n := range []int{0, 2} {
		if code, out := call(uploaderKey, "PUT", fmt.Sprintf("/v1/uploads/%s/%d?size=%s", id, n, size), part(n)); code != http.StatusOK {
			t.Fatalf("part %d: %d %s", n, code, out)
		}
	}
	if code, out := call(uploaderKey, "PUT", "/v1/uploads/"+id+"/4?size="+size, part(3)); code != http.StatusBadRequest || !strings.Contains(out, "bad-part") {
		t.Fatalf("part past the end: %d %s", code, out)
	}
	if code, out := call(uploaderKey, "PUT", "/v1/uploads/"+id+"/1?size="+size, part(3)); code != http.StatusBadRequest || !strings.Contains(out, "bad-part") {
		t.Fatalf("part of the wrong length: %d %s", code, out)
	}
	if st := status(uploaderKey); fmt.Sprint(st.Parts) != "[0 2]" || st.Held != 2*64<<10 || st.PartSize != 64<<10 {
		t.Fatalf("status %+v, want parts [0 2]", st)
	}
	other, _ := identity.Generate()
	if st := status(other); len(st.Parts) != 0 {
		t.Fatalf("another key sees parts %v of this key's upload", st.Parts)
	}
	for _, n := range []int{1, 3} {
		if code, out := call(uploaderKey, "PUT", fmt.Sprintf("/v1/uploads/%s/%d?size=%s", id, n, size), part(n)); code != http.StatusOK {
			t.Fatalf("part %d: %d %s", n, code, out)
		}
	}
	code, out := call(uploaderKey, "POST", "/v1/uploads/"+id+"?size="+size, nil)
	if code != http.StatusCreated || !strings.Contains(out, id) {
		t.Fatalf("finish: %d %s", code, out)
	}
	if st := status(uploaderKey); len(st.Parts) != 0 {
		t.Fatalf("parts kept after the upload finished: %v", st.Parts)
	}
	// A stored copy known corrupt is replaced by the parts sent again.
	if err := s.cat.MarkCorrupt(t.Context(), catalog.Corruption{ID: info.ID, Offset: 0, Length: 1, Detail: "test", Found: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for n := range 4 {
		if code, out := call(uploaderKey, "PUT", fmt.Sprintf("/v1/uploads/%s/%d?size=%s", id, n, size), part(n)); code != http.StatusOK {
			t.Fatalf("part %d again: %d %s", n, code, out)
		}
	}
	if code, out := call(uploaderKey, "POST", "/v1/uploads/"+id+"?size="+size, nil); code != http.StatusCreated {
		t.Fatalf("repair: %d %s", code, out)
	}
	if _, bad := s.corrupt(t.Context(), info.ID); bad {
		t.Fatal("the corrupt copy is still marked corrupt after the parts replaced it")
	}
	// Parts that do not hash to the declared id are dropped.
	wrong := bytes.Clone(data)
	wrong[0] ^= 1
	wid, _ := content.Ingest(t.Context(), bytes.NewReader([]byte("another")), io.Discard, io.Discard)
	for n := range 4 {
		call(uploaderKey, "PUT", fmt.Sprintf("/v1/uploads/%s/%d?size=%s", wid.ID, n, size), wrong[n*64<<10:min(len(wrong), (n+1)*64<<10)])
	}
	if code, out := call(uploaderKey, "POST", "/v1/uploads/"+wid.ID.String()+"?size="+size, nil); code != http.StatusUnprocessableEntity || !strings.Contains(out, "id-mismatch") {
		t.Fatalf("parts of other content: %d %s", code, out)
	}
	// At most MaxOpenUploads unfinished uploads per key.
	for i := range MaxOpenUploads + 1 {
		b := []byte(fmt.Sprint("open upload ", i))
		x, _ := content.Ingest(t.Context(), bytes.NewReader(b), io.Discard, io.Discard)
		code, out := call(other, "PUT", fmt.Sprintf("/v1/uploads/%s/0?size=%d", x.ID, len(b)), b)
		if i < MaxOpenUploads && code != http.StatusOK {
			t.Fatalf("upload %d: %d %s", i, code, out)
		}
		if i == MaxOpenUploads && (code != http.StatusTooManyRequests || !strings.Contains(out, "too-many-uploads")) {
			t.Fatalf("upload %d: %d %s, want 429 too-many-uploads", i, code, out)
		}
	}
}
