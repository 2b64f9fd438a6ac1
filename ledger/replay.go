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
	b := NewBooks()
	for r, err := range rows {
		if err != nil {
			return nil, b.root, err
		}
		if err := b.Add(r); err != nil {
			return nil, b.root, err
		}
	}
	return b.bal, b.root, nil
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
