package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

func newTestServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

// uploaderKey signs the uploads of upload.
var uploaderKey, _ = identity.Generate()

// upload stores body signed by uploaderKey.
func upload(t *testing.T, hs *httptest.Server, query string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return uploadAs(t, hs, uploaderKey, query, body)
}

// uploadAs stores body signed by key (RFC 9421 with a Content-Digest, as
// the client signs), or unsigned when key is nil.
func uploadAs(t *testing.T, hs *httptest.Server, key *identity.Key, query string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs"+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if key != nil {
		if err := httpsig.Sign(req, key, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func countBlobs(t *testing.T, s *Server) int {
	n := 0
	if err := s.blobs.Enumerate(context.Background(), content.ID{}, func(content.ID, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func problemOf(t *testing.T, resp *http.Response, body []byte) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error answered as %q: %s", ct, body)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != resp.StatusCode || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem: %+v", p)
	}
	return p
}

func TestUploadTruncatedKeepsNothing(t *testing.T) {
	s, hs := newTestServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	conn.Write(bytes.Repeat([]byte("x"), 40000))
	conn.Close() // the client dies mid-upload
	time.Sleep(200 * time.Millisecond)
	if n := countBlobs(t, s); n != 0 {
		t.Fatalf("%d blobs visible after a truncated upload", n)
	}
	// A prefix that is itself valid content is not stored either.
	tmp, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "blobs", "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("staged files left behind: %d", len(tmp))
	}
}

func TestUploadMismatchAndProblems(t *testing.T) {
	s, hs := newTestServer(t)
	wrong := content.IDFromDigest([32]byte{9})
	resp, body := upload(t, hs, "?id="+wrong.String(), []byte("some bytes"))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, body)
	}
	if p := problemOf(t, resp, body); !strings.HasSuffix(p.Type, "/id-mismatch") {
		t.Fatalf("problem type %q", p.Type)
	}
	if n := countBlobs(t, s); n != 0 {
		t.Fatalf("mismatched upload kept %d blobs", n)
	}

	resp, body = upload(t, hs, "", []byte("hello"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	var info BlobInfo
	json.Unmarshal(body, &info)

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/blobs/nonsense", 400},
		{"/v1/blobs/" + wrong.String(), 404},
		{"/v1/blobs/" + info.ID + "/slice?offset=3&length=10", 416},
		{"/v1/blobs/" + info.ID + "/slice?offset=-1", 400},
		{"/v1/blobs/" + info.ID + "/slice?offset=x", 400},
		{"/no/such/endpoint", 404},
	} {
		resp, err := http.Get(hs.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.status, b)
			continue
		}
		problemOf(t, resp, b)
	}

	// HTTP Range on the raw bytes.
	req, _ := http.NewRequest("GET", hs.URL+"/v1/blobs/"+info.ID, nil)
	req.Header.Set("Range", "bytes=1-3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(b) != "ell" {
		t.Fatalf("range: %d %q", resp.StatusCode, b)
	}
}

func TestDatasetIndexChecked(t *testing.T) {
	_, hs := newTestServer(t)
	resp, body := upload(t, hs, "?kind=dataset", []byte(`{"not":"an index"}`))
	if resp.StatusCode != 422 {
		t.Fatalf("garbage index: %d %s", resp.StatusCode, body)
	}
	missing := content.IDFromDigest([32]byte{7})
	idx, err := content.NewIndex([]content.File{{Path: "a.txt", Size: 3, ID: missing}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := idx.Encode()
	resp, body = upload(t, hs, "?kind=dataset", raw)
	if resp.StatusCode != 422 || !strings.Contains(string(body), "missing-file") {
		t.Fatalf("index naming a missing file: %d %s", resp.StatusCode, body)
	}
}

func TestScrubFindsCorruption(t *testing.T) {
	s, hs := newTestServer(t)
	data := bytes.Repeat([]byte("charter!"), 10000)
	resp, body := upload(t, hs, "", data)
	var info BlobInfo
	json.Unmarshal(body, &info)
	if resp.StatusCode != 201 {
		t.Fatal(string(body))
	}
	if rep, err := s.Scrub(context.Background()); err != nil || rep.Corrupt != 0 || rep.Blobs != 1 {
		t.Fatalf("clean scrub: %+v %v", rep, err)
	}
	id, _ := content.ParseID(info.ID)
	m, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, "blobs", "blobs", "*", info.ID))
	if len(m) != 1 {
		t.Fatal("blob file not found")
	}
	f, _ := os.OpenFile(m[0], os.O_RDWR, 0)
	f.WriteAt([]byte{'X'}, 50000)
	f.Close()
	rep, err := s.Scrub(context.Background())
	if err != nil || rep.Corrupt != 1 {
		t.Fatalf("scrub after corruption: %+v %v", rep, err)
	}
	resp, err = http.Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h Health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 503 || h.Status != "degraded" || len(h.Corrupt) != 1 || h.Corrupt[0].ID != id.String() || h.Corrupt[0].Offset != 49152 {
		t.Fatalf("health: %d %+v", resp.StatusCode, h)
	}
	// A corrupt blob is not served, even unverified.
	resp, _ = http.Get(hs.URL + "/v1/blobs/" + info.ID)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("corrupt blob served: %d", resp.StatusCode)
	}
	_ = blob.Data
}

func TestOpenAPIServed(t *testing.T) {
	_, hs := newTestServer(t)
	resp, err := http.Get(hs.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi: %v %v", doc["openapi"], err)
	}
}
