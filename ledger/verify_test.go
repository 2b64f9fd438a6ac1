package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/sqlite"
)

// booked opens a SQLite ledger with a deposit, a payout and a held
// (pending) transfer, and returns it with an anchor at its current root.
func booked(t *testing.T) (*sqlite.Ledger, ledger.Anchor) {
	t.Helper()
	ctx := context.Background()
	l, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	err = l.CreateAccounts(ctx,
		ledger.Account{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		ledger.Account{ID: "contributor:ann", Kind: ledger.KindContributor, Currency: "USD"},
		ledger.Account{ID: "contributor:bea", Kind: ledger.KindContributor, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: "t1", Debit: "external:bank", Credit: "contributor:ann", Amount: 100},
		{ID: "t2", Debit: "contributor:ann", Credit: "external:bank", Amount: 30},
		{ID: "t3", Debit: "external:bank", Credit: "contributor:bea", Amount: 5, Flags: ledger.Pending},
	})
	if err != nil || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	root, _ := l.JournalRoot(ctx)
	return l, ledger.Anchor{Root: root, LogIndex: 7}
}

func TestVerifyAgainstAnchors(t *testing.T) {
	ctx := context.Background()
	t.Run("clean", func(t *testing.T) {
		l, a := booked(t)
		b, err := ledger.Verify(ctx, l, []ledger.Anchor{a})
		if err != nil {
			t.Fatal(err)
		}
		if x, _ := b.Balance("contributor:ann"); x.Net() != 70 {
			t.Fatalf("ann %+v", x)
		}
	})
	t.Run("balance raised", func(t *testing.T) {
		l, a := booked(t)
		if _, err := l.DB().Exec(`UPDATE accounts SET cp = cp + 1000000 WHERE id = 'contributor:ann'`); err != nil {
			t.Fatal(err)
		}
		_, err := ledger.Verify(ctx, l, []ledger.Anchor{a})
		var je *ledger.JournalError
		if !errors.Is(err, ledger.ErrBalanceMismatch) || !errors.As(err, &je) || je.Account != "contributor:ann" {
			t.Fatalf("got %v, want a balance mismatch naming ann", err)
		}
	})
	t.Run("row rewritten with a fresh chain", func(t *testing.T) {
		// The thorough forger: edits a transfer, recomputes every chain
		// hash after it and the balance table. Only the logged root can
		// tell.
		l, a := booked(t)
		forge(t, l, 4, func(e *ledger.Entry) { e.Transfer.Amount = 1_000_000 })
		if _, err := ledger.Verify(ctx, l, nil); err != nil {
			t.Fatalf("the forgery should be self-consistent: %v", err)
		}
		_, err := ledger.Verify(ctx, l, []ledger.Anchor{a})
		var je *ledger.JournalError
		if !errors.Is(err, ledger.ErrAnchor) || !errors.As(err, &je) || je.Seq != a.Root.Size {
			t.Fatalf("got %v, want ErrAnchor at row %d", err, a.Root.Size)
		}
	})
	t.Run("row edited in place", func(t *testing.T) {
		l, a := booked(t)
		if _, err := l.DB().Exec(`UPDATE journal SET entry = ? WHERE seq = 4`, editEntry(t, l, 4, func(e *ledger.Entry) { e.Transfer.Amount = 1_000_000 })); err != nil {
			t.Fatal(err)
		}
		_, err := ledger.Verify(ctx, l, []ledger.Anchor{a})
		var je *ledger.JournalError
		if !errors.Is(err, ledger.ErrChainBroken) || !errors.As(err, &je) || je.Seq != 4 || je.Entry != "t1" {
			t.Fatalf("got %v, want a broken chain at row 4 (t1)", err)
		}
	})
	t.Run("rows lost", func(t *testing.T) {
		l, a := booked(t)
		if _, err := l.DB().Exec(`DELETE FROM journal WHERE seq > 4`); err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.Verify(ctx, l, []ledger.Anchor{a}); !errors.Is(err, ledger.ErrAnchor) {
			t.Fatalf("got %v, want ErrAnchor", err)
		}
	})
	t.Run("catch up", func(t *testing.T) {
		l, a := booked(t)
		b, err := ledger.Verify(ctx, l, []ledger.Anchor{a})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "t4", PendingID: "t3", Flags: ledger.PostPending}}); err != nil {
			t.Fatal(err)
		}
		if err := b.CatchUp(l.Entries(ctx, b.Root().Size)); err != nil {
			t.Fatal(err)
		}
		if x, _ := b.Balance("contributor:bea"); x.Net() != 5 || x.CreditsPending != 0 {
			t.Fatalf("bea %+v", x)
		}
		stored, _ := l.Balances(ctx)
		if err := b.Compare(stored); err != nil {
			t.Fatal(err)
		}
		// A verified row rewritten afterwards (with a fresh chain) is
		// caught on the next catch-up.
		forge(t, l, 4, func(e *ledger.Entry) { e.Transfer.Amount = 1_000_000 })
		if err := b.CatchUp(l.Entries(ctx, b.Root().Size)); !errors.Is(err, ledger.ErrChainBroken) {
			t.Fatalf("got %v, want ErrChainBroken", err)
		}
	})
}

