package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
)

// TestAssetPage walks random filtered queries page by page and compares
// what the pages hold with the full list filtered in Go, after some assets
// changed owners.
func TestAssetPage(t *testing.T) {
	ctx := t.Context()
	c := openTest(t)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 300
	medias := []string{"text/plain", "image/png", "application/x-model"}
	var changes []catalog.Change
	for i := range n {
		st := pstate(t, fmt.Sprint("a", i))
		st.Manifest.MediaType = medias[r.IntN(len(medias))]
		st.Manifest.Content = pcid(fmt.Sprint("content ", r.IntN(20)))
		st.Owners = []asset.Owner{{DID: pdid(fmt.Sprint("o", r.IntN(5))), Weight: 1}}
		if r.IntN(4) == 0 {
			st.Owners = append(st.Owners, asset.Owner{DID: pdid("shared"), Weight: 1})
		}
		idx := uint64(i*2 + 1) // gaps in the log indexes
		changes = append(changes, catalog.Change{Index: idx, Fn: func(tx catalog.Tx) error {
			return tx.PutAsset(catalog.AssetRecord{State: st, Claim: "priority", Priority: st.Asset, LogIndex: idx})
		}})
	}
	for _, err := range c.UpdateSeq(ctx, changes) {
		must(t, err)
	}
	// Some change hands.
	all, err := c.ListAssets(ctx)
	must(t, err)
	for i, a := range all[:50] {
		st := *a.State
		st.Owners = []asset.Owner{{DID: pdid("new owner"), Weight: 1}}
		must(t, c.Update(ctx, uint64(10_000+i), func(tx catalog.Tx) error { return tx.SetState(&st) }))
	}
	all, err = c.ListAssets(ctx)
	must(t, err)
	owners := []string{"", pdid("o1").String(), pdid("shared").String(), pdid("new owner").String(), pdid("nobody").String()}
	for trial := range 60 {
		q := AssetQuery{Limit: 1 + r.IntN(40), Owner: owners[r.IntN(len(owners))]}
		if r.IntN(2) == 0 {
			q.MediaType = medias[r.IntN(len(medias))]
		}
		if r.IntN(3) == 0 {
			q.Content = pcid(fmt.Sprint("content ", r.IntN(20))).String()
		}
		var want []string
		for _, a := range all {
			if (q.MediaType == "" || a.State.Manifest.MediaType == q.MediaType) &&
				(q.Content == "" || a.State.Manifest.Content.String() == q.Content) &&
				(q.Owner == "" || slices.ContainsFunc(a.State.Owners, func(o asset.Owner) bool { return o.DID.String() == q.Owner })) {
				want = append(want, a.State.Asset.String())
			}
		}
		var got []string
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("pages do not end")
			}
			page, err := c.AssetPage(ctx, q)
			must(t, err)
			if len(page) > q.Limit {
				t.Fatalf("a page of %d, limit %d", len(page), q.Limit)
			}
			for _, a := range page {
				got = append(got, a.State.Asset.String())
			}
			if len(page) < q.Limit {
				break
			}
			q.From = page[len(page)-1].LogIndex + 1
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d %+v: pages hold %d assets, want %d", trial, q, len(got), len(want))
		}
	}
	if _, err := c.AssetPage(ctx, AssetQuery{Limit: MaxPage + 1}); err == nil {
		t.Fatal("a page over the bound was answered")
	}
}

// TestOwnerBackfill: migration 0003 fills asset_owners from the states of
// the assets a catalog held before it.
func TestOwnerBackfill(t *testing.T) {
	ctx := t.Context()
	c := openTest(t)
	st := pstate(t, "old")
	st.Owners = append(st.Owners, asset.Owner{DID: pdid("second"), Weight: 2})
	must(t, c.Update(ctx, 1, func(tx catalog.Tx) error {
		return tx.PutAsset(catalog.AssetRecord{State: st, Claim: "priority", Priority: st.Asset, LogIndex: 1})
	}))
	before, err := c.pool.Query(ctx, `SELECT owner || ' ' || log_index || ' ' || asset || ' ' || media FROM asset_owners ORDER BY 1`)
	must(t, err)
	want, err := pgx.CollectRows(before, pgx.RowTo[string])
	must(t, err)
	if len(want) != 2 {
		t.Fatalf("owners recorded: %q", want)
	}
	// As a catalog of schema version 1 holds them: no owner rows.
	_, err = c.pool.Exec(ctx, `DELETE FROM asset_owners`)
	must(t, err)
	sql, err := migrations.ReadFile("migrations/0003_asset_pages.sql")
	must(t, err)
	_, err = c.pool.Exec(ctx, string(sql))
	must(t, err)
	after, err := c.pool.Query(ctx, `SELECT owner || ' ' || log_index || ' ' || asset || ' ' || media FROM asset_owners ORDER BY 1`)
	must(t, err)
	got, err := pgx.CollectRows(after, pgx.RowTo[string])
	must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("backfilled %q, want %q", got, want)
	}
}
