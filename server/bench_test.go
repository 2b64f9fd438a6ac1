package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

// benchServer starts a real server on loopback holding size bytes of
// pseudo-random content, and returns the client, the id and the path of a
// plain copy of the same bytes for the baseline.
func benchServer(b *testing.B, size int64) (*client.Client, content.ID, string) {
	c, id, plain, _ := benchServerCfg(b, size, Config{Crowd: noCrowdPool})
	return c, id, plain
}

func benchServerCfg(b *testing.B, size int64, cfg Config) (*client.Client, content.ID, string, *Server) {
	b.Helper()
	dir := b.TempDir()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.ScrubInterval = -1
	srv, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	plain := filepath.Join(dir, "plain.bin")
	f, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, rng, size); err != nil {
		b.Fatal(err)
	}
	f.Seek(0, 0)
	c, err := client.New(hs.URL)
	if err != nil {
		b.Fatal(err)
	}
	uk, _ := identity.Generate()
	info, err := c.WithKey(uk).Put(context.Background(), f, size, client.PutOptions{})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	return c, id, plain, srv
}

// BenchmarkVerifiedDownload compares a verified download (every byte
// checked by the client against the id) with an unverified
// http.ServeContent of the same file, both over loopback in the same run.
// Target: ratio >= 0.6.
func BenchmarkVerifiedDownload(b *testing.B) {
	const size = 256 << 20
	c, id, plain := benchServer(b, size)
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(plain)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	}))
	defer base.Close()
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	ctx := context.Background()
	var tBase, tVer time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		// Baseline: the same file through http.ServeContent, written to a
		// file as a download would be, with nothing verified.
		t0 := time.Now()
		resp, err := hc.Get(base.URL)
		if err != nil {
			b.Fatal(err)
		}
		bout, err := os.Create(filepath.Join(b.TempDir(), "base"))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(bout, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatal(n, err)
		}
		bout.Sync()
		bout.Close()
		tBase += time.Since(t0)
		os.Remove(bout.Name())

		t0 = time.Now()
		out := filepath.Join(b.TempDir(), "out")
		if _, err := c.DownloadFile(ctx, id, out, client.DownloadOptions{}); err != nil {
			b.Fatal(err)
		}
		tVer += time.Since(t0)
		os.Remove(out)
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tBase.Seconds(), "baseline_MB/s")
	b.ReportMetric(mb/tVer.Seconds(), "verified_MB/s")
	b.ReportMetric(tBase.Seconds()/tVer.Seconds(), "ratio")
}

// BenchmarkVerifiedStream is BenchmarkVerifiedDownload writing to
// io.Discard instead of a file, so disk writes do not count.
func BenchmarkVerifiedStream(b *testing.B) {
	const size = 256 << 20
	c, id, plain := benchServer(b, size)
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _ := os.Open(plain)
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	}))
	defer base.Close()
	ctx := context.Background()
	var tBase, tVer time.Duration
	for b.Loop() {
		t0 := time.Now()
		resp, err := http.Get(base.URL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tBase += time.Since(t0)
		t0 = time.Now()
		if _, err := c.Stream(ctx, id, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
		tVer += time.Since(t0)
	}
	b.ReportMetric(tBase.Seconds()/tVer.Seconds(), "ratio")
}

// BenchmarkRangeRead measures 1 MiB verified range reads at random offsets
// from an in-process client over loopback. Target: p50 <= 3 ms.
func BenchmarkRangeRead(b *testing.B) {
	const size = 256 << 20
	c, id, _ := benchServer(b, size)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	var buf bytes.Buffer
	for b.Loop() {
		off := rng.Int64N(size - 1<<20)
		buf.Reset()
		t0 := time.Now()
		if err := c.FetchRange(ctx, id, off, 1<<20, &buf); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// BenchmarkVerifyOnRead measures what verifying on the server as well
// (Config.VerifyReads) costs a whole-file download whose client verifies
// anyway: the figure behind docs/design/corruption.md.
func BenchmarkVerifyOnRead(b *testing.B) {
	const size = 128 << 20
	c, id, _, srv := benchServerCfg(b, size, Config{Crowd: noCrowdPool})
	ctx := context.Background()
	var tOff, tOn time.Duration
	for b.Loop() {
		srv.cfg.VerifyReads = false
		t0 := time.Now()
		if _, err := c.Stream(ctx, id, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
		tOff += time.Since(t0)
		srv.cfg.VerifyReads = true
		t0 = time.Now()
		if _, err := c.Stream(ctx, id, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
		tOn += time.Since(t0)
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tOff.Seconds(), "client_only_MB/s")
	b.ReportMetric(mb/tOn.Seconds(), "verify_on_read_MB/s")
	b.ReportMetric(tOff.Seconds()/tOn.Seconds(), "ratio")
}

// BenchmarkRegister measures registration answered with its inclusion
// proof, end to end over loopback. Target: p50 <= 400 ms. The baseline in
// the same run is a bare log append without a proof.
func BenchmarkRegister(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(context.Background(), Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, Crowd: noCrowdPool})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	k, _ := identity.Generate()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs", strings.NewReader("benchmark content"))
	if err := httpsig.Sign(req, k, time.Now()); err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var info BlobInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	cid, _ := content.ParseID(info.ID)
	var lat, base []time.Duration
	i := 0
	for b.Loop() {
		i++
		m := &asset.Manifest{Content: cid, Name: fmt.Sprintf("asset %d", i), MediaType: "text/plain", Created: asset.NewTime(time.Now()), Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		env, _ := m.Sign(k)
		raw, _ := env.Marshal()
		t0 := time.Now()
		resp, err := http.Post(hs.URL+"/v1/assets", "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
		t0 = time.Now()
		idx, err := s.tlog.Append(context.Background(), "bench", raw)
		if err != nil {
			b.Fatal(err)
		}
		base = append(base, time.Since(t0))
		// Hand the entry to the ordered applier (no effect), as every
		// append of the server does.
		if err := s.apply(context.Background(), idx, auditlog.Entry{Type: "bench", Payload: raw}); err != nil {
			b.Fatal(err)
		}
	}
	p50 := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	b.ReportMetric(p50(lat), "register_p50_ms")
	b.ReportMetric(p50(base), "append_p50_ms")
}
