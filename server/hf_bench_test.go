package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
)

// BenchmarkHFDownload compares, in one run, a download of a licensed
// model through the Hugging Face endpoint (GET /{asset}/resolve/main/model
// with the licensee's bearer token, as huggingface_hub sends it, written
// to a file) with the native verified download of the same content under
// the same grant (client DownloadFile: parallel verified slices, written
// to a file). Both are metered. Size: CHARTER_BENCH_HF_BYTES (default 1
// GiB). ratio = native time / HF time (above 1: the HF endpoint is
// faster; it sends the bytes unproven, as Hugging Face clients expect).
func BenchmarkHFDownload(b *testing.B) {
	size := 1 << 30
	if v := os.Getenv("CHARTER_BENCH_HF_BYTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CHARTER_BENCH_HF_BYTES=%q", v)
		}
		size = n
	}
	m := newMarketSized(b, Config{Crowd: noCrowdPool}, 2, nil, size)
	f := &hfFixture{market: m, sessions: map[string]string{}}
	hs := httptest.NewServer(m.s.hfHandler())
	defer hs.Close()
	tok := f.token(m.consumer, m.model.String())
	url := hs.URL + "/" + m.model.String() + "/resolve/main/model"
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	gc := m.c.WithGrant(m.consumer, m.grant.ID.String())
	ctx := context.Background()
	var tHF, tNative time.Duration
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		dir := b.TempDir()
		t0 := time.Now()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, "hf"))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(out, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(size) || resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode, n, err)
		}
		out.Sync()
		out.Close()
		tHF += time.Since(t0)
		os.Remove(out.Name())

		t0 = time.Now()
		if _, err := gc.DownloadFile(ctx, m.modelContent, filepath.Join(dir, "native"), client.DownloadOptions{}); err != nil {
			b.Fatal(err)
		}
		tNative += time.Since(t0)
		os.Remove(filepath.Join(dir, "native"))
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tHF.Seconds(), "hf_MB/s")
	b.ReportMetric(mb/tNative.Seconds(), "native_MB/s")
	b.ReportMetric(tNative.Seconds()/tHF.Seconds(), "ratio")
}
