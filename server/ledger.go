package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/ledger"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/metering"
)

// The ledger lives beside the catalog in the data folder (ledger.db). Its
// account ids follow ledger's conventions with the ledger currency
// appended after "@", so one principal or asset has one account per
// currency: "licensee:<did>@USD-4", "contributor:<did>@USD-4",
// "asset:<asset>@USD-4", "external:<name>@USD-4".

// ErrLedgerTampered reports a ledger that fails verification against its
// own journal or the settlement roots in the transparency log.
var ErrLedgerTampered = errors.New("the ledger does not match its journal or the log")

// ledgerAnchors returns the journal roots the log's settlement entries
// recorded.
func ledgerAnchors(ctx context.Context, cat catalog.UsageReader) ([]ledger.Anchor, error) {
	roots, err := cat.JournalRoots(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: reading settlement roots: %w", err)
	}
	out := make([]ledger.Anchor, 0, len(roots))
	for _, r := range roots {
		a := ledger.Anchor{Root: ledger.Root{Size: r.Size}, LogIndex: r.LogIndex}
		if b, err := hex.DecodeString(r.Hash); err != nil || len(b) != 32 {
			if r.Size == 0 {
				continue // an empty journal's root
			}
			return nil, fmt.Errorf("server: settlement at log entry %d: malformed journal root %q", r.LogIndex, r.Hash)
		} else {
			copy(a.Root.Hash[:], b)
		}
		out = append(out, a)
	}
	return out, nil
}

// verifyLedger verifies the ledger journal: its hash chain, every journal
// root the log's settlement entries recorded, and the stored balances
// against the replayed journal. It returns the journal-backed books, or an
// error that says which ledger (name), which entry and what to do; dir,
// when set, is the data folder for the hint.
func verifyLedger(ctx context.Context, name, dir string, cat catalog.UsageReader, l ledger.Ledger) (*ledger.Books, int, error) {
	anchors, err := ledgerAnchors(ctx, cat)
	if err != nil {
		return nil, 0, err
	}
	b, err := ledger.Verify(ctx, l, anchors)
	if err != nil {
		var je *ledger.JournalError
		if !errors.As(err, &je) {
			return nil, 0, fmt.Errorf("server: verifying the ledger: %w", err)
		}
		hint := fmt.Sprintf("hint: the ledger was changed outside Charter (or lost writes the log recorded); do not pay anything out. Stop the server, keep %s as evidence, restore it from a backup taken after the last settlement, and start again", name)
		if dir != "" {
			hint += fmt.Sprintf(" (a SQLite ledger with its -wal file); `charter admin check --data %s` repeats this check", dir)
		}
		return nil, 0, fmt.Errorf("%w: %s: %w\n%s", ErrLedgerTampered, name, err, hint)
	}
	return b, len(anchors), nil
}

// LedgerCheck is api.LedgerCheck: what CheckLedger verified.
type LedgerCheck = api.LedgerCheck

// CheckLedger verifies the ledger of the data folder against its journal
// and the settlement roots in the log (see verifyLedger). It reads the
// catalog for the roots (cfg.Catalog, or the data folder's catalog.db),
// so check the catalog against the log first. The server must not be
// running.
func CheckLedger(ctx context.Context, cfg Config) (*LedgerCheck, error) {
	var cat catalog.UsageReader = cfg.Catalog
	if cfg.Catalog == nil {
		c, err := catsqlite.Open(ctx, filepath.Join(cfg.DataDir, "catalog.db"))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cat = c
	}
	path := filepath.Join(cfg.DataDir, "ledger.db")
	l, err := ledgersqlite.Open(ctx, path, nil)
	if err != nil {
		return nil, fmt.Errorf("server: ledger: %w", err)
	}
	defer l.Close()
	b, n, err := verifyLedger(ctx, path, cfg.DataDir, cat, l)
	if err != nil {
		return nil, err
	}
	r := b.Root()
	return &LedgerCheck{JournalSize: r.Size, JournalRoot: hex.EncodeToString(r.Hash[:]), Anchors: n, Accounts: len(b.Balances())}, nil
}

