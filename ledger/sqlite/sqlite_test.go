package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/sqlite"
)

func open(t testing.TB, now func() time.Time) ledger.Ledger {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), &sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSuite(t *testing.T) { ledgertest.Test(t, open) }

func seeded(t *testing.T) *sqlite.Ledger {
	t.Helper()
	ctx := context.Background()
	l, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), &sqlite.Options{Now: ledgertest.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice, ledgertest.Revenue); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		res, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: fmt.Sprint("t", i), Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: int64(10 + i)}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
	}
	if _, err := ledger.Audit(ctx, l); err != nil {
		t.Fatal(err)
	}
	return l
}

// Editing the database behind the ledger's back is detected.
func TestTamper(t *testing.T) {
	ctx := context.Background()
	t.Run("EntryEdited", func(t *testing.T) {
		l := seeded(t)
		rec, err := l.LookupTransfer(ctx, "t2")
		if err != nil {
			t.Fatal(err)
		}
		rec.Amount = 1_000_000
		forged := ledger.Entry{Kind: ledger.EntryTransfer, Time: rec.Time, Transfer: rec.Transfer}.Canonical()
		if _, err := l.DB().Exec(`UPDATE journal SET entry = ? WHERE seq = ?`, forged, rec.Seq); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VerifyChain(ctx); !errors.Is(err, ledger.ErrChainBroken) {
			t.Fatalf("VerifyChain after an edit: %v", err)
		}
		if _, err := ledger.Audit(ctx, l); !errors.Is(err, ledger.ErrChainBroken) {
			t.Fatalf("Audit after an edit: %v", err)
		}
	})
	t.Run("RowDeleted", func(t *testing.T) {
		l := seeded(t)
		if _, err := l.DB().Exec(`DELETE FROM journal WHERE seq = 5`); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VerifyChain(ctx); !errors.Is(err, ledger.ErrChainBroken) {
			t.Fatalf("VerifyChain after a delete: %v", err)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		l := seeded(t)
		if _, err := l.DB().Exec(`UPDATE journal SET entry = x'0102' WHERE seq = 4`); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VerifyChain(ctx); !errors.Is(err, ledger.ErrChainBroken) {
			t.Fatalf("VerifyChain over garbage: %v", err)
		}
	})
	t.Run("BalanceEdited", func(t *testing.T) {
		l := seeded(t)
		if _, err := l.DB().Exec(`UPDATE accounts SET cp = cp + 1 WHERE id = ?`, ledgertest.Alice.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := l.VerifyChain(ctx); err != nil {
			t.Fatalf("the chain itself is intact: %v", err)
		}
		if _, err := ledger.Audit(ctx, l); !errors.Is(err, ledger.ErrBalanceMismatch) {
			t.Fatalf("Audit after a balance edit: %v", err)
		}
	})
}

// A second process (another Open of the same file) extends the same chain.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	a, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: fmt.Sprint(i), Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ledger.Audit(ctx, b); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	l := seeded(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: fmt.Sprintf("g%d-%d", g, i), Debit: ledgertest.Bank.ID, Credit: ledgertest.Revenue.ID, Amount: 1}}); err != nil {
					t.Error(err)
				}
				if _, err := l.LookupAccount(ctx, ledgertest.Revenue.ID); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if a, _ := l.LookupAccount(ctx, ledgertest.Revenue.ID); a.Net() != 100 {
		t.Fatalf("revenue at %d", a.Net())
	}
	ledgertest.CheckInvariants(t, ctx, l)
}

// A ledger written before the postings index existed, or with the index
// of an older Charter (positions only; the transfer's fields one column
// each), gets it filled from the journal when it is opened.
func TestPostingsBackfill(t *testing.T) {
	for _, before := range []string{`DROP TABLE postings`, `DROP TABLE postings;
		CREATE TABLE postings(account TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, mode INTEGER NOT NULL, pending TEXT,
			PRIMARY KEY(account, time, seq)) WITHOUT ROWID;
		INSERT INTO postings VALUES('` + ledgertest.Alice.ID + `', 1, 1, 0, NULL)`, `DROP TABLE postings;
		CREATE TABLE postings(account TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, mode INTEGER NOT NULL, pending TEXT,
			credited INTEGER NOT NULL, other TEXT NOT NULL, id TEXT NOT NULL, amount INTEGER NOT NULL, flags INTEGER NOT NULL,
			pending_id TEXT NOT NULL, reverses TEXT NOT NULL, code INTEGER NOT NULL, ref TEXT NOT NULL,
			PRIMARY KEY(account, time, seq)) WITHOUT ROWID;
		INSERT INTO postings VALUES('` + ledgertest.Alice.ID + `', 1, 1, 0, NULL, 1, 'x', 'y', 1, 0, '', '', 0, '')`} {
		testPostingsBackfill(t, before)
	}
}

func testPostingsBackfill(t *testing.T, before string) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	l, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice, ledgertest.Escrow); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: "f", Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: 50},
		{ID: "p", Debit: ledgertest.Alice.ID, Credit: ledgertest.Escrow.ID, Amount: 5, Flags: ledger.Pending},
		{ID: "q", Debit: ledgertest.Alice.ID, Credit: ledgertest.Escrow.ID, Amount: 6, Flags: ledger.Pending},
		{ID: "v", PendingID: "p", Flags: ledger.VoidPending},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DB().ExecContext(ctx, before); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ledgertest.CheckInvariants(t, ctx, l)
	ledgertest.CheckPostings(t, ctx, l)
	held, err := l.Postings(ctx, ledgertest.Alice.ID, ledger.PostingQuery{Only: ledger.OpenPending})
	if err != nil || len(held) != 1 || held[0].ID != "q" {
		t.Fatalf("open pending after the backfill: %+v %v", held, err)
	}
}

// A damaged postings index row is refused, not shown, and so is a line
// whose position was edited: a caller paging by cursor would go back to it.
func TestDamagedPostingLine(t *testing.T) {
	for name, edit := range map[string]string{
		"truncated": `UPDATE postings SET line = substr(line, 1, length(line) - 1) WHERE account = ?1`,
		"moved":     `UPDATE postings SET line = (SELECT line FROM postings WHERE account = ?1 ORDER BY time, seq LIMIT 1) WHERE account = ?1`,
	} {
		ctx := context.Background()
		l, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "l.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"f", "g"} {
			if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: id, Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: 50}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.DB().ExecContext(ctx, edit, ledgertest.Alice.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Postings(ctx, ledgertest.Alice.ID, ledger.PostingQuery{}); !errors.Is(err, ledger.ErrBadPosting) {
			t.Errorf("%s line: %v", name, err)
		}
	}
}
