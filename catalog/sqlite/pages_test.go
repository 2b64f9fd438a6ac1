package sqlite

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/catalogtest"
)

// TestPagesUpgrade: a catalog file made before pages (no asset_owners, user
// version 0) is upgraded when opened: the owners of its assets are filled
// in from their states, so the owner filter finds them.
func TestPagesUpgrade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var changes []catalog.Change
	for i := range 5 {
		changes = append(changes, catalogtest.Bench(i).Changes()...)
	}
	for _, err := range c.UpdateSeq(ctx, changes) {
		if err != nil {
			t.Fatal(err)
		}
	}
	owner := catalogtest.Bench(3).Asset.State.Owners[0].DID.String()
	want, _, err := c.AssetPage(ctx, catalog.AssetQuery{Owner: owner})
	if err != nil || len(want) != 1 {
		t.Fatalf("owner %s: %d assets, %v", owner, len(want), err)
	}
	// As an older Charter left the file.
	for _, q := range []string{`DROP TABLE asset_owners`, `DROP INDEX assets_media`, `PRAGMA user_version = 0`} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, _, err := c.AssetPage(ctx, catalog.AssetQuery{Owner: owner, MediaType: want[0].State.Manifest.MediaType})
	if err != nil || len(got) != 1 || got[0].State.Asset != want[0].State.Asset {
		t.Fatalf("after the upgrade, owner %s: %d assets, %v", owner, len(got), err)
	}
	var v int
	if err := c.DB().QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("user_version %d, %v; want %d", v, err, len(migrations))
	}
	tables, err := c.Tables(ctx)
	if err != nil || !slices.Contains(tables, "asset_owners") {
		t.Fatalf("tables %v, %v", tables, err)
	}
}

// BenchmarkPages is catalogtest.BenchPages on SQLite, filled through the
// apply path (UpdateSeq, 4,096 entries a call):
//
//	go test ./catalog/sqlite -run XXX -bench Pages -benchtime 400x -timeout 2h
//
// CHARTER_BENCH_DB=/path/catalog.db keeps the filled catalog in that file
// for the next run (which fills only what it lacks).
func BenchmarkPages(b *testing.B) {
	ctx := b.Context()
	path := os.Getenv("CHARTER_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "catalog.db")
	}
	c, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var kept int
	if err := c.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets`).Scan(&kept); err != nil {
		b.Fatal(err)
	}
	catalogtest.BenchPages(b, c, func(from, to int) {
		from = max(from, kept)
		var changes []catalog.Change
		flush := func() {
			for _, err := range c.UpdateSeq(ctx, changes) {
				if err != nil {
					b.Fatal(err)
				}
			}
			changes = changes[:0]
		}
		for i := from; i < to; i++ {
			changes = append(changes, catalogtest.Bench(i).Changes()...)
			if len(changes) >= 4096 {
				flush()
			}
		}
		flush() // no ANALYZE: a catalog in use has none either
	})
}
