package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
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

var earningsDB = flag.String("ledger.db", "", "BenchmarkEarnings: the ledger file to load (if missing) and reuse (if present), so that a 10,000,000-posting load is paid once")

var earningsOthers = flag.Int("ledger.others", 200_000, "postings of other accounts under BenchmarkEarnings (the target is 10000000: earnings < 10 ms p99)")

// bulkLoad writes h straight into l's tables in one transaction of
// multi-row inserts: journal, transfer index, postings index, accounts.
func bulkLoad(b *testing.B, l *sqlite.Ledger, h ledgertest.History) {
	ctx := context.Background()
	tx, err := l.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	const rows = 200
	type table struct {
		sql   string
		width int
		args  []any
		stmt  *sql.Stmt
	}
	tables := []*table{
		{sql: `INSERT INTO journal(seq, entry, hash) VALUES`, width: 3},
		{sql: `INSERT INTO transfers(id, seq) VALUES`, width: 2},
		{sql: `INSERT INTO postings(account, time, seq, mode, pending, credited, other, id, amount, flags, pending_id, reverses, code, ref) VALUES`, width: 14},
	}
	for _, t := range tables {
		row := "(?" + strings.Repeat(", ?", t.width-1) + ")"
		t.stmt, err = tx.PrepareContext(ctx, t.sql+row+strings.Repeat(", "+row, rows-1))
		if err != nil {
			b.Fatal(err)
		}
	}
	flush := func(t *table, all bool) {
		for len(t.args) >= t.width*rows || all && len(t.args) > 0 {
			n := min(len(t.args), t.width*rows)
			q := t.stmt
			if n < t.width*rows {
				row := "(?" + strings.Repeat(", ?", t.width-1) + ")"
				q, err = tx.PrepareContext(ctx, t.sql+row+strings.Repeat(", "+row, n/t.width-1))
				if err != nil {
					b.Fatal(err)
				}
			}
			if _, err := q.ExecContext(ctx, t.args[:n]...); err != nil {
				b.Fatal(err)
			}
			t.args = t.args[:copy(t.args, t.args[n:])]
		}
	}
	for r := range h.Rows() {
		j := tables[0]
		j.args = append(j.args, r.Seq, slices.Clone(r.Canonical), r.Hash[:])
		flush(j, false)
		if r.Entry.Kind != ledger.EntryTransfer {
			continue
		}
		t := r.Entry.Transfer
		tables[1].args = append(tables[1].args, t.ID, r.Seq)
		flush(tables[1], false)
		for _, side := range [2][2]string{{t.Debit, t.Credit}, {t.Credit, t.Debit}} {
			tables[2].args = append(tables[2].args, side[0], r.Entry.Time, r.Seq, 0, nil, side[0] == t.Credit, side[1],
				t.ID, t.Amount, int64(t.Flags), t.PendingID, t.Reverses, int64(t.Code), t.Ref)
		}
		flush(tables[2], false)
	}
	for _, t := range tables {
		flush(t, true)
	}
	bal := h.Balances()
	for i, a := range h.Defs() {
		x := bal[a.ID]
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts(id, seq, kind, flags, credit_limit, currency, dp, cp, dpend, cpend) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`,
			a.ID, i+1, a.Kind, a.Flags, a.CreditLimit, a.Currency, x.DebitsPosted, x.CreditsPosted); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEarnings reads one contributor's 1,000 postings among
// -ledger.others postings of 10,000 other accounts (bulk loaded), and, as
// the baseline in the same run, scans the journal for them as earnings
// did before the postings index.
func BenchmarkEarnings(b *testing.B) {
	ctx := context.Background()
	path, loaded := *earningsDB, false
	if path == "" {
		path = filepath.Join(b.TempDir(), "earnings.db")
	} else if _, err := os.Stat(path); err == nil {
		loaded = true // loaded by an earlier run with the same -ledger.others
	}
	l, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	h := ledgertest.History{Accounts: 10_000, Transfers: *earningsOthers / 2, Start: time.Unix(1_700_000_000, 0)}
	if !loaded {
		start := time.Now()
		bulkLoad(b, l, h)
		b.Logf("bulk loaded %d transfers (%d postings) in %v", h.Transfers, 2*h.Transfers, time.Since(start).Round(time.Millisecond))
	}
	baseline := 3
	if *earningsOthers > 1_000_000 {
		baseline = 1 // a scan of the whole journal takes a minute or more
	}
	ledgertest.BenchmarkEarnings(b, l, 1000, baseline, ledgertest.Statement(l))
}
