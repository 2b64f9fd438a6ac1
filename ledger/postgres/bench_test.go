package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"iter"
	"math"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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

var earningsSchema = flag.String("ledger.schema", "", "BenchmarkEarnings: the schema to load (if empty) and keep for the next run (a 10,000,000-posting load is paid once; drop it when done)")

var earningsOthers = flag.Int("ledger.others", 200_000, "postings of other accounts under BenchmarkEarnings (the target is 10000000: earnings < 10 ms p99)")

// bulkLoad writes h straight into l's tables with COPY: journal, transfer
// index, postings index, then the accounts with their balances.
func bulkLoad(b *testing.B, schema string, h ledgertest.History) {
	ctx := context.Background()
	conn := pgtest.Connect(b)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	copyRows := func(table string, cols []string, row func(r ledgertest.HistoryRow, yield func([]any) bool) bool) {
		next, stop := iter.Pull(func(yield func([]any) bool) {
			for r := range h.Rows() {
				if !row(r, yield) {
					return
				}
			}
		})
		defer stop()
		var cur []any
		src := pgx.CopyFromFunc(func() ([]any, error) {
			v, ok := next()
			if !ok {
				return nil, nil
			}
			cur = v
			return cur, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, table}, cols, src); err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	copyRows("journal", []string{"seq", "entry", "hash"}, func(r ledgertest.HistoryRow, yield func([]any) bool) bool {
		return yield([]any{int64(r.Seq), slices.Clone(r.Canonical), slices.Clone(r.Hash[:])})
	})
	copyRows("transfers", []string{"id", "seq"}, func(r ledgertest.HistoryRow, yield func([]any) bool) bool {
		return r.Entry.Kind != ledger.EntryTransfer || yield([]any{r.Entry.Transfer.ID, int64(r.Seq)})
	})
	copyRows("postings", []string{"account", "time", "seq", "mode", "pending", "line"}, func(r ledgertest.HistoryRow, yield func([]any) bool) bool {
		if r.Entry.Kind != ledger.EntryTransfer {
			return true
		}
		t := r.Entry.Transfer
		rec := ledger.Record{Transfer: t, Seq: r.Seq, Time: r.Entry.Time}
		row := func(account, other string, credited bool) []any {
			return []any{account, r.Entry.Time, int64(r.Seq), int16(0), nil, ledger.AppendPostingLine(nil, credited, other, rec)}
		}
		return yield(row(t.Debit, t.Credit, false)) && yield(row(t.Credit, t.Debit, true))
	})
	bal := h.Balances()
	var accts [][]any
	for i, a := range h.Defs() {
		x := bal[a.ID]
		accts = append(accts, []any{a.ID, int64(i + 1), int16(a.Kind), int64(a.Flags), a.CreditLimit, a.Currency, x.DebitsPosted, x.CreditsPosted, int64(0), int64(0)})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, "accounts"}, []string{"id", "seq", "kind", "flags", "credit_limit", "currency", "dp", "cp", "dpend", "cpend"}, pgx.CopyFromRows(accts)); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for _, t := range []string{"journal", "transfers", "postings", "accounts"} {
		if _, err := conn.Exec(ctx, `ANALYZE `+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEarnings reads one contributor's 1,000 postings among
// -ledger.others postings of 10,000 other accounts (bulk loaded with
// COPY), and, as the baseline in the same run, scans the journal for them
// as earnings did before the postings index.
func BenchmarkEarnings(b *testing.B) {
	ctx := context.Background()
	schema := *earningsSchema
	if schema == "" {
		schema = pgtest.Schema(b, "ledger_bench")
	}
	l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	h := ledgertest.History{Accounts: 10_000, Transfers: *earningsOthers / 2, Start: time.Unix(1_700_000_000, 0)}
	root, err := l.JournalRoot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if root.Size == 0 { // else loaded by an earlier run with the same -ledger.others
		start := time.Now()
		bulkLoad(b, schema, h)
		b.Logf("bulk loaded %d transfers (%d postings) in %v", h.Transfers, 2*h.Transfers, time.Since(start).Round(time.Millisecond))
	}
	baseline := 3
	if *earningsOthers > 1_000_000 {
		baseline = 1 // a scan of the whole journal takes a minute or more
	}
	ledgertest.BenchmarkEarnings(b, l, 1000, baseline, ledgertest.Statement(l))
	wideBaseline(b, l, schema, b.N)
}

// wideBaseline reads the target's postings as the index of 0018fc6 stored
// them, each field of the line its own column (11 read a row), from a
// table of that shape filled with the same rows, n times after the reads
// BenchmarkEarnings timed: the read path the one-value line replaced,
// measured in the same run.
func wideBaseline(b *testing.B, l *postgres.Ledger, schema string, n int) {
	ctx := context.Background()
	lines, err := l.Postings(ctx, ledgertest.EarningsTarget, ledger.PostingQuery{Only: ledger.Posted})
	if err != nil {
		b.Fatal(err)
	}
	conn := pgtest.Connect(b)
	defer conn.Close(ctx)
	wide := pgx.Identifier{schema, "postings_wide"}.Sanitize()
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+wide+`;
CREATE TABLE `+wide+`(account TEXT COLLATE "C" NOT NULL, time BIGINT NOT NULL, seq BIGINT NOT NULL, mode SMALLINT NOT NULL,
	pending TEXT, credited BOOLEAN NOT NULL, other TEXT NOT NULL, id TEXT NOT NULL, amount BIGINT NOT NULL, flags BIGINT NOT NULL,
	pending_id TEXT NOT NULL, reverses TEXT NOT NULL, code INTEGER NOT NULL, ref TEXT NOT NULL, PRIMARY KEY(account, time, seq))`); err != nil {
		b.Fatal(err)
	}
	defer conn.Exec(ctx, `DROP TABLE `+wide)
	rows := make([][]any, 0, len(lines))
	for _, ln := range lines {
		rows = append(rows, []any{ledgertest.EarningsTarget, ln.Time, int64(ln.Seq), int16(0), nil, ln.Credit == ledgertest.EarningsTarget, ln.Counterparty,
			ln.ID, ln.Transfer.Amount, int64(ln.Flags), ln.PendingID, ln.Reverses, int32(ln.Code), ln.Ref})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "postings_wide"}, []string{"account", "time", "seq", "mode", "pending", "credited", "other", "id", "amount", "flags", "pending_id", "reverses", "code", "ref"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE `+wide); err != nil {
		b.Fatal(err)
	}
	query := `SELECT p.seq, p.time, p.credited, p.other, p.id, p.amount, p.flags, p.pending_id, p.reverses, p.code, p.ref FROM ` + wide + ` p
WHERE p.account = $1 AND p.time >= $2 AND p.time < $3 AND (p.time, p.seq) > ($4, $5) AND p.mode IN (0, 2) ORDER BY p.time, p.seq LIMIT $6`
	read := func() {
		as, err := l.Accounts(ctx, "contributor:"+ledgertest.EarningsDID+"@")
		if err != nil || len(as) != 1 {
			b.Fatalf("accounts: %v %v", as, err)
		}
		rows, err := conn.Query(ctx, query, as[0].ID, int64(0), int64(math.MaxInt64), int64(math.MinInt64), int64(0), nil)
		if err != nil {
			b.Fatal(err)
		}
		var got []ledger.Line
		var seq, tm, amount, flags int64
		var code int32
		var credited bool
		var other, id, pendingID, reverses, ref pgtype.DriverBytes
		if _, err := pgx.ForEachRow(rows, []any{&seq, &tm, &credited, &other, &id, &amount, &flags, &pendingID, &reverses, &code, &ref}, func() error {
			s := string(slices.Concat(other, id, pendingID, reverses, ref))
			cut := func(n int) string { v := s[:n]; s = s[n:]; return v }
			o := cut(len(other))
			t := ledger.Transfer{ID: cut(len(id)), Amount: amount, Flags: ledger.TransferFlags(flags), PendingID: cut(len(pendingID)),
				Reverses: cut(len(reverses)), Code: uint16(code), Ref: cut(len(ref))}
			got = append(got, ledger.IndexedLine(as[0].ID, o, credited, t, uint64(seq), tm))
			return nil
		}); err != nil || len(got) != len(lines) {
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
