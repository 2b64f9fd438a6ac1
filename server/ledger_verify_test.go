package server

import (
	"context"
	"errors"
	"github.com/charter-dev/charter/api"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/ledger"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
)

// settledMarket is a market whose consumer's use is settled (its journal
// root logged) and whose model contributor Max earned 1.9754 USD-4.
func settledMarket(t *testing.T) *market {
	m := newMarket(t, Config{})
	m.fund(m.consumer.DID(), 1_000_000)
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1_234_567}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	m.settleOK()
	return m
}

func (m *market) withdraw(k *identity.Key, amount int64) (*api.FundAnswer, error) {
	w := &metering.Withdrawal{Amount: amount, Contributor: k.DID(), Created: asset.NewTime(time.Now()), Currency: "USD-4", Nonce: grant.NewNonce(), To: "bank"}
	env, _ := w.Sign(k)
	return m.c.Withdraw(context.Background(), env)
}

// reopen closes the market's server and starts a new one on its folder.
func (m *market) reopen() error {
	m.hs.Close()
	m.s.Close()
	s, err := Open(context.Background(), Config{DataDir: m.dir, Logger: m.s.log, ScrubInterval: -1, SettleInterval: -1})
	if err != nil {
		return err
	}
	m.start2(s)
	return nil
}

func (m *market) start2(s *Server) {
	m.s = s
	m.hs = httptestServer(m.t, s)
	m.c, _ = client.New(m.hs.URL)
}

// editLedger opens the closed server's ledger.db directly.
func editLedger(t *testing.T, dir string, edit func(l *ledgersqlite.Ledger)) {
	t.Helper()
	l, err := ledgersqlite.Open(context.Background(), filepath.Join(dir, "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	edit(l)
}

// TestTamperedLedgerRefused: a balance raised in ledger.db, or a journal
// row rewritten with a fresh hash chain, stops the server at start with a
// message naming the file, the entry and what to do; CheckLedger (admin
// check) reports the same. A balance raised under a running server is not
// paid out.
func TestTamperedLedgerRefused(t *testing.T) {
	ctx := context.Background()
	maxAcct := func(m *market) string { return settlement.ContributorAccount(m.max.DID().String(), "USD-4") }

	t.Run("balance raised", func(t *testing.T) {
		m := settledMarket(t)
		m.hs.Close()
		m.s.Close()
		editLedger(t, m.dir, func(l *ledgersqlite.Ledger) {
			if err := l.ForgeCredit(ctx, maxAcct(m), 10000000); err != nil {
				t.Fatal(err)
			}
		})
		_, err := Open(ctx, Config{DataDir: m.dir, Logger: m.s.log, ScrubInterval: -1, SettleInterval: -1})
		if !errors.Is(err, ErrLedgerTampered) || !errors.Is(err, ledger.ErrBalanceMismatch) {
			t.Fatalf("start with a raised balance: %v", err)
		}
		for _, want := range []string{filepath.Join(m.dir, "ledger.db"), maxAcct(m), "hint:", "restore"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("start error does not say %q: %v", want, err)
			}
		}
		if _, err := datadir.CheckLedger(ctx, m.dir, nil); !errors.Is(err, ErrLedgerTampered) {
			t.Fatalf("CheckLedger: %v", err)
		}
		m.start2Fresh(t) // keep Cleanup happy
	})

	t.Run("journal rewritten", func(t *testing.T) {
		m := settledMarket(t)
		m.hs.Close()
		m.s.Close()
		editLedger(t, m.dir, func(l *ledgersqlite.Ledger) {
			forgeJournal(t, l, maxAcct(m))
		})
		_, err := Open(ctx, Config{DataDir: m.dir, Logger: m.s.log, ScrubInterval: -1, SettleInterval: -1})
		if !errors.Is(err, ErrLedgerTampered) || !errors.Is(err, ledger.ErrAnchor) || !strings.Contains(err.Error(), "journal row") {
			t.Fatalf("start with a rewritten journal: %v", err)
		}
		if _, err := datadir.CheckLedger(ctx, m.dir, nil); !errors.Is(err, ledger.ErrAnchor) {
			t.Fatalf("CheckLedger: %v", err)
		}
		m.start2Fresh(t)
	})

	t.Run("clean restart", func(t *testing.T) {
		m := settledMarket(t)
		if _, err := m.withdraw(m.max, 100); err != nil {
			t.Fatal(err)
		}
		if err := m.reopen(); err != nil {
			t.Fatalf("clean ledger refused: %v", err)
		}
		lc, err := func() (*api.LedgerCheck, error) {
			m.hs.Close()
			m.s.Close()
			defer m.start2Fresh(t)
			return datadir.CheckLedger(ctx, m.dir, nil)
		}()
		if err != nil || lc.Anchors != 1 || lc.JournalSize == 0 {
			t.Fatalf("CheckLedger on a clean folder: %+v %v", lc, err)
		}
	})

	t.Run("raised while running", func(t *testing.T) {
		m := settledMarket(t)
		if err := m.s.ledger.(*ledgersqlite.Ledger).ForgeCredit(ctx, maxAcct(m), 10000000); err != nil {
			t.Fatal(err)
		}
		_, err := m.withdraw(m.max, 1_000_000) // far more than the 19,754 earned
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Problem.Status != http.StatusServiceUnavailable || !strings.HasSuffix(ce.Problem.Type, "ledger-tampered") {
			t.Fatalf("withdrawal from a raised balance: %v", err)
		}
		if _, err := m.s.ledger.LookupTransfer(ctx, "x"); !errors.Is(err, ledger.ErrTransferNotFound) {
			t.Fatal(err)
		}
		rows := 0
		for r, err := range m.s.ledger.Entries(ctx, 1) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(r.Entry.ID(), "withdraw:") {
				rows++
			}
		}
		if rows != 0 {
			t.Fatal("a payout was journaled from a balance the journal does not back")
		}
	})
}

// start2Fresh starts a server on a new empty folder, so the market's
// cleanup has something to close.
func (m *market) start2Fresh(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Logger: m.s.log, ScrubInterval: -1, SettleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	m.start2(s)
}

// forgeJournal raises acct's first credit tenfold, rechains every row after
// it and rewrites the balances from the forged journal: self-consistent,
// so only the root logged at settlement can tell.
func forgeJournal(t *testing.T, l *ledgersqlite.Ledger, acct string) {
	t.Helper()
	var rows []ledger.JournalRow
	for r, err := range l.Entries(context.Background(), 1) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	var prev [32]byte
	edited := false
	for i := range rows {
		e := &rows[i].Entry
		if !edited && e.Kind == ledger.EntryTransfer && e.Transfer.Credit == acct {
			e.Transfer.Amount *= 10
			edited = true
		}
		rows[i].Hash = ledger.ChainHash(prev, e.Canonical())
		prev = rows[i].Hash
		if _, err := l.DB().Exec(`UPDATE journal SET entry = ?, hash = ? WHERE seq = ?`, e.Canonical(), rows[i].Hash[:], rows[i].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if !edited {
		t.Fatal("no credit to forge")
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

func httptestServer(t testing.TB, s *Server) *httptest.Server { return httptest.NewServer(s.Handler()) }
