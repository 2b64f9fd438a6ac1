package settle_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/ledger/sqlite"
)

// The newcomer scenario end to end: a dataset with two contributors, a
// model trained on it passing 20% upstream, a consumer charged for a use.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ledger-example")
	defer os.RemoveAll(dir)
	l, err := sqlite.Open(ctx, filepath.Join(dir, "ledger.db"), nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()

	acct := func(id string, k ledger.AccountKind) ledger.Account {
		return ledger.Account{ID: id, Kind: k, Currency: "USD"}
	}
	err = l.CreateAccounts(ctx,
		ledger.Account{ID: "external:card", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		acct("licensee:carl", ledger.KindLicensee),
		acct("asset:model", ledger.KindAssetRevenue),
		acct("contributor:ann", ledger.KindContributor),
		acct("contributor:bea", ledger.KindContributor),
		acct("contributor:max", ledger.KindContributor),
	)
	if err != nil {
		panic(err)
	}
	// Carl prepays 50.00.
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "topup-1", Debit: "external:card", Credit: "licensee:carl", Amount: 5000}}); err != nil {
		panic(err)
	}

	lineage := map[string]split.Node{
		"dataset": {Asset: "dataset", Contributors: []split.Contributor{{Account: "contributor:ann", Share: 600_000}, {Account: "contributor:bea", Share: 400_000}}},
		"model":   {Asset: "model", Contributors: []split.Contributor{{Account: "contributor:max", Share: 1_000_000}}, Parents: []split.Parent{{Asset: "dataset", Share: 200_000}}},
	}
	s := &settle.Settler{Ledger: l, Lineage: func(a string) (split.Node, error) { return lineage[a], nil }}
	rep, err := s.Settle(ctx, []settle.Charge{{ID: "receipt-1", Licensee: "licensee:carl", Asset: "model", Amount: 1001}})
	if err != nil {
		panic(err)
	}
	fmt.Println("charged", rep.Gross, "in", rep.Postings, "split postings")
	for _, id := range []string{"licensee:carl", "contributor:max", "contributor:ann", "contributor:bea"} {
		a, _ := l.LookupAccount(ctx, id)
		fmt.Println(id, a.Net())
	}
	if _, err := ledger.Audit(ctx, l); err != nil {
		panic(err)
	}
	// Output:
	// charged 1001 in 3 split postings
	// licensee:carl 3999
	// contributor:max 801
	// contributor:ann 120
	// contributor:bea 80
}
