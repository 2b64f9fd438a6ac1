package ledgertest

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/settlement"
)

// History is a synthetic journal for load tests: Accounts contributor
// accounts opened, then Transfers split-shaped transfers from one external
// account to them in turn, one millisecond apart from Start. Backends bulk
// load its Rows straight into their tables (COPY, multi-row inserts), so
// that a benchmark can stand on ten million postings without posting them
// one batch at a time.
type History struct {
	Accounts, Transfers int
	Start               time.Time
}

// Source is the external account every History transfer debits.
const Source = "external:bulk"

// HistoryRow is one journal row of a History with its canonical encoding.
type HistoryRow struct {
	Seq       uint64
	Entry     ledger.Entry
	Canonical []byte
	Hash      [32]byte
}

// Defs returns the accounts a History opens, Source first.
func (h History) Defs() []ledger.Account {
	as := []ledger.Account{{ID: Source, Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"}}
	for i := range h.Accounts {
		as = append(as, ledger.Account{ID: fmt.Sprintf("contributor:other-%06d@USD", i), Kind: ledger.KindContributor, Currency: "USD"})
	}
	return as
}

// Rows yields the History's journal rows, chained from the empty journal.
// The canonical bytes are only valid until the next row.
func (h History) Rows() iter.Seq[HistoryRow] {
	return func(yield func(HistoryRow) bool) {
		defs := h.Defs()
		var head [32]byte
		var buf []byte
		t0 := h.Start.UnixNano()
		seq := uint64(0)
		emit := func(e ledger.Entry) bool {
			seq++
			buf = e.AppendCanonical(buf[:0])
			head = ledger.ChainHash(head, buf)
			return yield(HistoryRow{Seq: seq, Entry: e, Canonical: buf, Hash: head})
		}
		for _, a := range defs {
			if !emit(ledger.Entry{Kind: ledger.EntryAccount, Time: t0, Account: a}) {
				return
			}
		}
		for i := range h.Transfers {
			to := defs[1+i%h.Accounts].ID
			e := ledger.Entry{Kind: ledger.EntryTransfer, Time: t0 + int64(i)*int64(time.Millisecond), Transfer: ledger.Transfer{
				ID: fmt.Sprintf("bulk-%09d", i), Debit: Source, Credit: to, Amount: int64(1 + i%1000), Code: 2,
				Ref: fmt.Sprintf("split bulk%020d via asset-%d", i/1000, i%97),
			}}
			if !emit(e) {
				return
			}
		}
	}
}

// Balances returns every account's balance after the History.
func (h History) Balances() map[string]ledger.Balance {
	out := map[string]ledger.Balance{}
	defs := h.Defs()
	for _, a := range defs {
		out[a.ID] = ledger.Balance{}
	}
	for i := range h.Transfers {
		amt := int64(1 + i%1000)
		to := defs[1+i%h.Accounts].ID
		src, dst := out[Source], out[to]
		src.DebitsPosted += amt
		dst.CreditsPosted += amt
		out[Source], out[to] = src, dst
	}
	return out
}

// EarningsDID is the contributor whose account BenchmarkEarnings reads.
const EarningsDID = "did:key:z6MkrSiquVsjLxgTkzwWkGJez31hJ2PKChnJAkgc9xdzeWtb"

// EarningsTarget is the contributor account BenchmarkEarnings reads.
const EarningsTarget = "contributor:" + EarningsDID + "@USD"

// BenchmarkEarnings measures what an earnings statement reads from the
// ledger — the contributor's accounts (Accounts) and their posted lines
// (Postings) — for one account of lines postings in a ledger that already
// holds a History (loaded by the caller). It reports the p50 and p99 of
// one read, and, as the baseline in the same run, the read as it was done
// before the postings index: every balance, then ledger.Statement over
// the whole journal (baseline runs of it).
//
// statement, when set, is the whole earnings statement of EarningsDID
// (Statement: settlement.Service.Earnings): it
// is measured too, in the same run, and reported as statement-p50/p99-ms.
// It returns the lines of the statement.
func BenchmarkEarnings(b *testing.B, l ledger.Ledger, lines, baseline int, statement func(context.Context) (int, error)) {
	ctx := context.Background()
	if err := l.CreateAccounts(ctx, ledger.Account{ID: EarningsTarget, Kind: ledger.KindContributor, Currency: "USD"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < lines; i += 100 {
		var ts []ledger.Transfer
		for j := i; j < min(i+100, lines); j++ {
			ts = append(ts, ledger.Transfer{ID: fmt.Sprintf("target-%06d", j), Debit: Source, Credit: EarningsTarget, Amount: int64(1 + j%77), Code: 2,
				Ref: fmt.Sprintf("split target%020d via model > dataset", j/10)})
		}
		res, err := l.CreateTransfers(ctx, ts)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	read := func() {
		as, err := l.Accounts(ctx, "contributor:"+EarningsDID+"@")
		if err != nil || len(as) != 1 {
			b.Fatalf("accounts: %v %v", as, err)
		}
		ls, err := l.Postings(ctx, as[0].ID, ledger.PostingQuery{Only: ledger.Posted})
		if err != nil || len(ls) != lines {
			b.Fatalf("%d lines, want %d: %v", len(ls), lines, err)
		}
	}
	read() // warm
	var ds []time.Duration
	b.ResetTimer()
	cpu0 := CPUTime()
	for b.Loop() {
		t := time.Now()
		read()
		ds = append(ds, time.Since(t))
	}
	b.StopTimer()
	b.ReportMetric(float64((CPUTime()-cpu0).Microseconds())/1000/float64(len(ds)), "client-cpu-ms/op")
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	var base time.Duration
	for range baseline {
		t := time.Now()
		bs, err := l.Balances(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := bs[EarningsTarget]; !ok {
			b.Fatal("target account missing")
		}
		st, err := ledger.Statement(l.Entries(ctx, 1), EarningsTarget, 0, 0)
		if err != nil || len(st) != lines {
			b.Fatalf("baseline: %d lines, %v", len(st), err)
		}
		base += time.Since(t)
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	if statement != nil {
		// As many statements as reads, after them: the same cache state.
		var sds []time.Duration
		cpu0 := CPUTime()
		for range len(ds) {
			t := time.Now()
			n, err := statement(ctx)
			if err != nil || n != lines {
				b.Fatalf("statement: %d lines, want %d: %v", n, lines, err)
			}
			sds = append(sds, time.Since(t))
		}
		b.ReportMetric(float64((CPUTime()-cpu0).Microseconds())/1000/float64(len(sds)), "statement-cpu-ms/op")
		slices.Sort(sds)
		b.ReportMetric(float64(sds[len(sds)/2].Microseconds())/1000, "statement-p50-ms")
		b.ReportMetric(float64(sds[int(0.99*float64(len(sds)-1))].Microseconds())/1000, "statement-p99-ms")
	}
	if baseline > 0 {
		bm := float64(base.Microseconds()) / 1000 / float64(baseline)
		b.ReportMetric(bm, "baseline-scan-ms")
		b.ReportMetric(bm/q(0.5), "speedup-p50")
	}
}

// CPUTime is the CPU time this process used so far (user + system): on a
// shared machine a benchmark reports it beside wall-clock rates.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Statement is settlement.Service.Earnings of EarningsDID on l, the whole
// statement GET /v1/earnings answers without HTTP, for BenchmarkEarnings:
// it returns the statement's lines.
func Statement(l ledger.Ledger) func(context.Context) (int, error) {
	svc := settlement.New(settlement.Config{Ledger: l})
	did, err := identity.ParseDID(EarningsDID)
	if err != nil {
		panic(err)
	}
	return func(ctx context.Context) (int, error) {
		e, err := svc.Earnings(ctx, did, settlement.EarningsQuery{})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, c := range e.Currencies {
			n += len(c.Lines)
		}
		return n, nil
	}
}