// backed refuses to act on an account whose stored balance the journal
// does not back: it verifies the rows appended since the last check and
// compares the account's stored balance with the journal's. Call it with
// ledgerMu held.
func (s *Server) backed(ctx context.Context, acct string) error {
	if s.books == nil {
		return errorf(http.StatusServiceUnavailable, "ledger-unverified", "Ledger not verified", "this server did not verify its ledger at start", "restart the server", nil)
	}
	refuse := func(err error) error {
		s.log.Error("ledger verification failed; payouts refused", "err", err)
		return errorf(http.StatusServiceUnavailable, "ledger-tampered", "Ledger failed verification", "the ledger does not match its journal; payouts are stopped until the operator restores it", "ask the operator; `charter admin check` reports the details", fmt.Errorf("%w: %w", ErrLedgerTampered, err))
	}
	if err := s.books.CatchUp(s.ledger.Entries(ctx, s.books.Root().Size)); err != nil {
		return refuse(err)
	}
	a, err := s.ledger.LookupAccount(ctx, acct)
	if err != nil {
		return err
	}
	if b, ok := s.books.Balance(acct); !ok || b != a.Balance {
		return refuse(&ledger.JournalError{Account: acct, Problem: fmt.Sprintf("stored balance %+v, the journal gives %+v", a.Balance, b), Err: ledger.ErrBalanceMismatch})
	}
	return nil
}

// inCurrency names the per-currency variant of a principal or asset.
func inCurrency(name, cur string) string { return name + "@" + cur }

