package ledger

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// Replay rebuilds every account's balance from journal entries alone,
// verifying the hash chain as it goes. It trusts nothing but the entries
// and their order: the stored balances a backend keeps are a cache that
// Replay can check.
func Replay(rows iter.Seq2[JournalRow, error]) (map[string]Balance, Root, error) {
	bal := make(map[string]Balance)
	pending := make(map[string]Transfer)
	resolved := make(map[string]bool)
	var root Root
	for r, err := range rows {
		if err != nil {
			return nil, root, err
		}
		if r.Seq != root.Size+1 {
			return nil, root, fmt.Errorf("row %d follows row %d: %w", r.Seq, root.Size, ErrChainBroken)
		}
		if h := ChainHash(root.Hash, r.Entry.Canonical()); h != r.Hash {
			return nil, root, fmt.Errorf("row %d (%q): hash mismatch: %w", r.Seq, r.Entry.ID(), ErrChainBroken)
		}
		root = Root{Size: r.Seq, Hash: r.Hash}
		e := r.Entry
		if e.Kind == EntryAccount {
			if _, ok := bal[e.Account.ID]; ok {
				return nil, root, fmt.Errorf("row %d: account %q opened twice: %w", r.Seq, e.Account.ID, ErrChainBroken)
			}
			bal[e.Account.ID] = Balance{}
			continue
		}
		t := e.Transfer
		d, okd := bal[t.Debit]
		c, okc := bal[t.Credit]
		if !okd || !okc {
			return nil, root, fmt.Errorf("row %d: transfer %q names an account not yet opened: %w", r.Seq, t.ID, ErrChainBroken)
		}
		var err error
		switch t.mode() {
		case 0:
			d.DebitsPosted, err = addOK(d.DebitsPosted, t.Amount, err)
			c.CreditsPosted, err = addOK(c.CreditsPosted, t.Amount, err)
		case Pending:
			d.DebitsPending, err = addOK(d.DebitsPending, t.Amount, err)
			c.CreditsPending, err = addOK(c.CreditsPending, t.Amount, err)
			pending[t.ID] = t
		case PostPending, VoidPending:
			p, ok := pending[t.PendingID]
			if !ok || resolved[t.PendingID] || p.Debit != t.Debit || p.Credit != t.Credit || t.Amount > p.Amount {
				return nil, root, fmt.Errorf("row %d: transfer %q resolves %q inconsistently: %w", r.Seq, t.ID, t.PendingID, ErrChainBroken)
			}
			resolved[t.PendingID] = true
			d.DebitsPending -= p.Amount
			c.CreditsPending -= p.Amount
			if t.mode() == PostPending {
				d.DebitsPosted, err = addOK(d.DebitsPosted, t.Amount, err)
				c.CreditsPosted, err = addOK(c.CreditsPosted, t.Amount, err)
			}
		}
		if err != nil {
			return nil, root, fmt.Errorf("row %d: transfer %q: %w", r.Seq, t.ID, err)
		}
		bal[t.Debit], bal[t.Credit] = d, c
	}
	return bal, root, nil
}

func addOK(a, b int64, err error) (int64, error) {
	if err != nil {
		return a, err
	}
	return addChecked(a, b)
}

// ErrBalanceMismatch reports stored balances that differ from the ones the
// journal replays to.
var ErrBalanceMismatch = errors.New("ledger: stored balances differ from the journal")

// Audit verifies l's hash chain, replays its journal and compares the result
// with the stored balances. It returns the verified root.
func Audit(ctx context.Context, l interface {
	Reader
	Journal
}) (Root, error) {
	replayed, root, err := Replay(l.Entries(ctx, 1))
	if err != nil {
		return root, err
	}
	head, err := l.JournalRoot(ctx)
	if err != nil {
		return root, err
	}
	if head != root {
		return root, fmt.Errorf("journal head %d does not match the verified chain end %d: %w", head.Size, root.Size, ErrChainBroken)
	}
	stored, err := l.Balances(ctx)
	if err != nil {
		return root, err
	}
	if len(stored) != len(replayed) {
		return root, fmt.Errorf("%d accounts stored, %d in the journal: %w", len(stored), len(replayed), ErrBalanceMismatch)
	}
	for id, b := range replayed {
		if s, ok := stored[id]; !ok || s != b {
			return root, fmt.Errorf("account %q: stored %+v, journal %+v: %w\nhint: the balances table was edited or is stale; rebuild it from the journal", id, s, b, ErrBalanceMismatch)
		}
	}
	return root, nil
}
