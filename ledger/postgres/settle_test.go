package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/ledger/sqlite"
)

// Settlement gives the same journal on PostgreSQL as on SQLite, to the
// root hash.
func TestSettleMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	pg := open(t, ledgertest.Clock)
	defer pg.Close()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"), &sqlite.Options{Now: ledgertest.Clock})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	nodes := map[string]split.Node{
		"dataset": {Asset: "dataset", Contributors: []split.Contributor{{Account: "contributor:ann", Share: 600_000}, {Account: "contributor:bea", Share: 400_000}}},
		"model":   {Asset: "model", Contributors: []split.Contributor{{Account: "contributor:max", Share: 1_000_000}}, Parents: []split.Parent{{Asset: "dataset", Share: 200_000}}},
	}
	load := func(a string) (split.Node, error) { return nodes[a], nil }
	var charges []settle.Charge
	for i := range 1000 {
		asset := []string{"model", "dataset"}[i%2]
		charges = append(charges, settle.Charge{ID: fmt.Sprint("u", i), Licensee: "licensee:dora", Asset: asset, Amount: int64(1 + i%13)})
	}
	var roots []ledger.Root
	for _, l := range []ledger.Ledger{pg, lite} {
		var as []ledger.Account
		for _, id := range []string{"asset:model", "asset:dataset", "contributor:ann", "contributor:bea", "contributor:max"} {
			as = append(as, ledger.Account{ID: id, Kind: ledger.KindContributor, Currency: "USD"})
		}
		as = append(as, ledger.Account{ID: "licensee:dora", Kind: ledger.KindLicensee, CreditLimit: 1 << 40, Currency: "USD"})
		if err := l.CreateAccounts(ctx, as...); err != nil {
			t.Fatal(err)
		}
		s := &settle.Settler{Ledger: l, Lineage: load, ChunkSize: 64}
		if _, err := s.Settle(ctx, charges); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Settle(ctx, charges)
		if err != nil || rep.Existed != len(charges) {
			t.Fatalf("re-run: %+v %v", rep, err)
		}
		roots = append(roots, ledgertest.CheckInvariants(t, ctx, l))
	}
	if roots[0] != roots[1] {
		t.Fatalf("PostgreSQL root %x/%d, SQLite %x/%d", roots[0].Hash, roots[0].Size, roots[1].Hash, roots[1].Size)
	}
}
