package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// TestUploadBoundByID: an upload that declares its content id needs no
// Content-Digest (the id binds the body, docs/spec/http-signatures.md);
// bytes that do not hash to the declared id keep nothing, and an upload
// without a declared id still needs a Content-Digest.
func TestUploadBoundByID(t *testing.T) {
	s, hs := newTestServer(t)
	body := bytes.Repeat([]byte("bound by its id "), 5000)
	info, err := content.Ingest(t.Context(), bytes.NewReader(body), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	send := func(query string, b []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs"+query, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		if err := httpsig.Sign(req, uploaderKey, time.Now(), httpsig.WithBodyBoundElsewhere()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, out := send("", body); code != http.StatusUnauthorized || !strings.Contains(out, "content-digest") {
		t.Fatalf("no id, no digest: %d %s", code, out)
	}
	tampered := bytes.Clone(body)
	tampered[100] ^= 1
	if code, out := send("?id="+info.ID.String(), tampered); code != http.StatusUnprocessableEntity || !strings.Contains(out, "id-mismatch") {
		t.Fatalf("tampered body: %d %s", code, out)
	}
	if n := countBlobs(t, s); n != 0 {
		t.Fatalf("%d blobs kept after a mismatching upload", n)
	}
	if code, out := send("?id="+info.ID.String(), body); code != http.StatusCreated || !strings.Contains(out, info.ID.String()) {
		t.Fatalf("declared id, no digest: %d %s", code, out)
	}
}
