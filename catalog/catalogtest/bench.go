package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
)

// The page benchmark's synthetic catalog: entry group i holds asset i,
// grant i, dispute i and proposal i (with one approval), at log indexes
// 4i+1 to 4i+4, so every list is as long as the asset list.
const (
	benchOwners     = 101 // about 10,000 assets each at 1,000,000
	benchLicensees  = 1009
	benchHotAssets  = 997 // grants, disputes and proposals name one of the first 997 assets
	benchGroupWidth = 4
)

var benchMedias = []string{"text/plain", "image/png", "application/x-model", "application/x-dataset"}

// BenchGroup is entry group i of the page benchmark's catalog, as a backend's
// bulk loader writes it.
type BenchGroup struct {
	I     int
	Asset catalog.AssetRecord
	// Grant i on asset i mod 997 to one of 1,009 licensees.
	GrantID, GrantAsset, Licensee string
	GrantIndex                    uint64
	// Dispute i on asset i mod 997, open, released or voided.
	DisputeID, DisputeAsset, DisputeStatus string
	DisputeIndex                           uint64
	// Proposal i on asset i mod 997, pending, applied or rejected, with
	// one approval.
	Proposal, ProposalAsset asset.ID
	ProposalStatus          string
	ProposalIndex           uint64
}

var benchDIDs = map[string]identity.DID{}

func benchDID(s string) identity.DID {
	if d, ok := benchDIDs[s]; ok {
		return d
	}
	d := did(s)
	benchDIDs[s] = d
	return d
}

func benchID(s string) asset.ID {
	id, err := asset.ParseID(cid(s).String())
	if err != nil {
		panic(err)
	}
	return id
}

// Bench returns entry group i.
func Bench(i int) BenchGroup {
	a := benchID(fmt.Sprint("bench asset ", i))
	m := asset.Manifest{
		Content:   cid(fmt.Sprint("bench content ", i)),
		Created:   asset.NewTime(time.Unix(1_800_000_000, 0)),
		Name:      fmt.Sprintf("asset %d", i),
		MediaType: benchMedias[i%len(benchMedias)],
		Owners:    []asset.Owner{{DID: benchDID(fmt.Sprint("bench owner ", i%benchOwners)), Weight: 1}},
		Threshold: 1,
		License:   "commercial-training",
	}
	st := &asset.State{Asset: a, Manifest: m, Version: 1, Owners: m.Owners, Threshold: 1, License: m.License}
	base := uint64(benchGroupWidth*i + 1)
	hot := benchID(fmt.Sprint("bench asset ", i%benchHotAssets))
	return BenchGroup{
		I:       i,
		Asset:   catalog.AssetRecord{State: st, Claim: "priority", Priority: a, LogIndex: base},
		GrantID: fmt.Sprint("bench grant ", i), GrantAsset: hot.String(),
		Licensee: benchDID(fmt.Sprint("bench licensee ", i%benchLicensees)).String(), GrantIndex: base + 1,
		DisputeID: fmt.Sprint("bench dispute ", i), DisputeAsset: hot.String(),
		DisputeStatus: []string{"open", "released", "voided"}[i%3], DisputeIndex: base + 2,
		Proposal: benchID(fmt.Sprint("bench proposal ", i)), ProposalAsset: hot,
		ProposalStatus: []string{"pending", "applied", "rejected"}[i%3], ProposalIndex: base + 3,
	}
}