func editEntry(t *testing.T, l *sqlite.Ledger, seq uint64, edit func(*ledger.Entry)) []byte {
	t.Helper()
	for r, err := range l.Entries(context.Background(), seq) {
		if err != nil {
			t.Fatal(err)
		}
		edit(&r.Entry)
		return r.Entry.Canonical()
	}
	t.Fatalf("no row %d", seq)
	return nil
}

// forge edits row seq, rechains every row from it and rewrites the
// balance table from the forged journal.
func forge(t *testing.T, l *sqlite.Ledger, seq uint64, edit func(*ledger.Entry)) {
	t.Helper()
	ctx := context.Background()
	var rows []ledger.JournalRow
	for r, err := range l.Entries(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	var prev [32]byte
	for i := range rows {
		if rows[i].Seq == seq {
			edit(&rows[i].Entry)
		}
		rows[i].Hash = ledger.ChainHash(prev, rows[i].Entry.Canonical())
		prev = rows[i].Hash
		if rows[i].Seq >= seq {
			if _, err := l.DB().Exec(`UPDATE journal SET entry = ?, hash = ? WHERE seq = ?`, rows[i].Entry.Canonical(), rows[i].Hash[:], rows[i].Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	bal, _, err := ledger.Replay(func(yield func(ledger.JournalRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, b := range bal {
		if _, err := l.DB().Exec(`UPDATE accounts SET dp = ?, cp = ?, dpend = ?, cpend = ? WHERE id = ?`, b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending, id); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkVerify measures the start-up check (chain, anchors, balances)
// against its baseline in the same run, a bare Replay of the same journal,
// and reports the ratio and the rows verified per second.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	l, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const accounts, transfers = 1000, 100_000
	as := []ledger.Account{{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"}}
	for i := range accounts {
		as = append(as, ledger.Account{ID: fmt.Sprintf("contributor:%04d", i), Kind: ledger.KindContributor, Currency: "USD"})
	}
	if err := l.CreateAccounts(ctx, as...); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < transfers; start += 5000 {
		ts := make([]ledger.Transfer, 5000)
		for i := range ts {
			ts[i] = ledger.Transfer{ID: fmt.Sprintf("t%06d", start+i), Debit: "external:bank", Credit: fmt.Sprintf("contributor:%04d", (start+i)%accounts), Amount: 7}
		}
		if _, err := l.CreateTransfers(ctx, ts); err != nil {
			b.Fatal(err)
		}
	}
	root, _ := l.JournalRoot(ctx)
	anchors := []ledger.Anchor{{Root: root, LogIndex: 1}}
	var base, verify time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := ledger.Replay(l.Entries(ctx, 1)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := ledger.Verify(ctx, l, anchors); err != nil {
			b.Fatal(err)
		}
		base, verify = base+t1.Sub(t0), verify+time.Since(t1)
	}
	b.ReportMetric(float64(verify)/float64(base), "verify/replay")
	b.ReportMetric(float64(root.Size)*float64(b.N)/verify.Seconds(), "rows/s")
}
