package postgres

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
	"github.com/jackc/pgx/v5"
)

// BenchmarkAssetPage answers pages of 100 assets, with and without
// filters, from random places of a catalog of 10,000, 100,000 and
// 1,000,000 assets (filled through COPY, the bulk path), and reports the
// 99th percentile per size and filter. The baseline in the same run is the
// whole list (ListAssets, what GET /v1/assets answered before pages) at
// 10,000 assets; "ratio" is the page's p99 over it.
//
//	go test ./catalog/postgres -run XXX -bench AssetPage -benchtime 400x
//
// CHARTER_BENCH_ASSETS=10000,100000 picks other sizes (-short: 10,000).
func BenchmarkAssetPage(b *testing.B) {
	ctx := b.Context()
	c := openTest(b)
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
	have := 0
	const owners = 101 // about 100 assets each at 10,000, 10,000 at 1,000,000, of every media type
	medias := []string{"text/plain", "image/png", "application/x-model", "application/x-dataset"}
	filters := []struct {
		name string
		q    func(r *rand.Rand) AssetQuery
	}{
		{"none", func(*rand.Rand) AssetQuery { return AssetQuery{} }},
		{"media", func(r *rand.Rand) AssetQuery { return AssetQuery{MediaType: medias[r.IntN(len(medias))]} }},
		{"owner", func(r *rand.Rand) AssetQuery { return AssetQuery{Owner: benchOwner(r.IntN(owners))} }},
		{"owner+media", func(r *rand.Rand) AssetQuery {
			return AssetQuery{Owner: benchOwner(r.IntN(owners)), MediaType: medias[r.IntN(len(medias))]}
		}},
		{"content", func(r *rand.Rand) AssetQuery {
			return AssetQuery{Content: benchContent(r.IntN(have) * 7919 % (1 << 30))}
		}},
	}
	var baseline time.Duration
	for _, size := range sizes {
		start := time.Now()
		benchFill(b, c, have, size, owners, medias)
		b.Logf("filled to %d assets in %s", size, time.Since(start).Round(time.Millisecond))
		have = size
		if baseline == 0 {
			// The whole list, as GET /v1/assets read it before pages.
			var ds []time.Duration
			for range 5 {
				t0 := time.Now()
				all, err := c.ListAssets(ctx)
				if err != nil || len(all) != size {
					b.Fatal(len(all), err)
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			baseline = ds[len(ds)/2]
			b.Logf("baseline: the whole list of %d assets in %s (median of 5)", size, baseline)
		}
		if os.Getenv("CHARTER_BENCH_EXPLAIN") != "" {
			r := rand.New(rand.NewPCG(7, 7))
			for _, f := range filters {
				q := f.q(r)
				q.From, q.Limit = uint64(size/2), 100
				sql, args, _ := assetPageQuery(q)
				rows, err := c.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
				if err != nil {
					b.Fatal(err)
				}
				plan, _ := pgx.CollectRows(rows, pgx.RowTo[string])
				b.Logf("%s at %d:\n%s", f.name, size, strings.Join(plan, "\n"))
			}
		}
		for _, f := range filters {
			b.Run(fmt.Sprintf("assets=%d/filter=%s", size, f.name), func(b *testing.B) {
				r := rand.New(rand.NewPCG(uint64(size), 1))
				ds := make([]time.Duration, 0, b.N)
				got := 0
				for b.Loop() {
					q := f.q(r)
					q.From, q.Limit = uint64(r.IntN(size)), 100
					t0 := time.Now()
					page, err := c.AssetPage(ctx, q)
					ds = append(ds, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					got += len(page)
				}
				slices.Sort(ds)
				p99 := ds[len(ds)*99/100]
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(got)/float64(len(ds)), "assets/page")
				b.ReportMetric(float64(p99)/float64(baseline), "ratio-to-whole-list-10k")
			})
		}
	}
}

var benchOwners []identity.DID

func benchOwner(i int) string { return benchOwnerDID(i).String() }

func benchOwnerDID(i int) identity.DID {
	for len(benchOwners) <= i {
		benchOwners = append(benchOwners, pdid(fmt.Sprint("bench owner ", len(benchOwners))))
	}
	return benchOwners[i]
}
func benchContent(i int) string { return pcid(fmt.Sprint("bench content ", i)).String() }
func benchAsset(i int) asset.ID {
	id, err := asset.ParseID(pcid(fmt.Sprint("bench asset ", i)).String())
	if err != nil {
		panic(err)
	}
	return id
}

// benchFill adds assets [from, to) through COPY: log index i, one of
// owners owners, one of medias, content benchContent(i·7919 mod 2³⁰), a
// state of about 600 bytes as registrations have.
func benchFill(b *testing.B, c *Catalog, from, to, owners int, medias []string) {
	ctx := b.Context()
	for i := range owners {
		benchOwner(i)
	}
	state := func(i int, a asset.ID) string {
		m := asset.Manifest{
			Content:   pcid(fmt.Sprint("bench content ", i*7919%(1<<30))),
			Created:   asset.NewTime(time.Unix(1_800_000_000, 0)),
			Name:      fmt.Sprintf("asset %d", i),
			MediaType: medias[i%len(medias)],
			Owners:    []asset.Owner{{DID: benchOwnerDID(i % owners), Weight: 1}},
			Threshold: 1,
			License:   "commercial-training",
		}
		j, err := json.Marshal(&asset.State{Asset: a, Manifest: m, Version: 1, Owners: m.Owners, Threshold: 1, License: m.License})
		if err != nil {
			b.Fatal(err)
		}
		return string(j)
	}
	const chunk = 50_000
	for lo := from; lo < to; lo += chunk {
		hi := min(lo+chunk, to)
		rows := make([][]any, 0, hi-lo)
		own := make([][]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			id := benchAsset(i)
			a := id.String()
			rows = append(rows, []any{a, benchContent(i * 7919 % (1 << 30)), state(i, id), "priority", a, int64(i), fmt.Sprintf("asset %d", i), medias[i%len(medias)]})
			own = append(own, []any{benchOwner(i % owners), int64(i), a, medias[i%len(medias)]})
		}
		if _, err := c.pool.CopyFrom(ctx, pgx.Identifier{"assets"}, []string{"asset", "content", "state", "claim", "priority", "log_index", "name", "media"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		if _, err := c.pool.CopyFrom(ctx, pgx.Identifier{"asset_owners"}, []string{"owner", "log_index", "asset", "media"}, pgx.CopyFromRows(own)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := c.pool.Exec(ctx, `VACUUM ANALYZE assets`); err != nil {
		b.Fatal(err)
	}
	if _, err := c.pool.Exec(ctx, `VACUUM ANALYZE asset_owners`); err != nil {
		b.Fatal(err)
	}
}