// Changes returns the group's catalog changes for Applier.UpdateSeq (the
// apply path).
func (g BenchGroup) Changes() []catalog.Change {
	return []catalog.Change{
		{Index: g.Asset.LogIndex, Fn: func(tx catalog.Tx) error { return tx.PutAsset(g.Asset) }},
		{Index: g.GrantIndex, Fn: func(tx catalog.Tx) error {
			return tx.PutGrant(g.GrantID, g.GrantAsset, g.Licensee, []byte(benchEnvelope), g.GrantIndex)
		}},
		{Index: g.DisputeIndex, Fn: func(tx catalog.Tx) error {
			if err := tx.PutDispute(catalog.DisputeRecord{ID: g.DisputeID, Asset: g.DisputeAsset, Opener: g.Licensee, Reason: "bench", Envelope: []byte(benchEnvelope), LogIndex: g.DisputeIndex}); err != nil {
				return err
			}
			if g.DisputeStatus == "open" {
				return nil
			}
			return tx.ResolveDispute(g.DisputeID, g.DisputeStatus, g.DisputeIndex)
		}},
		{Index: g.ProposalIndex, Fn: func(tx catalog.Tx) error {
			if err := tx.PutProposal(g.Proposal, g.ProposalAsset, []byte(benchEnvelope), g.ProposalStatus, g.ProposalIndex); err != nil {
				return err
			}
			return tx.AddApproval(g.Proposal, g.Licensee, []byte(benchEnvelope), g.ProposalIndex)
		}},
	}
}

// benchEnvelope stands for a signed statement: a real grant's envelope
// (grant/testdata/vectors.json, 970 bytes).
const benchEnvelope = `{"payloadType":"application/vnd.charter.grant+json","payload":"eyJhc3NldCI6ImJhZmtyNGlhYmFpYnFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIiwiY29tbWVyY2lhbCI6ZmFsc2UsImRlY2lzaW9uIjo1LCJpZCI6ImJhZmtyNGloN3RwZXhmaWdxYWxyMzJtYnNlbmh2eTZ5a2E3bDJuZ3p2aXY0cG5jbTZxdG1ya3NocXl5IiwiaXNzdWVyIjoiZGlkOmtleTp6Nk1rdlJYTlljRTdNTWR1eW5XVGdlS2JEYVQxaWlqRFNDOHBacVhaYzhySFByZjIiLCJsaWNlbnNlZSI6ImRpZDprZXk6ejZNa29uM05lY2Q2TmtreWZvR29IeGlkMnpuR2M1OUxVM0s3bXViYVJjRmJMZkxYIiwibm90QWZ0ZXIiOiIyMDI2LTExLTI3VDA5OjAwOjAwWiIsIm5vdEJlZm9yZSI6IjIwMjYtMTEtMjZUMDk6MDA6MDBaIiwicHVycG9zZSI6InJlc2VhcmNoIiwicXVvdGFzIjp7Im1heEJ5dGVzIjoxMDczNzQxODI0LCJtYXhSZXF1ZXN0cyI6MCwibWF4UnVucyI6MCwibWF4VG9rZW5zIjowfSwidGVybXMiOiJiYWZrcjRpYWphYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYSJ9","signatures":[{"keyid":"did:key:z6MkvRXNYcE7MMduynWTgeKbDaT1iijDSC8pZqXZc8rHPrf2","sig":"d/tx5suGA9rglFf0pAnHN6KKX3RxMqyPtMuG96a3UOoqcbfordi2NLCrKOhaB0SRlTCD7cW5oXVb0EhNIkFTAg=="}]}`

// BenchEnvelope is the envelope every statement of the benchmark's
// catalog carries.
func BenchEnvelope() []byte { return []byte(benchEnvelope) }

