package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
)

// TestRebuild: a rebuild whose build fails leaves the live schema as it
// was and no scratch schema behind; one that succeeds swaps the new
// catalog in, with the live one's quota counters carried over and the
// old schema kept.
func TestRebuild(t *testing.T) {
	ctx := context.Background()
	liveName := newSchema(t)
	url := testURL() + "&search_path=" + liveName
	if !strings.Contains(testURL(), "?") {
		url = testURL() + "?search_path=" + liveName
	}
	live := openSchema(t, liveName)
	if err := live.Update(ctx, 0, func(tx catalog.Tx) error { return tx.PutGrant("g1", "a", "l", []byte("{}"), 0) }); err != nil {
		t.Fatal(err)
	}
	if ok, err := live.ChargeUsage(ctx, "g1", 500, 0, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	live.Close()
	schemas := func() []string {
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, _ := conn.Query(ctx, `SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1`, liveName+"%")
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	before := schemas()
	boom := errors.New("boom")
	if _, err := Rebuild(ctx, url, func(*Catalog) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed build: %v", err)
	}
	if after := schemas(); !slices.Equal(before, after) {
		t.Fatalf("schemas after a failed rebuild %q, before %q", after, before)
	}
	rep, err := Rebuild(ctx, url, func(c *Catalog) error {
		return c.Update(ctx, 0, func(tx catalog.Tx) error { return tx.PutGrant("g1", "a", "l", []byte("{}"), 0) })
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testURL())
		if err == nil {
			conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{rep.Kept}.Sanitize()+` CASCADE`)
			conn.Close(ctx)
		}
	})
	if !strings.HasPrefix(rep.Kept, liveName+"_old_") || rep.Carried["grant_usage"] != 1 || rep.OldUnreadable != "" {
		t.Fatalf("report %+v", rep)
	}
	c := openSchema(t, liveName)
	if g, err := c.Grant(ctx, "g1"); err != nil || g.Bytes != 500 {
		t.Fatalf("grant after the rebuild: %+v %v", g, err)
	}
	scratch, drop, err := OpenScratch(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if scratch.Schema() == liveName {
		t.Fatal("scratch catalog in the live schema")
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	if got := schemas(); len(got) != 2 {
		t.Fatalf("schemas after OpenScratch's drop: %q (want the live and the kept one)", got)
	}
}
