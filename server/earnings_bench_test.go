package server

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/ledger/ledgertest"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
)

var earningsLedger = flag.String("earnings-ledger", "", "BenchmarkEarningsHTTP: a ledger file loaded by `go test ./ledger/sqlite -bench Earnings -ledger.db FILE` (10,000,000 postings with -ledger.others 10000000)")

// BenchmarkEarningsHTTP asks GET /v1/earnings, signed (RFC 9421) by the
// operator, and reads the answer (1,000 lines, ~400 KB of JSON), for the statement of ledgertest.EarningsDID in a ledger that
// ledger/sqlite's BenchmarkEarnings loaded, and reports its p50/p99. The
// baseline, in the same run, is the statement without HTTP
// (settlement.Service.Earnings through ledgertest.Statement); the
// difference is the request's signature check, its nonce, and the JSON
// encoding.
//
//	go test ./ledger/sqlite -run '^$' -bench Earnings -benchtime 20x -ledger.others 10000000 -ledger.db /tmp/earn10m.db -timeout 60m
//	go test ./server -run '^$' -bench EarningsHTTP -benchtime 2000x -earnings-ledger /tmp/earn10m.db
func BenchmarkEarningsHTTP(b *testing.B) {
	if *earningsLedger == "" {
		b.Skip("give -earnings-ledger FILE (see the doc comment)")
	}
	ctx := context.Background()
	l, err := ledgersqlite.Open(ctx, *earningsLedger, nil)
	if err != nil {
		b.Fatal(err)
	}
	d := Deps{Ledger: l, Config: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1}}
	if err := OpenDefaults(ctx, b.TempDir(), &d); err != nil {
		l.Close()
		b.Fatal(err)
	}
	start := time.Now()
	s, err := New(ctx, d) // verifies the whole journal once
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Logf("server started on the ledger in %v (journal verified)", time.Since(start).Round(time.Millisecond))
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	// A signed GET read to its end, as a browser or curl would: the
	// answer, not the Go SDK's decoding of it.
	target := hs.URL + "/v1/earnings?did=" + url.QueryEscape(ledgertest.EarningsDID)
	ask := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := httpsig.Sign(req, s.key, time.Now()); err != nil { // money is visible to its owner and the operator
			b.Fatal(err)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n < 100_000 {
			b.Fatalf("earnings: %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	ask() // warm
	var ds []time.Duration
	cpu0 := ledgertest.CPUTime()
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		ask()
		ds = append(ds, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(float64((ledgertest.CPUTime()-cpu0).Microseconds())/1000/float64(len(ds)), "cpu-ms/op")
	statement := ledgertest.Statement(l)
	var base []time.Duration
	for range len(ds) {
		t := time.Now()
		if n, err := statement(ctx); err != nil || n != 1000 {
			b.Fatalf("statement: %d lines, %v", n, err)
		}
		base = append(base, time.Since(t))
	}
	q := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(ds, 0.5), "p50-ms")
	b.ReportMetric(q(ds, 0.99), "p99-ms")
	b.ReportMetric(q(base, 0.5), "baseline-p50-ms")
	b.ReportMetric(q(base, 0.99), "baseline-p99-ms")
	b.ReportMetric(q(ds, 0.5)/q(base, 0.5), "ratio-p50")
}
