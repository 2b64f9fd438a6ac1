package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
)

// TestRebuildSwap is a rebuild on PostgreSQL: a fresh schema is built,
// takes the live one's operational rows (CarryOver) and is swapped in;
// the old catalog is kept under another name.
func TestRebuildSwap(t *testing.T) {
	ctx := context.Background()
	liveName, freshName := newSchema(t), newSchema(t)
	live := openSchema(t, liveName)
	if ok, err := live.ChargeUsage(ctx, "g1", 500, 0, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := live.Update(ctx, 0, func(tx catalog.Tx) error { return tx.PutGrant("old", "a", "l", []byte("{}"), 0) }); err != nil {
		t.Fatal(err)
	}
	fresh := openSchema(t, freshName)
	if err := fresh.Update(ctx, 0, func(tx catalog.Tx) error { return tx.PutGrant("g1", "a", "l", []byte("{}"), 0) }); err != nil {
		t.Fatal(err)
	}
	if n, err := fresh.CarryOver(ctx, liveName); err != nil || n["grant_usage"] != 1 {
		t.Fatalf("CarryOver: %v %v", n, err)
	}
	live.Close()
	fresh.Close()
	if _, err := Swap(ctx, testURL(), freshName, freshName); err == nil {
		t.Fatal("a schema swapped with itself")
	}
	kept, err := Swap(ctx, testURL(), freshName, liveName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testURL())
		if err == nil {
			conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{kept}.Sanitize()+` CASCADE`)
			conn.Close(ctx)
		}
		// newSchema's cleanup empties freshName, which no longer exists:
		// make it again so that it is reused empty.
		openSchema(t, freshName).Close()
	})
	c := openSchema(t, liveName)
	dump, _ := c.Dump(ctx)
	if !slices.ContainsFunc(dump, func(l string) bool { return l == "grant g1 a l 0 0 {}" }) || slices.ContainsFunc(dump, func(l string) bool { return l == "grant old a l 0 0 {}" }) {
		t.Fatalf("live catalog after the swap: %q", dump)
	}
	g, err := c.Grant(ctx, "g1")
	if err != nil || g.Bytes != 500 {
		t.Fatalf("carried counter: %+v %v", g, err)
	}
	old := openSchema(t, kept)
	if _, err := old.Grant(ctx, "old"); err != nil {
		t.Fatalf("the old catalog was not kept as %s: %v", kept, err)
	}
	if _, err := Swap(ctx, testURL(), "no_such_schema_here", liveName); err == nil {
		t.Fatal("swapped in a schema that does not exist")
	}
}
