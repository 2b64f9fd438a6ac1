package postgres_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
)

func postings(prefix string, n int) []ledger.Transfer {
	ts := make([]ledger.Transfer, n)
	for i := range ts {
		ts[i] = ledger.Transfer{ID: fmt.Sprintf("%s:%09d", prefix, i), Debit: "asset:model", Credit: fmt.Sprintf("contributor:%03d", i%100),
			Amount: int64(1 + i%1000), Code: 2, Ref: "split 0123456789abcdef01234567 via model > dataset"}
	}
	return ts
}

// BenchmarkSplitPostings mirrors the SQLite benchmark on PostgreSQL: b.N
// postings 10,000 per transaction, then a baseline sample of 500 postings
// one transaction each, in the same run.
func BenchmarkSplitPostings(b *testing.B) {
	ctx := context.Background()
	l := open(b, time.Now)
	defer l.Close()
	as := []ledger.Account{
		{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		{ID: "asset:model", Kind: ledger.KindAssetRevenue, Currency: "USD"},
	}
	for i := range 100 {
		as = append(as, ledger.Account{ID: fmt.Sprintf("contributor:%03d", i), Kind: ledger.KindContributor, Currency: "USD"})
	}
	if err := l.CreateAccounts(ctx, as...); err != nil {
		b.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "fund", Debit: "external:bank", Credit: "asset:model", Amount: 1 << 62}}); err != nil {
		b.Fatal(err)
	}
	ts := postings("batched", b.N)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < len(ts); i += 10_000 {
		res, err := l.CreateTransfers(ctx, ts[i:min(i+10_000, len(ts))])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.StopTimer()
	batched := float64(b.N) / b.Elapsed().Seconds()
	batchedCPU := float64(b.N) / (cpuTime() - cpu0).Seconds()
	n := min(b.N, 500)
	single := postings("single", n)
	start := time.Now()
	for i := range single {
		if _, err := l.CreateTransfers(ctx, single[i:i+1]); err != nil {
			b.Fatal(err)
		}
	}
	perTx := float64(n) / time.Since(start).Seconds()
	b.ReportMetric(batched, "postings/s")
	b.ReportMetric(batchedCPU, "postings/client-cpu-s")
	b.ReportMetric(perTx, "baseline-postings/s")
	b.ReportMetric(batched/perTx, "speedup")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
