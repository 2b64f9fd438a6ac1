package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/registry"
)

var registryBatchAge = flag.Duration("registry-batch-age", 0, "BenchmarkRegistryLoad: the log's BatchMaxAge for the server and the baseline (0: the default)")

var registryProfile = flag.String("registry-profile", "", "write CPU profiles of BenchmarkRegistryLoad's 1,024-client phases to this file (registrations) and to it with .grants added (grants), and allocation profiles before and after each (.heap0, .heap1 added)")

// loadItem is one request of a load phase; dup marks a copy of the
// request before it, sent at the same time by another client.
type loadItem struct {
	path string
	body []byte
	dup  bool
}

// loadResult is what a load phase measured.
type loadResult struct {
	elapsed time.Duration
	cpu     time.Duration   // process CPU time (user and system) over the phase
	alloc   uint64          // bytes the process allocated over the phase
	lat     []time.Duration // per request, in completion order
	failed  atomic.Int64
	first   atomic.Value // first failure, for the message
}

func (r *loadResult) p50() time.Duration { return r.quantile(0.50) }
func (r *loadResult) p99() time.Duration { return r.quantile(0.99) }

func (r *loadResult) quantile(q float64) time.Duration {
	d := slices.Clone(r.lat)
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

// allocated is the number of bytes the process allocated so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// runLoad sends items from clients concurrent clients, each taking the
// next item, and checks every answer with ok.
func runLoad(hc *http.Client, base string, clients int, items []loadItem, ok func(it loadItem, code int, body []byte) error) *loadResult {
	res := &loadResult{}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	a0, c0, t0 := allocated(), processCPU(), time.Now()
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			var buf bytes.Buffer // the answers' bytes, reused: the client shares the process
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					break
				}
				it := items[i]
				t1 := time.Now()
				resp, err := hc.Post(base+it.path, "application/json", bytes.NewReader(it.body))
				var body []byte
				code := -1
				if err == nil {
					buf.Reset()
					buf.ReadFrom(resp.Body)
					resp.Body.Close()
					body = buf.Bytes()
					code = resp.StatusCode
					err = ok(it, code, body)
				}
				lat = append(lat, time.Since(t1))
				if err != nil {
					if res.failed.Add(1) == 1 {
						res.first.Store(fmt.Sprintf("%s: %v (%d %.300s)", it.path, err, code, body))
					}
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed, res.cpu = time.Since(t0), processCPU()-c0
	res.alloc = allocated() - a0
	return res
}

// withCopies returns items with every 8th one followed by a copy of it.
func withCopies(items []loadItem) []loadItem {
	out := make([]loadItem, 0, len(items)+len(items)/8)
	for i, it := range items {
		out = append(out, it)
		if i%8 == 7 {
			c := it
			c.dup = true
			out = append(out, c)
		}
	}
	return out
}

// baselineAppends appends n payloads to a bare log (auditlog.Log, the
// server's options, its own folder) from writers concurrent writers and
// returns appends per second and the process CPU time per append.
func baselineAppends(b *testing.B, writers, n int, payload []byte) (float64, time.Duration) {
	dir := b.TempDir()
	key, err := auditlog.LoadOrCreateKey(filepath.Join(dir, "log.key"), "bench.local/log")
	if err != nil {
		b.Fatal(err)
	}
	l, err := auditlog.Open(context.Background(), filepath.Join(dir, "log"), key, auditlog.Options{BatchMaxAge: *registryBatchAge})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	var next atomic.Int64
	var wg sync.WaitGroup
	c0, t0 := processCPU(), time.Now()
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := l.Append(context.Background(), "bench", payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds(), (processCPU() - c0) / time.Duration(n)
}

// BenchmarkRegistryLoad measures the registry under load against a real
// server over loopback HTTP, every answer carrying its inclusion receipt.
// b.N is the number of distinct statements per phase at 1,024 clients (a
// quarter of it, at least 256, at 32 writers); every 8th request is sent
// twice at once, so duplicates race their originals. Targets (issue 9):
//
//   - 32 writers: registrations/s >= 0.8 × 32 ÷ p50 latency, i.e. the
//     writers are not serialised (metric reg32_parallelism >= 0.8);
//   - 1,024 clients: >= 2,000 registrations/s (reg1024/s);
//   - 1,024 clients: >= 1,000 grants/s with receipts (grants1024/s).
//
// Baseline in the same run: bare log appends with 32 and 1,024 writers;
// the *_vs_append metrics are the ratios. A registration is one append, a
// grant two (decision and grant).
func BenchmarkRegistryLoad(b *testing.B) {
	ctx := context.Background()
	if os.Getenv("GOGC") == "" {
		// The GC target charter serve runs with (GCPercent).
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	}
	s, err := Open(ctx, Config{DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1, Crowd: noCrowdPool,
		LogOptions: auditlog.Options{BatchMaxAge: *registryBatchAge}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	const clients = 1024
	n1024 := b.N
	n32 := max(b.N/4, 256)
	keys := make([]*identity.Key, clients)
	for i := range keys {
		keys[i], _ = identity.Generate()
	}
	// Content to register, one blob per registration.
	nreg := n32 + n1024
	blobs := make([]content.ID, nreg)
	var bw sync.WaitGroup
	var bnext atomic.Int64
	for range 16 {
		bw.Go(func() {
			for {
				i := int(bnext.Add(1)) - 1
				if i >= len(blobs) {
					return
				}
				info, err := blob.Put(ctx, s.blobs, bytes.NewReader(fmt.Appendf(nil, "registry load content %d", i)), nil)
				if err != nil {
					b.Error(err)
					return
				}
				blobs[i] = info.ID
			}
		})
	}
	bw.Wait()
	created := asset.NewTime(time.Now())
	register := func(i int) loadItem {
		k := keys[i%clients]
		m := &asset.Manifest{Content: blobs[i], Name: fmt.Sprintf("load %d", i), MediaType: "application/octet-stream", Created: created, Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		env, err := m.Sign(k)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := env.Marshal()
		return loadItem{path: "/v1/assets", body: raw}
	}
	var regs32, regs1024 []loadItem
	for i := range nreg {
		if i < n32 {
			regs32 = append(regs32, register(i))
		} else {
			regs1024 = append(regs1024, register(i))
		}
	}
	regs32, regs1024 = withCopies(regs32), withCopies(regs1024)
	// A licensed asset for the grants, under automatic research terms.
	terms, _ := license.Template("research-only")
	tb, _ := terms.Encode()
	tinfo, err := blob.Put(ctx, s.blobs, bytes.NewReader(tb), nil)
	if err != nil {
		b.Fatal(err)
	}
	lm := &asset.Manifest{Content: blobs[0], Name: "licensed", MediaType: "application/octet-stream", Created: created, Threshold: 1, License: tinfo.ID.String(),
		Owners: []asset.Owner{{DID: keys[0].DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: keys[0].DID(), Share: asset.Whole}}}
	lenv, _ := lm.Sign(keys[0])
	lraw, _ := lenv.Marshal()
	resp, err := http.Post(hs.URL+"/v1/assets", "application/json", bytes.NewReader(lraw))
	if err != nil {
		b.Fatal(err)
	}
	var la RegisterAnswer
	json.NewDecoder(resp.Body).Decode(&la)
	resp.Body.Close()
	licensed, err := asset.ParseID(la.Asset)
	if err != nil {
		b.Fatalf("licensed asset: %d %+v", resp.StatusCode, la)
	}
	var grants []loadItem
	for i := range n1024 {
		k := keys[i%clients]
		r := &grant.Request{Asset: licensed, Created: asset.NewTime(time.Now()), Licensee: k.DID(), Nonce: grant.NewNonce(), Purpose: "research"}
		env, _ := r.Sign(k)
		raw, _ := env.Marshal()
		grants = append(grants, loadItem{path: "/v1/assets/" + licensed.String() + "/grants", body: raw})
	}
	grants = withCopies(grants)

	// The checks look at the answers' bytes rather than decoding them:
	// the clients share the server's 2 cores.
	regOK := func(it loadItem, code int, body []byte) error {
		if code != http.StatusCreated && code != http.StatusOK || !bytes.Contains(body, []byte(`"receipt":{`)) {
			return fmt.Errorf("registration answered %d", code)
		}
		return nil
	}
	grantOK := func(it loadItem, code int, body []byte) error {
		if code == http.StatusConflict && bytes.Contains(body, []byte(`problems/replay"`)) {
			return nil // the other copy was granted (counted below)
		}
		if code != http.StatusCreated || !bytes.Contains(body, []byte(`"status":"granted"`)) ||
			!bytes.Contains(body, []byte(`"grant_receipt":{`)) || !bytes.Contains(body, []byte(`"decision_receipt":{`)) {
			return fmt.Errorf("grant answered %d", code)
		}
		return nil
	}
	logBefore, err := s.tlog.Checkpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0}
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	// profiled runs fn under a CPU profile written to the file named by
	// -registry-profile with suffix added.
	profiled := func(suffix string, fn func() *loadResult) *loadResult {
		if *registryProfile == "" {
			return fn()
		}
		f, err := os.Create(*registryProfile + suffix)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
		// Heap profiles before and after: pprof -sample_index=alloc_space
		// -diff_base FILE.heap0 FILE.heap1 shows what the phase allocated.
		heap := func(name string) {
			runtime.GC()
			h, err := os.Create(*registryProfile + suffix + name)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			if err := pprof.Lookup("allocs").WriteTo(h, 0); err != nil {
				b.Fatal(err)
			}
		}
		heap(".heap0")
		defer heap(".heap1")
		return fn()
	}
	b.ResetTimer()
	r32 := runLoad(hc, hs.URL, 32, regs32, regOK)
	r1024 := profiled("", func() *loadResult { return runLoad(hc, hs.URL, clients, regs1024, regOK) })
	g1024 := profiled(".grants", func() *loadResult { return runLoad(hc, hs.URL, clients, grants, grantOK) })
	b.StopTimer()
	for name, r := range map[string]*loadResult{"32 writers": r32, "1,024 registering clients": r1024, "1,024 licensees": g1024} {
		if r.failed.Load() > 0 {
			b.Fatalf("%s: %d requests failed; first: %v", name, r.failed.Load(), r.first.Load())
		}
	}
	// Every distinct statement took effect exactly once, and was logged
	// once: a registration is one entry, a grant two (its decision and
	// itself); the copies added none. Every answer carried a receipt, so
	// the latest checkpoint covers every entry the phases appended.
	assets, granted := dumpCount(b, s.cat, "asset "), dumpCount(b, s.cat, "grant ")
	if assets != nreg+1 || granted != n1024 {
		b.Fatalf("%d assets and %d grants in the catalog, want %d and %d", assets, granted, nreg+1, n1024)
	}
	logAfter, err := s.tlog.Checkpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if got, want := logAfter.Size-logBefore.Size, uint64(nreg+2*n1024); got != want {
		b.Fatalf("the phases logged %d entries, want %d (one per registration, two per grant)", got, want)
	}

	base32, _ := baselineAppends(b, 32, 4*n32, lraw)
	base1024, appendCPU := baselineAppends(b, clients, n1024, lraw)

	reg32 := float64(n32) / r32.elapsed.Seconds()
	p50 := r32.p50()
	b.ReportMetric(reg32, "reg32/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "reg32_p50_ms")
	b.ReportMetric(reg32/(32/p50.Seconds()), "reg32_parallelism")
	reg1024 := float64(n1024) / r1024.elapsed.Seconds()
	b.ReportMetric(reg1024, "reg1024/s")
	b.ReportMetric(float64(r1024.p50().Microseconds())/1000, "reg1024_p50_ms")
	b.ReportMetric(float64(r1024.p99().Microseconds())/1000, "reg1024_p99_ms")
	gr := float64(n1024) / g1024.elapsed.Seconds()
	b.ReportMetric(gr, "grants1024/s")
	b.ReportMetric(float64(g1024.p50().Microseconds())/1000, "grant1024_p50_ms")
	b.ReportMetric(float64(g1024.p99().Microseconds())/1000, "grant1024_p99_ms")
	b.ReportMetric(base32, "append32/s")
	b.ReportMetric(base1024, "append1024/s")
	b.ReportMetric(reg32/base32, "reg32_vs_append")
	b.ReportMetric(reg1024/base1024, "reg1024_vs_append")
	b.ReportMetric(2*gr/base1024, "grant_appends_vs_append")
	b.ReportMetric(float64(len(regs32)+len(regs1024)+len(grants)-nreg-n1024), "duplicates")
	// CPU time per statement, clients included (they share the process):
	// what the throughput targets cost whatever else the machine runs.
	// At 2,000 registrations/s on 2 cores a registration may take 1 ms.
	regCPU := r1024.cpu / time.Duration(n1024)
	b.ReportMetric(float64(regCPU.Nanoseconds())/1000, "reg1024_cpu_us")
	b.ReportMetric(float64(g1024.cpu.Nanoseconds())/1000/float64(n1024), "grant1024_cpu_us")
	b.ReportMetric(float64(appendCPU.Nanoseconds())/1000, "append1024_cpu_us")
	b.ReportMetric(float64(regCPU)/float64(appendCPU), "reg_cpu_vs_append")
	// Bytes allocated per request (copies included), clients included: a
	// figure the machine's load does not change.
	b.ReportMetric(float64(r1024.alloc)/float64(len(regs1024))/1024, "reg1024_KiB/req")
	b.ReportMetric(float64(g1024.alloc)/float64(len(grants))/1024, "grant1024_KiB/req")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRegistryApply measures the ordered applier's work per
// registration, the one part of a registration that runs one at a time:
// b.N manifests, opened and verified beforehand as the live path does,
// applied in runs of 64 entries through the catalog's UpdateSeq, as the
// sequencer applies them. Baseline in the same run: as many entries of a
// type without catalog effect (a decision record) through the same
// UpdateSeq, i.e. the per-entry bookkeeping alone; apply_vs_noop is the
// ratio. Wall time per entry (apply_us/entry) bounds the registrations
// per second the applier can keep up with (1e6 ÷ it).
func BenchmarkRegistryApply(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1, Crowd: noCrowdPool})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	k, _ := identity.Generate()
	n := b.N
	raws := make([][]byte, n)
	created := asset.NewTime(time.Now())
	for i := range n {
		info, err := blob.Put(ctx, s.blobs, bytes.NewReader(fmt.Appendf(nil, "apply content %d", i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		m := &asset.Manifest{Content: info.ID, Name: fmt.Sprintf("apply %d", i), MediaType: "application/octet-stream", Created: created, Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		env, err := m.Sign(k)
		if err != nil {
			b.Fatal(err)
		}
		om := &registry.OpenedManifest{}
		if om.M, om.ID, om.Signers, err = asset.OpenManifest(env); err != nil {
			b.Fatal(err)
		}
		if raws[i], err = env.Marshal(); err != nil {
			b.Fatal(err)
		}
		defer s.reg.Opened(raws[i], om)()
	}
	run := func(base uint64, fn func(tx catalog.Tx, j int, idx uint64) error) time.Duration {
		t0 := time.Now()
		for i := 0; i < n; i += 64 {
			var ch []catalog.Change
			for j := i; j < min(n, i+64); j++ {
				idx := base + uint64(j)
				ch = append(ch, catalog.Change{Index: idx, Fn: func(tx catalog.Tx) error { return fn(tx, j, idx) }})
			}
			for _, err := range s.cat.UpdateSeq(ctx, ch) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	// Far above the log's own entries, so that they never meet.
	apply := run(1<<40, func(tx catalog.Tx, j int, idx uint64) error {
		return s.reg.Apply(ctx, tx, idx, auditlog.Entry{Type: auditlog.TypeAssetRegister, Payload: raws[j]})
	})
	noop := run(1<<41, func(tx catalog.Tx, j int, idx uint64) error {
		return s.reg.Apply(ctx, tx, idx, auditlog.Entry{Type: auditlog.TypeDecision})
	})
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(n) }
	b.ReportMetric(per(apply), "apply_us/entry")
	b.ReportMetric(per(noop), "noop_us/entry")
	b.ReportMetric(per(apply)/per(noop), "apply_vs_noop")
	b.ReportMetric(0, "ns/op")
}
