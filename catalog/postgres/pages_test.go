package postgres

import (
	"slices"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
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
