package server

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/settlement"
)

var settleEvents = flag.Int("settle-events", 50_000, "usage events per BenchmarkSettlement run (issue 5 target: 1,000,000 in under 60 s)")

// BenchmarkSettlement settles usage events of one grant on a model whose
// lineage has three levels (model -> finetune set -> corpus, 20% royalty
// at each edge, two contributors at the top) through the whole server
// path: catalog scan, pricing by the grant's terms, ledger charges and
// splits, marking the uses settled, logging the journal root. The
// baseline, in the same run, is settle.Settler alone on the same charges
// into a fresh ledger; the ratio is server rate / baseline rate.
//
//	go test ./server -run '^$' -bench BenchmarkSettlement -benchtime 1x -settle-events 1000000
func BenchmarkSettlement(b *testing.B) {
	n := *settleEvents
	ctx := context.Background()
	var el, baseEl time.Duration
	for range b.N {
		b.StopTimer()
		m := newMarketLevels(b, Config{Crowd: noCrowdPool}, 3)
		m.fund(m.consumer.DID(), 1<<52) // JSON integers stop at 2^53
		seedUsage(b, m, n)
		b.StartTimer()
		t0 := time.Now()
		st, err := m.s.Settle(ctx)
		el += time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		// 1000 tokens at 20 units per 1k: 20 units each.
		if st.Uses != n || st.Charged != n || st.Gross["USD-4"] != int64(20*n) || len(st.Failed) != 0 {
			b.Fatalf("settlement %+v", st)
		}
		if _, err := ledger.Audit(ctx, m.s.ledger); err != nil {
			b.Fatal(err)
		}
		baseEl += baselineSettle(b, m, n)
	}
	rate := float64(n) * float64(b.N) / el.Seconds()
	baseRate := float64(n) * float64(b.N) / baseEl.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(baseRate, "baseline-events/s")
	b.ReportMetric(rate/baseRate, "ratio")
	b.ReportMetric(el.Seconds()/float64(b.N), "s/settlement")
}

// seedUsage records n usage events of 1000 tokens under m's grant straight
// into the catalog (as applied log entries would), in one transaction.
func seedUsage(tb testing.TB, m *market, n int) {
	ctx := context.Background()
	g, err := m.s.cat.Grant(ctx, m.grant.ID.String())
	if err != nil {
		tb.Fatal(err)
	}
	inject(tb, m.s.cat, func(tx catalog.Tx) error {
		for i := range n {
			err := tx.PutUsage(catalog.UsageRecord{Grant: g.ID, ID: fmt.Sprintf("ev-%07d", i), Statement: fmt.Sprintf("s%d", i), Asset: g.Asset, Licensee: g.Licensee,
				Tokens: 1000, Time: "2026-11-26T09:00:00Z", LogIndex: g.LogIndex})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// baselineSettle runs settle.Settler alone on the same charges and
// lineage, into a fresh ledger, and returns its time.
func baselineSettle(tb testing.TB, m *market, n int) time.Duration {
	ctx := context.Background()
	l, err := ledgersqlite.Open(ctx, filepath.Join(tb.TempDir(), "ledger.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	ll := settlement.NewLineage(ctx, m.s.cat)
	leaf := settlement.InCurrency(m.model.String(), "USD-4")
	plan, err := split.Compile(leaf, ll.Load)
	if err != nil {
		tb.Fatal(err)
	}
	lic := settlement.LicenseeAccount(m.consumer.DID().String(), "USD-4")
	as := []ledger.Account{{ID: lic, Kind: ledger.KindLicensee, Currency: "USD-4"}, {ID: "external:bank@USD-4", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD-4"}}
	// The accounts of the lineage, once each (a plan names an asset on
	// several paths).
	seen := map[string]bool{}
	for _, a := range settlement.PlanAccounts(leaf, plan) {
		if !seen[a.ID] {
			seen[a.ID] = true
			as = append(as, a)
		}
	}
	if err := l.CreateAccounts(ctx, as...); err != nil {
		tb.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "fund", Debit: "external:bank@USD-4", Credit: lic, Amount: 1 << 62}}); err != nil {
		tb.Fatal(err)
	}
	cs := make([]settle.Charge, n)
	for i := range cs {
		cs[i] = settle.Charge{ID: fmt.Sprintf("u:%s/ev-%07d", m.grant.ID, i), Licensee: lic, Asset: leaf, Amount: 20}
	}
	s := &settle.Settler{Ledger: l, Lineage: ll.Load}
	t0 := time.Now()
	rep, err := s.Settle(ctx, cs)
	d := time.Since(t0)
	if err != nil || rep.Charged != n {
		tb.Fatalf("baseline: %+v %v", rep, err)
	}
	return d
}
