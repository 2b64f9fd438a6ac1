package settle_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/ledger/sqlite"
)

var benchEvents = flag.Int("ledger.events", 20_000, "usage events per BenchmarkSettlement run (the target is 1000000 in < 60 s)")

// lineage3 is a 3-level lineage: 12 fine-tunes (leaves), each on one of 4
// models, each trained on 2 of 3 datasets; every asset has 2 or 3
// contributors; royalties are mixed relative and absolute.
func lineage3() (split.Loader, []string, []string) {
	nodes := map[string]split.Node{}
	var accounts, leaves []string
	contrib := func(asset string, n int) []split.Contributor {
		var cs []split.Contributor
		left := int64(split.Whole)
		for i := range n {
			share := left / int64(n-i)
			left -= share
			id := fmt.Sprintf("contributor:%s-%d", asset, i)
			accounts = append(accounts, id)
			cs = append(cs, split.Contributor{Account: id, Share: share})
		}
		return cs
	}
	for d := range 3 {
		a := fmt.Sprint("dataset", d)
		nodes[a] = split.Node{Asset: a, Contributors: contrib(a, 3)}
	}
	for m := range 4 {
		a := fmt.Sprint("model", m)
		nodes[a] = split.Node{Asset: a, Contributors: contrib(a, 2), Parents: []split.Parent{
			{Asset: fmt.Sprint("dataset", m%3), Share: 200000},
			{Asset: fmt.Sprint("dataset", (m+1)%3), Share: 50000, Stacking: split.Absolute},
		}}
	}
	for f := range 12 {
		a := fmt.Sprint("finetune", f)
		leaves = append(leaves, a)
		nodes[a] = split.Node{Asset: a, Contributors: contrib(a, 2), Parents: []split.Parent{{Asset: fmt.Sprint("model", f%4), Share: 300000}}}
	}
	for a := range nodes {
		accounts = append(accounts, "asset:"+a)
	}
	return func(a string) (split.Node, error) { return nodes[a], nil }, leaves, accounts
}

// backends open an empty ledger of each kind for the benchmarks: SQLite
// in a temporary file, PostgreSQL in a fresh schema of the test server.
var backends = []struct {
	name string
	open func(b *testing.B) ledger.Ledger
}{
	{"sqlite", func(b *testing.B) ledger.Ledger {
		l, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "settle.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		return l
	}},
	{"postgres", func(b *testing.B) ledger.Ledger {
		l, err := postgres.Open(context.Background(), pgtest.DSN(), &postgres.Options{Schema: pgtest.Schema(b, "settle_bench")})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}},
}

func settleLedger(b *testing.B, open func(*testing.B) ledger.Ledger, accounts []string, licensees int) ledger.Ledger {
	ctx := context.Background()
	l := open(b)
	b.Cleanup(func() { l.Close() })
	var as []ledger.Account
	for _, id := range accounts {
		as = append(as, ledger.Account{ID: id, Kind: ledger.KindContributor, Currency: "USD"})
	}
	for i := range licensees {
		as = append(as, ledger.Account{ID: fmt.Sprint("licensee:", i), Kind: ledger.KindLicensee, CreditLimit: 1 << 50, Currency: "USD"})
	}
	if err := l.CreateAccounts(ctx, as...); err != nil {
		b.Fatal(err)
	}
	return l
}

func usage(prefix string, n int, leaves []string, licensees int) []settle.Charge {
	cs := make([]settle.Charge, n)
	for i := range cs {
		cs[i] = settle.Charge{
			ID:       fmt.Sprintf("%s-%08d", prefix, i),
			Licensee: fmt.Sprint("licensee:", i%licensees),
			Asset:    leaves[(i*7)%len(leaves)],
			Amount:   int64(1 + (i*31)%5000),
		}
	}
	return cs
}

// BenchmarkSettlement settles -ledger.events usage events (charge, split
// up a 3-level lineage, carry) per op. In the same run it posts the same
// number of bare charge transfers (no splits) as a baseline and reports the
// ratio: the cost of splitting and provenance on top of charging.
func BenchmarkSettlement(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) { benchmarkSettlement(b, be.open) })
	}
}

func benchmarkSettlement(b *testing.B, open func(*testing.B) ledger.Ledger) {
	const licensees = 100
	ctx := context.Background()
	load, leaves, accounts := lineage3()
	n := *benchEvents
	var settleTime, baseTime, settleCPU, baseCPU time.Duration
	for i := 0; b.Loop(); i++ {
		l := settleLedger(b, open, accounts, licensees)
		s := &settle.Settler{Ledger: l, Lineage: load}
		cs := usage(fmt.Sprint("run", i), n, leaves, licensees)
		start, cpu0 := time.Now(), cpuTime()
		rep, err := s.Settle(ctx, cs)
		if err != nil {
			b.Fatal(err)
		}
		settleTime += time.Since(start)
		settleCPU += cpuTime() - cpu0
		if rep.Charged != n || len(rep.Failed) != 0 {
			b.Fatalf("report %+v", rep)
		}
		b.StopTimer()
		if i == 0 {
			root, err := ledger.Audit(ctx, l)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%d events: %d split postings, journal %d entries", n, rep.Postings, root.Size)
		}
		// Baseline: the same charges as plain transfers, 5000 per transaction.
		base := settleLedger(b, open, accounts, licensees)
		ts := make([]ledger.Transfer, len(cs))
		for j, c := range cs {
			ts[j] = ledger.Transfer{ID: "charge:" + c.ID, Debit: c.Licensee, Credit: "asset:" + c.Asset, Amount: c.Amount, Code: settle.CodeCharge, Ref: "use:" + c.ID}
		}
		start, cpu0 = time.Now(), cpuTime()
		for j := 0; j < len(ts); j += 5000 {
			if _, err := base.CreateTransfers(ctx, ts[j:min(j+5000, len(ts))]); err != nil {
				b.Fatal(err)
			}
		}
		baseTime += time.Since(start)
		baseCPU += cpuTime() - cpu0
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/settleTime.Seconds(), "events/s")
	b.ReportMetric(float64(n*b.N)/settleCPU.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(n*b.N)/baseTime.Seconds(), "baseline-charges/s")
	b.ReportMetric(float64(n*b.N)/baseCPU.Seconds(), "baseline-charges/cpu-s")
	b.ReportMetric(settleTime.Seconds()/baseTime.Seconds(), "settle/baseline")
	b.ReportMetric(settleCPU.Seconds()/baseCPU.Seconds(), "settle/baseline-cpu")
	b.ReportMetric(settleTime.Seconds()/float64(b.N)*1e6/float64(n), "s-per-1M-events")
}

// cpuTime is the CPU time this process used so far (user + system); the
// benchmark machine is shared, so CPU rates are reported beside wall rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
