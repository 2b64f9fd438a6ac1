package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/catalogtest"
	"github.com/jackc/pgx/v5"
)

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

// TestPagesCovered: a page of one asset's or one licensee's grants,
// disputes or proposals is an index-only scan of an index of migration
// 0009 (the heap rows of one asset lie scattered), once the visibility map
// says the heap is all visible.
func TestPagesCovered(t *testing.T) {
	ctx := t.Context()
	c := openTest(t)
	g := catalogtest.Bench(1)
	// One asset and one licensee with 3,000 records each (at 1,000,000
	// entry groups each has about 1,000), so that the planner weighs a
	// page of 100 against many rows, as in a large catalog.
	env := string(catalogtest.BenchEnvelope())
	var grants, disputes, proposals [][]any
	for i := range 3000 {
		idx := int64(1_000_000 + 3*i)
		p := catalogtest.Bench(1_000_000 + i).Proposal.String()
		grants = append(grants, []any{fmt.Sprint("dense grant ", i), g.GrantAsset, g.Licensee, env, false, idx})
		disputes = append(disputes, []any{fmt.Sprint("dense dispute ", i), g.DisputeAsset, g.Licensee, "dense", []string{"open", "voided"}[i%2], env, idx + 1, 0})
		proposals = append(proposals, []any{p, g.ProposalAsset.String(), env, []string{"pending", "applied"}[i%2], idx + 2})
	}
	for _, tb := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"grants", []string{"id", "asset", "licensee", "envelope", "revoked", "log_index"}, grants},
		{"disputes", []string{"id", "asset", "opener", "reason", "status", "envelope", "log_index", "resolved"}, disputes},
		{"proposals", []string{"proposal", "asset", "envelope", "status", "log_index"}, proposals},
	} {
		_, err := c.pool.CopyFrom(ctx, pgx.Identifier{tb.table}, tb.cols, pgx.CopyFromRows(tb.rows))
		must(t, err)
	}
	benchFill(t, c, 0, 20_000) // VACUUM ANALYZE at the end
	page := catalog.PageQuery{From: 7, Limit: 100}
	type q struct {
		name, index string
		sql         string
		args        []any
	}
	var qs []q
	add := func(name, index string, sql string, args []any) { qs = append(qs, q{name, index, sql, args}) }
	s, a := grantPageQuery(catalog.GrantQuery{PageQuery: page, Asset: g.GrantAsset})
	add("grants/asset", "grants_asset_page", s, a)
	s, a = grantPageQuery(catalog.GrantQuery{PageQuery: page, Licensee: g.Licensee})
	add("grants/licensee", "grants_licensee_page", s, a)
	s, a = disputePageQuery(catalog.DisputeQuery{PageQuery: page, Asset: g.DisputeAsset})
	add("disputes/asset", "disputes_asset_page", s, a)
	s, a = disputePageQuery(catalog.DisputeQuery{PageQuery: page, Asset: g.DisputeAsset, Status: "open"})
	add("disputes/asset+status", "disputes_asset_status_page", s, a)
	s, a = proposalPageQuery(catalog.ProposalQuery{PageQuery: page, Asset: g.ProposalAsset.String()})
	add("proposals/asset", "proposals_asset_page", s, a)
	s, a = proposalPageQuery(catalog.ProposalQuery{PageQuery: page, Asset: g.ProposalAsset.String(), Status: "pending"})
	add("proposals/asset+status", "proposals_asset_status_page", s, a)
	for _, q := range qs {
		rows, err := c.pool.Query(ctx, `EXPLAIN `+q.sql, q.args...)
		must(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		must(t, err)
		all := strings.Join(plan, "\n")
		if !strings.Contains(all, "Index Only Scan using "+q.index+" ") {
			t.Errorf("%s: plan\n%s\nwant an index-only scan of %s", q.name, all, q.index)
		}
	}
	// The pages answer what they did before 0009 (catalogtest.Pages checks
	// them against the whole lists); here, one page of a large row too.
	big := strings.Repeat("b", 2100)
	must(t, c.Update(ctx, 2_000_000, func(tx catalog.Tx) error {
		return tx.PutGrant("large grant", g.GrantAsset, g.Licensee, []byte(big), 2_000_000)
	}))
	gs, _, err := c.GrantPage(ctx, catalog.GrantQuery{PageQuery: catalog.PageQuery{From: 1_000_000 + 3*2950, Limit: 100}, Asset: g.GrantAsset})
	must(t, err)
	if n := len(gs); n == 0 || gs[n-1].ID != "large grant" || string(gs[n-1].Envelope) != big {
		t.Fatalf("the last grant of %s: %d grants, want the large one last", g.GrantAsset, n)
	}
	for i := 1; i < len(gs); i++ {
		if gs[i].LogIndex <= gs[i-1].LogIndex {
			t.Fatalf("grants out of log order: %d then %d", gs[i-1].LogIndex, gs[i].LogIndex)
		}
	}
}