// BenchPages answers pages of 100 records of every list, with and without
// each filter, from random places of a catalog of 10,000, 100,000 and
// 1,000,000 entry groups (CHARTER_BENCH_ASSETS=10000,100000 picks other
// sizes; -short: 10,000), and reports per size, list and filter the 99th
// and 50th percentile and the CPU time this process spent per page (on a
// loaded machine the percentiles measure the load as well). fill(from, to)
// adds groups [from, to) (Bench) by the backend's bulk path. The baseline
// in the same run is the whole asset list (ListAssets, what GET /v1/assets
// read before pages) at the first size; "ratio" is the page's p99 over it.
func BenchPages(b *testing.B, c catalog.Catalog, fill func(from, to int)) {
	ctx := b.Context()
	sizes := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	if s := os.Getenv("CHARTER_BENCH_ASSETS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	owner := func(r *rand.Rand) string { return benchDID(fmt.Sprint("bench owner ", r.IntN(benchOwners))).String() }
	media := func(r *rand.Rand) string { return benchMedias[r.IntN(len(benchMedias))] }
	hot := func(r *rand.Rand) string { return benchID(fmt.Sprint("bench asset ", r.IntN(benchHotAssets))).String() }
	licensee := func(r *rand.Rand) string {
		return benchDID(fmt.Sprint("bench licensee ", r.IntN(benchLicensees))).String()
	}
	have := 0
	type query func(r *rand.Rand, from uint64) (int, error)
	lists := []struct {
		name string
		q    query
	}{
		{"assets", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}})
			return len(rs), err
		}},
		{"assets/media", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, MediaType: media(r)})
			return len(rs), err
		}},
		{"assets/owner", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Owner: owner(r)})
			return len(rs), err
		}},
		{"assets/owner+media", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Owner: owner(r), MediaType: media(r)})
			return len(rs), err
		}},
		{"assets/content", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{Limit: 100}, Content: cid(fmt.Sprint("bench content ", r.IntN(have))).String()})
			return len(rs), err
		}},
		{"grants", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.GrantPage(ctx, catalog.GrantQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}})
			return len(rs), err
		}},
		{"grants/asset", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.GrantPage(ctx, catalog.GrantQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Asset: hot(r)})
			return len(rs), err
		}},
		{"grants/licensee", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.GrantPage(ctx, catalog.GrantQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Licensee: licensee(r)})
			return len(rs), err
		}},
		{"disputes", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.DisputePage(ctx, catalog.DisputeQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}})
			return len(rs), err
		}},
		{"disputes/status", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.DisputePage(ctx, catalog.DisputeQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Status: "open"})
			return len(rs), err
		}},
		{"disputes/asset+status", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.DisputePage(ctx, catalog.DisputeQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Asset: hot(r), Status: "open"})
			return len(rs), err
		}},
		{"proposals", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.ProposalPage(ctx, catalog.ProposalQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}})
			return len(rs), err
		}},
		{"proposals/asset", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.ProposalPage(ctx, catalog.ProposalQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Asset: hot(r)})
			return len(rs), err
		}},
		{"proposals/status", func(r *rand.Rand, from uint64) (int, error) {
			rs, _, err := c.ProposalPage(ctx, catalog.ProposalQuery{PageQuery: catalog.PageQuery{From: from, Limit: 100}, Status: "pending"})
			return len(rs), err
		}},
	}
	var baseline time.Duration
	for _, size := range sizes {
		if size <= have {
			continue
		}
		start := time.Now()
		fill(have, size)
		b.Logf("filled to %d entry groups in %s", size, time.Since(start).Round(time.Millisecond))
		have = size
		if baseline == 0 {
			var ds []time.Duration
			runs := 5
			if size > 100_000 {
				runs = 1 // 20 s or more at 1,000,000
			}
			for range runs {
				t0 := time.Now()
				all, err := c.ListAssets(ctx)
				if err != nil || len(all) != size {
					b.Fatal(len(all), err)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			baseline = ds[len(ds)/2]
			b.Logf("baseline: the whole list of %d assets in %s (median of %d)", size, baseline, runs)
		}
		for _, l := range lists {
			b.Run(fmt.Sprintf("n=%d/%s", size, l.name), func(b *testing.B) {
				r := rand.New(rand.NewPCG(uint64(size), 1))
				ds := make([]time.Duration, 0, b.N)
				got := 0
				cpu0 := cpuTime()
				for b.Loop() {
					from := uint64(r.IntN(benchGroupWidth * size))
					t0 := time.Now()
					n, err := l.q(r, from)
					ds = append(ds, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
				cpu := cpuTime() - cpu0
				slices.Sort(ds)
				p99 := ds[len(ds)*99/100]
				// The CPU this process spent per page (queries, decoding, GC;
				// not a database server's): what a page costs whatever else
				// runs on the machine.
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(ds)), "cpu-ms/page")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(got)/float64(len(ds)), "records/page")
				if l, ok := loadAverage(); ok {
					b.ReportMetric(l, "load1") // the machine's, at the end
				}
				b.ReportMetric(float64(p99)/float64(baseline), "ratio-to-whole-list")
			})
		}
	}
}

// loadAverage is the machine's load average over the last minute (Linux).
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return l, err == nil
}