// splitCurrency undoes inCurrency.
func splitCurrency(s string) (name, cur string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func licenseeAccount(did, cur string) string { return ledger.LicenseeAccount(inCurrency(did, cur)) }
func contributorAccount(did, cur string) string {
	return ledger.ContributorAccount(inCurrency(did, cur))
}
func externalAccount(name, cur string) string { return ledger.ExternalAccount(inCurrency(name, cur)) }

// openAccount opens an account unless it exists; an existing account is
// accepted whatever its definition (credit lines are fixed when opened).
func (s *Server) openAccount(ctx context.Context, a ledger.Account) error {
	if _, err := s.ledger.LookupAccount(ctx, a.ID); err == nil {
		return nil
	} else if !errors.Is(err, ledger.ErrAccountNotFound) {
		return err
	}
	err := s.ledger.CreateAccounts(ctx, a)
	if errors.Is(err, ledger.ErrIDConflict) {
		return nil // opened meanwhile
	}
	return err
}

// FundAnswer is the answer to a deposit or a withdrawal.
type FundAnswer = api.FundAnswer

// statementFresh refuses statements older than 10 minutes or from the
// future; their ids are idempotency keys, so a replay within the window
// applies nothing twice.
func statementFresh(created time.Time) error {
	if age := time.Since(created); age > 10*time.Minute || age < -time.Minute {
		return errorf(http.StatusUnprocessableEntity, "stale-request", "Statement too old or from the future", fmt.Sprintf("created %s", created.Format(time.RFC3339)), "sign a new one; check your clock", nil)
	}
	return nil
}

// fund handles POST /v1/funds: a deposit into a licensee's prepaid account
// from an external account, signed by the operator (the server's key,
// keys/server.key in the data folder). A credit limit opens the account
// with a credit line; it cannot change once the account is open.
func (s *Server) fund(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, _, err := readEnvelope(r)
	if err != nil {
		return err
	}
	f, signers, id, err := metering.OpenFund(env)
	if err != nil {
		return err
	}
	operator := false
	for _, d := range signers {
		operator = operator || d == s.key.DID()
	}
	if !operator {
		return errorf(http.StatusForbidden, "not-operator", "Only the operator may fund accounts", "a deposit must be signed by the server's key", "sign with --key DATA/keys/server.key on the server's machine", nil)
	}
	if err := statementFresh(f.Created.Time()); err != nil {
		return err
	}
	acct := licenseeAccount(f.Licensee.String(), f.Currency)
	ext := externalAccount(f.From, f.Currency)
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	cur, err := s.ledger.LookupAccount(ctx, acct)
	switch {
	case errors.Is(err, ledger.ErrAccountNotFound):
		if err := s.ledger.CreateAccounts(ctx, ledger.Account{ID: acct, Kind: ledger.KindLicensee, CreditLimit: f.CreditLimit, Currency: f.Currency}); err != nil {
			return err
		}
	case err != nil:
		return err
	case f.CreditLimit != 0 && cur.CreditLimit != f.CreditLimit:
		return errorf(http.StatusConflict, "credit-line-fixed", "Credit line already set", fmt.Sprintf("account %s was opened with credit limit %d", acct, cur.CreditLimit), "a credit line is fixed when the account opens; deposit instead", ledger.ErrIDConflict)
	}
	if err := s.openAccount(ctx, ledger.Account{ID: ext, Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: f.Currency}); err != nil {
		return err
	}
	ans := FundAnswer{Account: acct, Currency: f.Currency}
	if f.Amount > 0 {
		tid := "fund:" + id.String()
		res, err := s.ledger.CreateTransfers(ctx, []ledger.Transfer{{ID: tid, Debit: ext, Credit: acct, Amount: f.Amount, Ref: "deposit from " + f.From}})
		if err != nil {
			return err
		}
		if res[0].Err != nil {
			return res[0].Err
		}
		ans.Transfer = tid
	}
	b, err := s.ledger.LookupAccount(ctx, acct)
	if err != nil {
		return err
	}
	ans.Balance, ans.CreditLimit = b.Net(), b.CreditLimit
	s.log.Info("deposit", "account", acct, "amount", f.Amount, "credit_limit", f.CreditLimit)
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// withdraw handles POST /v1/withdrawals: a contributor's payout request,
// recorded as a transfer of earnings to an external account. The ledger
// refuses to take an account below zero.
func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, _, err := readEnvelope(r)
	if err != nil {
		return err
	}
	wd, id, err := metering.OpenWithdrawal(env)
	if err != nil {
		return err
	}
	if err := statementFresh(wd.Created.Time()); err != nil {
		return err
	}
	acct := contributorAccount(wd.Contributor.String(), wd.Currency)
	ext := externalAccount(wd.To, wd.Currency)
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if _, err := s.ledger.LookupAccount(ctx, acct); err != nil {
		if errors.Is(err, ledger.ErrAccountNotFound) {
			return errorf(http.StatusNotFound, "no-earnings", "No earnings in this currency", fmt.Sprintf("%s has no account %s", wd.Contributor, acct), "see `charter earnings` for your balances", err)
		}
		return err
	}
	// Pay only what the verified journal backs.
	if err := s.backed(ctx, acct); err != nil {
		return err
	}
	if err := s.openAccount(ctx, ledger.Account{ID: ext, Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: wd.Currency}); err != nil {
		return err
	}
	tid := "withdraw:" + id.String()
	res, err := s.ledger.CreateTransfers(ctx, []ledger.Transfer{{ID: tid, Debit: acct, Credit: ext, Amount: wd.Amount, Ref: "payout to " + wd.To}})
	if err != nil {
		return err
	}
	if err := res[0].Err; err != nil {
		if errors.Is(err, ledger.ErrExceedsLimit) {
			return errorf(http.StatusConflict, "insufficient-funds", "Not enough earnings", fmt.Sprintf("withdrawing %s %s: %v", metering.FormatAmount(wd.Amount, wd.Currency), wd.Currency, err), "see `charter earnings` for your balance", err)
		}
		return err
	}
	b, err := s.ledger.LookupAccount(ctx, acct)
	if err != nil {
		return err
	}
	s.log.Info("payout", "account", acct, "amount", wd.Amount, "to", wd.To)
	writeJSON(w, http.StatusOK, FundAnswer{Account: acct, Currency: wd.Currency, Balance: b.Net(), Transfer: tid})
	return nil
}
