package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

var schemas sync.Map // test name -> schema

// open gives each test its own schema, dropped afterwards; a test that
// opens many ledgers (the rapid properties) gets its schema emptied instead
// of a new one each time.
func open(t testing.TB, now func() time.Time) ledger.Ledger {
	t.Helper()
	ctx := context.Background()
	if v, ok := schemas.Load(t.Name()); ok {
		schema := pgx.Identifier{v.(string)}.Sanitize()
		conn := pgtest.Connect(t)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `TRUNCATE `+schema+`.journal, `+schema+`.transfers, `+schema+`.resolved, `+schema+`.accounts, `+schema+`.state, `+schema+`.postings`); err != nil {
			t.Fatal(err)
		}
		l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Now: now, Schema: v.(string)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	schema := pgtest.Schema(t, "ledger_test")
	schemas.Store(t.Name(), schema)
	t.Cleanup(func() { schemas.Delete(t.Name()) })
	l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Now: now, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSuite(t *testing.T) { ledgertest.Test(t, open) }

func TestTamper(t *testing.T) {
	ctx := context.Background()
	l := open(t, ledgertest.Clock).(*postgres.Ledger)
	defer l.Close()
	if err := l.CreateAccounts(ctx, ledgertest.Bank, ledgertest.Alice); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "t", Debit: ledgertest.Bank.ID, Credit: ledgertest.Alice.ID, Amount: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Audit(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := l.Exec(ctx, `UPDATE accounts SET cp = cp + 1 WHERE id = $1`, ledgertest.Alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Audit(ctx, l); err == nil {
		t.Fatal("edited balance not detected")
	}
	if err := l.Exec(ctx, `UPDATE journal SET hash = $1 WHERE seq = 2`, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.VerifyChain(ctx); err == nil {
		t.Fatal("edited hash not detected")
	}
}

// Writers on two pools (two processes, in effect) and many goroutines
// never overdraw an account or fork the chain: 80 transfers of 1 from an
// account allowed 50 give exactly 50 successes.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t, "ledger_test")
	var ls []*postgres.Ledger
	for range 2 {
		l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ls = append(ls, l)
	}
	if err := ls[0].CreateAccounts(ctx, ledgertest.Bank, ledgertest.Bob, ledgertest.Revenue); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, over := 0, 0
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[g%2]
			for i := range 10 {
				res, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: fmt.Sprintf("g%d-%d", g, i), Debit: ledgertest.Bob.ID, Credit: ledgertest.Revenue.ID, Amount: 1}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				switch {
				case res[0].Err == nil:
					ok++
				case errors.Is(res[0].Err, ledger.ErrExceedsLimit):
					over++
				default:
					t.Error(res[0].Err)
				}
				mu.Unlock()
				if _, err := l.Postings(ctx, ledgertest.Revenue.ID, ledger.PostingQuery{Limit: 5}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if ok != 50 || over != 30 {
		t.Fatalf("%d transfers applied and %d refused, want 50 and 30", ok, over)
	}
	for _, l := range ls {
		ledgertest.CheckInvariants(t, ctx, l)
	}
}

// A ledger written before the postings index existed, or with the index
// of an older Charter (positions only; the transfer's fields one column
// each), gets it filled from the journal when it is opened.
func TestPostingsBackfill(t *testing.T) {
	for _, before := range []string{`DROP TABLE postings`, `DROP TABLE postings;
		CREATE TABLE postings(account TEXT COLLATE "C" NOT NULL, time BIGINT NOT NULL, seq BIGINT NOT NULL, mode SMALLINT NOT NULL,
			pending TEXT, PRIMARY KEY(account, time, seq));
		INSERT INTO postings VALUES('` + ledgertest.Alice.ID + `', 1, 1, 0, NULL)`, `DROP TABLE postings;
		CREATE TABLE postings(account TEXT COLLATE "C" NOT NULL, time BIGINT NOT NULL, seq BIGINT NOT NULL, mode SMALLINT NOT NULL,
			pending TEXT, credited BOOLEAN NOT NULL, other TEXT NOT NULL, id TEXT NOT NULL, amount BIGINT NOT NULL, flags BIGINT NOT NULL,
			pending_id TEXT NOT NULL, reverses TEXT NOT NULL, code INTEGER NOT NULL, ref TEXT NOT NULL, PRIMARY KEY(account, time, seq));
		INSERT INTO postings VALUES('` + ledgertest.Alice.ID + `', 1, 1, 0, NULL, true, 'x', 'y', 1, 0, '', '', 0, '')`} {
		testPostingsBackfill(t, before)
	}
}

func testPostingsBackfill(t *testing.T, before string) {
	ctx := context.Background()
	schema := pgtest.Schema(t, "ledger_test")
	l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Schema: schema})
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
	if err := l.Exec(ctx, before); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Schema: schema})
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
		"truncated": `UPDATE postings SET line = substring(line from 1 for length(line) - 1) WHERE account = $1`,
		"moved":     `UPDATE postings SET line = (SELECT line FROM postings WHERE account = $1 ORDER BY time, seq LIMIT 1) WHERE account = $1`,
	} {
		ctx := context.Background()
		l, err := postgres.Open(ctx, pgtest.DSN(), &postgres.Options{Schema: pgtest.Schema(t, "ledger_test")})
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
		if err := l.Exec(ctx, edit, ledgertest.Alice.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Postings(ctx, ledgertest.Alice.ID, ledger.PostingQuery{}); !errors.Is(err, ledger.ErrBadPosting) {
			t.Errorf("%s line: %v", name, err)
		}
	}
}
