package postgres

import (
	"context"
	"slices"
	"testing"
)

// TestTablesClassified: every catalog table is either derived from the log
// (rebuilt by replay) or operational (carried over by rebuild). A table in
// neither list would be lost, or kept stale, by a rebuild.
func TestTablesClassified(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	tables, err := c.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		d, o := slices.Contains(DerivedTables, tb), slices.Contains(OperationalTables, tb) || slices.Contains(SchemaTables, tb)
		if d == o {
			t.Errorf("table %s: derived %v, operational %v; add it to exactly one list in operational.go", tb, d, o)
		}
	}
}

// TestCarryOverAndFloor: counters are copied from an old catalog, raised
// to the log's receipts, and drift is reported when a counter is below
// them.
func TestCarryOverAndFloor(t *testing.T) {
	ctx := context.Background()
	oldSchema := newSchema(t)
	old := openSchema(t, oldSchema)
	if ok, err := old.ChargeUsage(ctx, "g1", 500, 0, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	old.Close()
	c := openTest(t)
	for _, q := range []string{
		`INSERT INTO grants(id, asset, licensee, envelope, log_index) VALUES('g1','a','l','{}',1), ('g2','a','l','{}',2)`,
		`INSERT INTO receipts(id, "grant", asset, licensee, session, bytes, requests, envelope, log_index) VALUES('r1','g1','a','l','s',300,1,'{}',3), ('r2','g2','a','l','s',700,2,'{}',4)`,
	} {
		if _, err := c.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	drift, err := c.QuotaDrift(ctx)
	if err != nil || len(drift) != 2 {
		t.Fatalf("drift before carry-over: %q %v; want both grants", drift, err)
	}
	n, err := c.CarryOver(ctx, oldSchema)
	if err != nil || n["grant_usage"] != 1 {
		t.Fatalf("CarryOver: %v %v", n, err)
	}
	if drift, _ := c.QuotaDrift(ctx); len(drift) != 1 {
		t.Fatalf("drift after carry-over: %q; want g2 only", drift)
	}
	if k, err := c.RaiseQuotaFloor(ctx); err != nil || k != 1 {
		t.Fatalf("RaiseQuotaFloor: %d %v", k, err)
	}
	if drift, _ := c.QuotaDrift(ctx); len(drift) != 0 {
		t.Fatalf("drift after the floor: %q", drift)
	}
	dump, _ := c.DumpOperational(ctx)
	want := []string{"grant_usage [g1 500 1]", "grant_usage [g2 700 2]"}
	if !slices.Equal(dump, want) {
		t.Fatalf("counters %q, want %q", dump, want)
	}
	// A counter of a grant the log does not hold is drift too.
	c.ChargeUsage(ctx, "ghost", 1, 0, 0)
	if drift, _ := c.QuotaDrift(ctx); len(drift) != 1 {
		t.Fatalf("ghost counter not reported: %q", drift)
	}
	if k, err := c.RaiseQuotaFloor(ctx); err != nil || k != 1 {
		t.Fatalf("ghost counter not dropped: %d %v", k, err)
	}
	if drift, _ := c.QuotaDrift(ctx); len(drift) != 0 {
		t.Fatalf("drift after dropping the ghost: %q", drift)
	}
}
