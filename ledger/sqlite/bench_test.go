package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/sqlite"
)

// benchLedger opens a ledger with a funded asset revenue account and
// contributors accounts, the shape of split postings.
func benchLedger(b *testing.B, contributors int) *sqlite.Ledger {
	b.Helper()
	ctx := context.Background()
	l, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	as := []ledger.Account{
		{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		{ID: "asset:model", Kind: ledger.KindAssetRevenue, Currency: "USD"},
	}
	for i := range contributors {
		as = append(as, ledger.Account{ID: fmt.Sprintf("contributor:%03d", i), Kind: ledger.KindContributor, Currency: "USD"})
	}
	if err := l.CreateAccounts(ctx, as...); err != nil {
		b.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "fund", Debit: "external:bank", Credit: "asset:model", Amount: 1 << 62}}); err != nil {
		b.Fatal(err)
	}
	return l
}

func splitPostings(prefix string, n, contributors int) []ledger.Transfer {
	ts := make([]ledger.Transfer, n)
	for i := range ts {
		ts[i] = ledger.Transfer{
			ID:     fmt.Sprintf("%s:%09d", prefix, i),
			Debit:  "asset:model",
			Credit: fmt.Sprintf("contributor:%03d", i%contributors),
			Amount: int64(1 + i%1000),
			Code:   2,
			Ref:    "split 0123456789abcdef01234567 via model > dataset",
		}
	}
	return ts
}

// BenchmarkSplitPostings posts b.N split postings in batches of 10,000 per
// SQL transaction, and, in the same run, a baseline sample of postings made
// one transaction each. It reports both rates and their ratio.
func BenchmarkSplitPostings(b *testing.B) {
	const batch, contributors = 10_000, 100
	ctx := context.Background()
	l := benchLedger(b, contributors)
	ts := splitPostings("batched", b.N, contributors)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < len(ts); i += batch {
		res, err := l.CreateTransfers(ctx, ts[i:min(i+batch, len(ts))])
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
	batchedCPU := float64(b.N) / (cpuTime() - cpu0).Seconds()
	batched := float64(b.N) / b.Elapsed().Seconds()

	// Baseline: one transaction per posting, on a sample.
	n := min(b.N, 2000)
	single := splitPostings("single", n, contributors)
	start, cpu1 := time.Now(), cpuTime()
	for i := range single {
		if _, err := l.CreateTransfers(ctx, single[i:i+1]); err != nil {
			b.Fatal(err)
		}
	}
	perTx := float64(n) / time.Since(start).Seconds()
	perTxCPU := float64(n) / (cpuTime() - cpu1).Seconds()
	b.ReportMetric(batchedCPU, "postings/cpu-s")
	b.ReportMetric(perTxCPU, "baseline-postings/cpu-s")
	b.ReportMetric(batched, "postings/s")
	b.ReportMetric(perTx, "baseline-postings/s")
	b.ReportMetric(batched/perTx, "speedup")
}

// cpuTime is the CPU time this process used so far (user + system). The
// machine the benchmarks run on is shared, so rates per CPU-second are
// reported beside wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
