package server

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestMetricsAndProbes: /metrics speaks the Prometheus text format with
// latency by route (the pattern, never the raw path), bytes in and out,
// log size and append latency, scrub and settlement gauges; every answer
// carries a request id (the client's when well-formed); /livez and
// /readyz answer.
func TestMetricsAndProbes(t *testing.T) {
	_, hs := newTestServer(t)
	resp, _ := upload(t, hs, "", []byte("metrics test body"))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	get(t, hs.URL+"/v1/blobs/bafkr4ieojr6bxgo37viopkkrqx7k2xxbish2sbfc7xlxr2xv6ln72yu2te/info")
	get(t, hs.URL+"/v1/no/such/path/12345")
	resp, _ = get(t, hs.URL+"/livez", HeaderRequestID, "trace-42")
	if resp.StatusCode != 200 || resp.Header.Get(HeaderRequestID) != "trace-42" {
		t.Errorf("livez: %d, request id %q (want the client's trace-42)", resp.StatusCode, resp.Header.Get(HeaderRequestID))
	}
	resp, _ = get(t, hs.URL+"/livez", HeaderRequestID, "bad id with spaces and a very long tail that goes on and on past sixty-four characters")
	if id := resp.Header.Get(HeaderRequestID); len(id) != 24 {
		t.Errorf("a malformed client id is replaced with a fresh one: got %q", id)
	}
	resp, body := get(t, hs.URL+"/readyz")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("readyz: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, hs.URL+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`charter_http_request_duration_seconds_bucket{code="201",method="POST",route="POST /v1/blobs",le=`,
		`charter_http_request_duration_seconds_count{code="404",method="GET",route="GET /v1/blobs/{id}/info"}`,
		`charter_http_request_bytes_total{route="POST /v1/blobs"} 17`,
		`charter_http_response_bytes_total{route="GET /livez"}`,
		`route="/"`, // the console and unknown paths: one label, not one per path
		"charter_log_size_entries ",
		"charter_log_append_duration_seconds_bucket",
		"charter_settlement_lag_seconds ",
		"charter_scrub_blobs_verified ",
		"charter_corrupt_blobs 0",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "12345") {
		t.Error("a raw request path became a label value")
	}
}

// TestHealthzReportsTamperedLog: a log whose stored bytes no longer verify
// makes /healthz degraded (503) with the log's state, not only corrupt
// blobs; the full audit runs with the scrub.
func TestHealthzReportsTamperedLog(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), quietConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := newHTTP(t, s)
	ctx := context.Background()
	c, _ := client.New(hs.URL)
	owner, _ := identity.Generate()
	c = c.WithKey(owner)
	data := []byte("something to log")
	info, err := c.Put(ctx, bytes.NewReader(data), int64(len(data)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	man := &asset.Manifest{Content: id, Name: "f", Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(owner)
	if _, err := c.Register(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	var h Health
	resp, body := get(t, hs.URL+"/healthz")
	if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != 200 || h.Log == nil || h.Log.Status != "ok" || h.Log.Audited == nil {
		t.Fatalf("healthy server: %d %s", resp.StatusCode, body)
	}
	// Tamper with the checkpoint the log serves: healthz sees it at once.
	cpPath := filepath.Join(dir, "log", "checkpoint")
	raw, err := os.ReadFile(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Replace(string(raw), "\n", "x\n", 1))
	if err := os.WriteFile(cpPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, hs.URL+"/healthz")
	h = Health{}
	json.Unmarshal([]byte(body), &h)
	if resp.StatusCode != http.StatusServiceUnavailable || h.Status != "degraded" || h.Log == nil || h.Log.Status == "ok" || h.Log.Detail == "" {
		t.Fatalf("tampered checkpoint: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, hs.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"log"`) {
		t.Errorf("readyz with a tampered log: %d %s", resp.StatusCode, body)
	}
	os.WriteFile(cpPath, raw, 0o644)
	if resp, body = get(t, hs.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("restored checkpoint: %d %s", resp.StatusCode, body)
	}
	// Tamper with an entry bundle: the checkpoint still verifies, the next
	// audit (with the scrub) does not.
	bundles, _ := filepath.Glob(filepath.Join(dir, "log", "tile", "entries", "*", "*"))
	if len(bundles) == 0 {
		t.Fatal("no entry bundle on disk")
	}
	b := bundles[len(bundles)-1]
	eb, _ := os.ReadFile(b)
	eb[len(eb)/2] ^= 1
	os.WriteFile(b, eb, 0o644)
	s.Scrub(context.Background())
	resp, body = get(t, hs.URL+"/healthz")
	h = Health{}
	json.Unmarshal([]byte(body), &h)
	if resp.StatusCode != http.StatusServiceUnavailable || h.Log == nil || h.Log.Status != "tampered" {
		t.Fatalf("tampered entry bundle after the audit: %d %s", resp.StatusCode, body)
	}
}

func newHTTP(t *testing.T, s *Server) *httptest.Server {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs
}
