package console_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/charter-dev/charter/console"
)

// BenchmarkHandler serves one of the console's modules (owner.js, 14 KB) from memory and,
// in the same run, the same file through http.FileServerFS over the
// source folder (the baseline: what serving the files plainly costs). It
// reports ns per request of both and their ratio (ours/baseline; below 1
// is faster).
func BenchmarkHandler(b *testing.B) {
	const target = "/console/owner.js"
	ours := console.Handler()
	sub, err := fs.Sub(os.DirFS("static"), ".")
	if err != nil {
		b.Fatal(err)
	}
	base := http.StripPrefix("/console/", http.FileServerFS(sub))
	run := func(h http.Handler, n int) time.Duration {
		req := httptest.NewRequest("GET", target, nil)
		start := time.Now()
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
		return time.Since(start)
	}
	var tOurs, tBase time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	// Interleave the two in chunks so both see the same machine load.
	for done := 0; done < b.N; {
		n := min(64, b.N-done)
		tOurs += run(ours, n)
		tBase += run(base, n)
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "ns/req")
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(b.N), "baseline-ns/req")
	b.ReportMetric(float64(tOurs)/float64(tBase), "ratio")
}
