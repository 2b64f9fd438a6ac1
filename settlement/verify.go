package settlement

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/ledger"
)

// Anchors returns the journal roots the log's settlement entries recorded.
func Anchors(ctx context.Context, cat catalog.UsageReader) ([]ledger.Anchor, error) {
	roots, err := cat.JournalRoots(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlement: reading settlement roots: %w", err)
	}
	out := make([]ledger.Anchor, 0, len(roots))
	for _, r := range roots {
		a := ledger.Anchor{Root: ledger.Root{Size: r.Size}, LogIndex: r.LogIndex}
		if b, err := hex.DecodeString(r.Hash); err != nil || len(b) != 32 {
			if r.Size == 0 {
				continue // an empty journal's root
			}
			return nil, fmt.Errorf("settlement at log entry %d: malformed journal root %q", r.LogIndex, r.Hash)
		} else {
			copy(a.Root.Hash[:], b)
		}
		out = append(out, a)
	}
	return out, nil
}

// VerifyLedger verifies a ledger's journal: its hash chain, every journal
// root the log's settlement entries recorded (read from cat), and the
// stored balances against the replayed journal. It returns the
// journal-backed books and the number of roots matched, or an error that
// wraps ErrLedgerTampered and *ledger.JournalError and says which entry.
func VerifyLedger(ctx context.Context, cat catalog.UsageReader, l ledger.Ledger) (*ledger.Books, int, error) {
	anchors, err := Anchors(ctx, cat)
	if err != nil {
		return nil, 0, err
	}
	b, err := ledger.Verify(ctx, l, anchors)
	if err != nil {
		var je *ledger.JournalError
		if !errors.As(err, &je) {
			return nil, 0, fmt.Errorf("settlement: verifying the ledger: %w", err)
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrLedgerTampered, err)
	}
	return b, len(anchors), nil
}

// Verify verifies the service's ledger (VerifyLedger) and keeps its books,
// so that payouts can be checked against the journal. Until it succeeds,
// payouts are refused with ErrLedgerUnverified.
func (s *Service) Verify(ctx context.Context) error {
	b, _, err := VerifyLedger(ctx, s.cat, s.l)
	if err != nil {
		return err
	}
	s.ledgerMu.Lock()
	s.books = b
	s.ledgerMu.Unlock()
	return nil
}

// backed refuses to act on an account whose stored balance the journal
// does not back: it verifies the rows appended since the last check (by
// this or another replica) and compares the account's stored balance with
// the journal's. Call it with ledgerMu held.
func (s *Service) backed(ctx context.Context, acct string) error {
	if s.books == nil {
		return ErrLedgerUnverified
	}
	refuse := func(err error) error {
		s.log.Error("ledger verification failed; payouts refused", "err", err)
		return fmt.Errorf("%w: %w", ErrLedgerTampered, err)
	}
	// Replicas sharing the ledger append between the catch-up and the
	// balance read: a mismatch is checked again after catching up with
	// what they wrote; a balance edited outside Charter stays wrong.
	var mismatch error
	for range 3 {
		if err := s.books.CatchUp(s.l.Entries(ctx, s.books.Root().Size)); err != nil {
			return refuse(err)
		}
		a, err := s.l.LookupAccount(ctx, acct)
		if err != nil {
			return err
		}
		b, ok := s.books.Balance(acct)
		if ok && b == a.Balance {
			return nil
		}
		mismatch = &ledger.JournalError{Account: acct, Problem: fmt.Sprintf("stored balance %+v, the journal gives %+v", a.Balance, b), Err: ledger.ErrBalanceMismatch}
	}
	return refuse(mismatch)
}

// ExplainLedger rewrites a failed ledger verification for the operator of
// the ledger name (a file or a database); dir, when set, is the data
// folder for the hint. Other errors are returned as they are.
func ExplainLedger(name, dir string, err error) error {
	var je *ledger.JournalError
	if !errors.As(err, &je) {
		return err
	}
	hint := fmt.Sprintf("hint: the ledger was changed outside Charter (or lost writes the log recorded); do not pay anything out. Stop the server, keep %s as evidence, restore it from a backup taken after the last settlement, and start again", name)
	if dir != "" {
		hint += fmt.Sprintf(" (a SQLite ledger with its -wal file); `charter admin check --data %s` repeats this check", dir)
	}
	return fmt.Errorf("%s: %w\n%s", name, err, hint)
}

// CheckLedger verifies l (VerifyLedger) for `charter admin check` and
// reports what it verified; a failure is explained for the operator
// (ExplainLedger: name names the ledger, dir the data folder if any).
func CheckLedger(ctx context.Context, cat catalog.UsageReader, l ledger.Ledger, name, dir string) (*api.LedgerCheck, error) {
	b, n, err := VerifyLedger(ctx, cat, l)
	if err != nil {
		return nil, ExplainLedger(name, dir, err)
	}
	r := b.Root()
	return &api.LedgerCheck{JournalSize: r.Size, JournalRoot: hex.EncodeToString(r.Hash[:]), Anchors: n, Accounts: len(b.Balances())}, nil
}
