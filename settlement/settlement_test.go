package settlement_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
)

// fixture is a Service on the embedded SQLite catalog and ledger.
type fixture struct {
	t    *testing.T
	s    *settlement.Service
	l    *ledgersqlite.Ledger
	now  time.Time
	key  *identity.Key // the operator's
	keys map[identity.DID]*identity.Key
	n    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catsqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tick := now
	l, err := ledgersqlite.Open(ctx, filepath.Join(dir, "ledger.db"), &ledgersqlite.Options{Now: func() time.Time { tick = tick.Add(time.Hour); return tick }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := settlement.New(settlement.Config{Catalog: cat, Ledger: l})
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, s: s, l: l, now: now, key: key, keys: map[identity.DID]*identity.Key{}}
}

// principal makes a key and returns its DID.
func (f *fixture) principal() identity.DID {
	k, err := identity.Generate()
	if err != nil {
		f.t.Fatal(err)
	}
	f.keys[k.DID()] = k
	return k.DID()
}

// earn credits contributor c with a split of amount under batch tag
// through path, as a settlement run does.
func (f *fixture) earn(c identity.DID, id, tag string, amount int64, path ...string) {
	f.t.Helper()
	ctx := context.Background()
	acct := settlement.ContributorAccount(c.String(), "USD-4")
	src := ledger.AssetAccount(path[len(path)-1])
	for _, a := range []ledger.Account{{ID: acct, Kind: ledger.KindContributor, Currency: "USD-4"}, {ID: src, Kind: ledger.KindAssetRevenue, Flags: ledger.AllowNegative, Currency: "USD-4"}} {
		if err := f.l.CreateAccounts(ctx, a); err != nil {
			f.t.Fatal(err)
		}
	}
	res, err := f.l.Commit(ctx, ledger.Batch{
		Transfers: []ledger.Transfer{{ID: id, Debit: src, Credit: acct, Amount: amount, Code: settle.CodeSplit, Ref: settle.Provenance(tag, path)}},
		Then: func([]ledger.Result, func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
			return nil, map[string][]byte{settle.BatchKey(tag): []byte("u:g1/e1\nu:g1/e2")}, nil
		},
	})
	if err != nil || res[0].Err != nil {
		f.t.Fatal(err, res)
	}
}

// fund signs and opens a deposit, as the server's handler does.
func (f *fixture) deposit(x *metering.Fund) (api.FundAnswer, error) {
	f.t.Helper()
	if x.Created.Time().IsZero() {
		x.Created = asset.NewTime(f.now)
	}
	x.Nonce = "nonce-of-deposit"
	env, err := x.Sign(f.key)
	if err != nil {
		f.t.Fatal(err)
	}
	out, _, id, err := metering.OpenFund(env)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.s.Fund(context.Background(), out, id)
}

// withdrawal signs and opens a payout request; n tells requests apart.
func (f *fixture) withdraw(x *metering.Withdrawal) (api.FundAnswer, error) {
	f.t.Helper()
	f.n++
	x.Created, x.Nonce = asset.NewTime(f.now), fmt.Sprintf("nonce-of-payout-%d", f.n)
	env, err := x.Sign(f.keys[x.Contributor])
	if err != nil {
		f.t.Fatal(err)
	}
	out, id, err := metering.OpenWithdrawal(env)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.s.Withdraw(context.Background(), out, id)
}

func TestFundAndWithdraw(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	lic, con := f.principal(), f.principal()
	fund := &metering.Fund{Amount: 500, CreditLimit: 100, Currency: "USD-4", From: "bank", Licensee: lic}
	ans, err := f.deposit(fund)
	if err != nil || ans.Balance != 500 || ans.CreditLimit != 100 || ans.Transfer == "" {
		t.Fatalf("fund: %+v %v", ans, err)
	}
	// The same statement again changes nothing.
	if again, err := f.deposit(fund); err != nil || again.Balance != 500 {
		t.Fatalf("fund again: %+v %v", again, err)
	}
	if _, err := f.deposit(&metering.Fund{Amount: 1, CreditLimit: 200, Currency: "USD-4", From: "bank", Licensee: lic}); !errors.Is(err, settlement.ErrCreditLineFixed) {
		t.Fatalf("a second credit line: %v", err)
	}
	wd := &metering.Withdrawal{Amount: 10, Contributor: con, Currency: "USD-4", To: "bank"}
	if _, err := f.withdraw(wd); !errors.Is(err, settlement.ErrNoEarnings) {
		t.Fatalf("withdraw without earnings: %v", err)
	}
	f.earn(con, "split-1", "t1", 40, "asset1@USD-4")
	// Payouts wait for a verified ledger.
	if _, err := f.withdraw(wd); !errors.Is(err, settlement.ErrLedgerUnverified) {
		t.Fatalf("withdraw before Verify: %v", err)
	}
	if err := f.s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.withdraw(&metering.Withdrawal{Amount: 41, Contributor: con, Currency: "USD-4", To: "bank"}); !errors.Is(err, settlement.ErrInsufficientFunds) {
		t.Fatalf("withdraw past the balance: %v", err)
	}
	if ans, err := f.withdraw(wd); err != nil || ans.Balance != 30 {
		t.Fatalf("withdraw: %+v %v", ans, err)
	}
	as, err := f.s.Accounts(ctx, con)
	if err != nil || len(as) != 1 || as[0].Balance != 30 {
		t.Fatalf("accounts: %+v %v", as, err)
	}
	// A balance edited outside Charter stops payouts.
	if err := f.l.ForgeCredit(ctx, settlement.ContributorAccount(con.String(), "USD-4"), 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := f.withdraw(&metering.Withdrawal{Amount: 5, Contributor: con, Currency: "USD-4", To: "bank"}); !errors.Is(err, settlement.ErrLedgerTampered) {
		t.Fatalf("withdraw from a forged balance: %v", err)
	}
}

func TestEarnings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	con := f.principal()
	f.earn(con, "split-1", "t1", 40, "model@USD-4")                 // own: a use of model
	f.earn(con, "split-2", "t2", 7, "model@USD-4", "dataset@USD-4") // royalty: a use of model reached dataset
	f.earn(con, "split-3", "t2", 3, "model@USD-4", "dataset@USD-4")
	if err := f.s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.withdraw(&metering.Withdrawal{Amount: 5, Contributor: con, Currency: "USD-4", To: "bank"}); err != nil {
		t.Fatal(err)
	}
	e, err := f.s.Earnings(ctx, con, settlement.EarningsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Currencies) != 1 {
		t.Fatalf("earnings: %+v", e)
	}
	c := e.Currencies[0]
	if c.Own != 40 || c.Royalties != 10 || c.Total != 50 || c.Payouts != 5 || c.Balance != 45 || len(c.Lines) != 4 {
		t.Fatalf("currency: %+v", c)
	}
	if len(c.Assets) != 2 || c.Assets[0].Asset != "dataset" || c.Assets[0].Royalties != 10 || c.Assets[1].Own != 40 {
		t.Fatalf("assets: %+v", c.Assets)
	}
	if src := c.Assets[0].Sources; len(src) != 1 || src[0].Uses != 2 || src[0].Amount != 10 {
		t.Fatalf("sources of dataset: %+v", src)
	}
	if l := c.Lines[0]; l.Kind != "own" || l.Batch != "t1" || l.UsesTotal != 2 || l.Used != "model" {
		t.Fatalf("first line: %+v", l)
	}
	// A window of the journal: the ledger stamps one entry an hour.
	w, err := f.s.Earnings(ctx, con, settlement.EarningsQuery{From: f.now.Add(5 * time.Hour).UnixNano(), Period: "month"})
	if err != nil || len(w.Currencies[0].Lines) != 3 || w.Currencies[0].Own != 0 || w.Currencies[0].Royalties != 10 || w.Period != "month" || w.From == "" {
		t.Fatalf("window: %+v %v", w, err)
	}
	if _, err := f.s.Earnings(ctx, con, settlement.EarningsQuery{Period: "week"}); !errors.Is(err, settlement.ErrBadPeriod) {
		t.Fatalf("period week: %v", err)
	}
	if e, err := f.s.Earnings(ctx, f.principal(), settlement.EarningsQuery{}); err != nil || len(e.Currencies) != 0 {
		t.Fatalf("a stranger's earnings: %+v %v", e, err)
	}
}
