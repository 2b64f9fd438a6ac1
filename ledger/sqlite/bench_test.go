package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
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
		{sql: `INSERT INTO postings(account, time, seq, mode, pending, line) VALUES`, width: 6},
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
		rec := ledger.Record{Transfer: t, Seq: r.Seq, Time: r.Entry.Time}
		tables[2].args = append(tables[2].args,
			t.Debit, r.Entry.Time, r.Seq, 0, nil, ledger.AppendPostingLine(nil, false, t.Credit, rec),
			t.Credit, r.Entry.Time, r.Seq, 0, nil, ledger.AppendPostingLine(nil, true, t.Debit, rec))
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
	wideBaseline(b, l, b.N)
}

// wideBaseline reads the target's postings as the index of 0018fc6 stored
// them, each field of the line its own column (11 read a row), from a
// table of that shape filled with the same rows, n times after the reads
// BenchmarkEarnings timed: the read path the one-value line replaced,
// measured in the same run. It reports its CPU and latency and the ratio
// of the two reads' CPU.
func wideBaseline(b *testing.B, l *sqlite.Ledger, n int) {
	ctx := context.Background()
	db := l.DB()
	lines, err := l.Postings(ctx, ledgertest.EarningsTarget, ledger.PostingQuery{Only: ledger.Posted})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS postings_wide;
CREATE TABLE postings_wide(account TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, mode INTEGER NOT NULL, pending TEXT,
	credited INTEGER NOT NULL, other TEXT NOT NULL, id TEXT NOT NULL, amount INTEGER NOT NULL, flags INTEGER NOT NULL,
	pending_id TEXT NOT NULL, reverses TEXT NOT NULL, code INTEGER NOT NULL, ref TEXT NOT NULL,
	PRIMARY KEY(account, time, seq)) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	defer db.ExecContext(ctx, `DROP TABLE postings_wide`)
	for _, ln := range lines {
		if _, err := db.ExecContext(ctx, `INSERT INTO postings_wide VALUES(?, ?, ?, 0, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ledgertest.EarningsTarget, ln.Time, ln.Seq, ln.Credit == ledgertest.EarningsTarget, ln.Counterparty,
			ln.ID, ln.Transfer.Amount, int64(ln.Flags), ln.PendingID, ln.Reverses, int64(ln.Code), ln.Ref); err != nil {
			b.Fatal(err)
		}
	}
	st, err := db.PrepareContext(ctx, `SELECT p.seq, p.time, p.credited, p.other, p.id, p.amount, p.flags, p.pending_id, p.reverses, p.code, p.ref FROM postings_wide p
WHERE p.account = ? AND p.time >= ? AND p.time < ? AND (p.time > ? OR p.time = ? AND p.seq > ?) AND p.mode IN (0, 2) ORDER BY p.time, p.seq LIMIT ?`)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	read := func() {
		as, err := l.Accounts(ctx, "contributor:"+ledgertest.EarningsDID+"@")
		if err != nil || len(as) != 1 {
			b.Fatalf("accounts: %v %v", as, err)
		}
		rows, err := st.QueryContext(ctx, as[0].ID, 0, int64(math.MaxInt64), int64(math.MinInt64), int64(math.MinInt64), 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		var got []ledger.Line
		if err := scanWide(rows, as[0].ID, func(l ledger.Line) error { got = append(got, l); return nil }); err != nil || len(got) != len(lines) {
			b.Fatalf("wide baseline: %d lines, want %d: %v", len(got), len(lines), err)
		}
	}
	read()
	ds := make([]time.Duration, 0, n)
	cpu0 := cpuTime()
	for range n {
		t := time.Now()
		read()
		ds = append(ds, time.Since(t))
	}
	cpu := float64((cpuTime() - cpu0).Microseconds()) / 1000 / float64(n)
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(cpu, "wide-cpu-ms/op")
	b.ReportMetric(q(0.5), "wide-p50-ms")
	b.ReportMetric(q(0.99), "wide-p99-ms")
}

// scanWide is the scan of 0018fc6: one column per field of the line.
func scanWide(rows *sql.Rows, account string, fn func(ledger.Line) error) error {
	defer rows.Close()
	var seq uint64
	var tm, amount, flags, code int64
	var credited bool
	var other, id, pendingID, reverses, ref sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &tm, &credited, &other, &id, &amount, &flags, &pendingID, &reverses, &code, &ref); err != nil {
			return err
		}
		s := string(slices.Concat(other, id, pendingID, reverses, ref))
		cut := func(n int) string { v := s[:n]; s = s[n:]; return v }
		o := cut(len(other))
		t := ledger.Transfer{ID: cut(len(id)), Amount: amount, Flags: ledger.TransferFlags(flags), PendingID: cut(len(pendingID)),
			Reverses: cut(len(reverses)), Code: uint16(code), Ref: cut(len(ref))}
		if err := fn(ledger.IndexedLine(account, o, credited, t, seq, tm)); err != nil {
			return err
		}
	}
	return rows.Err()
}
