package ledger

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// ErrAnchor reports a journal that does not hold a root the transparency
// log recorded for it: a row at or before a logged root was changed, or
// rows the log covers are missing.
var ErrAnchor = errors.New("ledger: journal does not match a root logged in the transparency log")

// Anchor is a journal root recorded outside the ledger, in the
// transparency log's settlement entries: the journal's first Root.Size rows
// must chain to Root.Hash.
type Anchor struct {
	Root     Root
	LogIndex uint64 // the log entry that recorded it
}

// JournalError says where a journal fails verification. It wraps
// ErrChainBroken, ErrAnchor or ErrBalanceMismatch.
type JournalError struct {
	Seq     uint64 // the journal row (1-based); 0 when no single row is to blame
	Entry   string // the account or transfer id the row records, if known
	Account string // the account whose stored balance is wrong (ErrBalanceMismatch)
	Problem string
	Err     error
}

func (e *JournalError) Error() string {
	switch {
	case e.Account != "":
		return fmt.Sprintf("ledger: account %q: %s", e.Account, e.Problem)
	case e.Seq != 0 && e.Entry != "":
		return fmt.Sprintf("ledger: journal row %d (%q): %s", e.Seq, e.Entry, e.Problem)
	case e.Seq != 0:
		return fmt.Sprintf("ledger: journal row %d: %s", e.Seq, e.Problem)
	}
	return "ledger: journal: " + e.Problem
}

func (e *JournalError) Unwrap() error { return e.Err }

// Books is the journal-backed view of every balance: the replay of a
// verified prefix of the journal. A balance the journal does not back is
// never in Books, whatever a backend's balance table says.
type Books struct {
	bal     map[string]Balance
	pending map[string]Transfer
	root    Root
}

// NewBooks returns the books of an empty journal.
func NewBooks() *Books {
	return &Books{bal: map[string]Balance{}, pending: map[string]Transfer{}}
}

// Root is the root of the journal prefix the books replay.
func (b *Books) Root() Root { return b.root }

// Balance returns an account's journal-backed balance.
func (b *Books) Balance(id string) (Balance, bool) {
	x, ok := b.bal[id]
	return x, ok
}

// Balances returns a copy of every journal-backed balance.
func (b *Books) Balances() map[string]Balance {
	out := make(map[string]Balance, len(b.bal))
	for k, v := range b.bal {
		out[k] = v
	}
	return out
}

// Add checks that r is the next row of the journal (its sequence and
// chain hash) and applies it. On error the books are unchanged.
func (b *Books) Add(r JournalRow) error {
	if r.Seq != b.root.Size+1 {
		return &JournalError{Seq: r.Seq, Problem: fmt.Sprintf("follows row %d", b.root.Size), Err: ErrChainBroken}
	}
	e := r.Entry
	if h := ChainHash(b.root.Hash, e.Canonical()); h != r.Hash {
		return &JournalError{Seq: r.Seq, Entry: e.ID(), Problem: "hash mismatch: the row or one before it was edited", Err: ErrChainBroken}
	}
	bad := func(format string, a ...any) error {
		return &JournalError{Seq: r.Seq, Entry: e.ID(), Problem: fmt.Sprintf(format, a...), Err: ErrChainBroken}
	}
	if e.Kind == EntryAccount {
		if _, ok := b.bal[e.Account.ID]; ok {
			return bad("account opened twice")
		}
		b.bal[e.Account.ID] = Balance{}
		b.root = Root{Size: r.Seq, Hash: r.Hash}
		return nil
	}
	t := e.Transfer
	d, okd := b.bal[t.Debit]
	c, okc := b.bal[t.Credit]
	if !okd || !okc {
		return bad("names an account not yet opened")
	}
	var err error
	var drop string
	switch t.mode() {
	case 0:
		d.DebitsPosted, err = addOK(d.DebitsPosted, t.Amount, err)
		c.CreditsPosted, err = addOK(c.CreditsPosted, t.Amount, err)
	case Pending:
		if _, dup := b.pending[t.ID]; dup {
			return bad("pending transfer recorded twice")
		}
		d.DebitsPending, err = addOK(d.DebitsPending, t.Amount, err)
		c.CreditsPending, err = addOK(c.CreditsPending, t.Amount, err)
	case PostPending, VoidPending:
		p, ok := b.pending[t.PendingID]
		if !ok || p.Debit != t.Debit || p.Credit != t.Credit || t.Amount > p.Amount {
			return bad("resolves %q inconsistently", t.PendingID)
		}
		drop = t.PendingID
		d.DebitsPending -= p.Amount
		c.CreditsPending -= p.Amount
		if t.mode() == PostPending {
			d.DebitsPosted, err = addOK(d.DebitsPosted, t.Amount, err)
			c.CreditsPosted, err = addOK(c.CreditsPosted, t.Amount, err)
		}
	}
	if err != nil {
		return &JournalError{Seq: r.Seq, Entry: e.ID(), Problem: "balance past int64", Err: fmt.Errorf("%w: %w", ErrChainBroken, err)}
	}
	if t.mode() == Pending {
		b.pending[t.ID] = t
	}
	if drop != "" {
		delete(b.pending, drop) // a second resolution finds nothing pending
	}
	b.bal[t.Debit], b.bal[t.Credit] = d, c
	b.root = Root{Size: r.Seq, Hash: r.Hash}
	return nil
}

// CatchUp verifies and applies the rows appended to the journal since the
// books' root. The row the books end at must still carry the hash they
// verified; a journal cut short below it is an error too.
func (b *Books) CatchUp(rows iter.Seq2[JournalRow, error]) error {
	first := true
	for r, err := range rows {
		if err != nil {
			return err
		}
		if first && b.root.Size > 0 {
			first = false
			if r.Seq != b.root.Size || r.Hash != b.root.Hash {
				return &JournalError{Seq: b.root.Size, Problem: "changed after it was verified", Err: ErrChainBroken}
			}
			continue
		}
		first = false
		if err := b.Add(r); err != nil {
			return err
		}
	}
	if first && b.root.Size > 0 {
		return &JournalError{Seq: b.root.Size, Problem: "missing: the journal is shorter than when it was verified", Err: ErrChainBroken}
	}
	return nil
}

// Verify replays l's whole journal into fresh Books, checking the hash
// chain, every anchor (the journal must hold each logged root: the row at
// Root.Size carries Root.Hash) and the balances l stores against the
// replayed ones. It trusts nothing l keeps beside the journal rows.
func Verify(ctx context.Context, l interface {
	Reader
	Journal
}, anchors []Anchor) (*Books, error) {
	at := make(map[uint64]Anchor, len(anchors))
	var last Anchor
	for _, a := range anchors {
		if o, ok := at[a.Root.Size]; ok && o.Root.Hash != a.Root.Hash {
			return nil, &JournalError{Seq: a.Root.Size, Problem: fmt.Sprintf("log entries %d and %d record different roots for it", o.LogIndex, a.LogIndex), Err: ErrAnchor}
		}
		at[a.Root.Size] = a
		if a.Root.Size > last.Root.Size {
			last = a
		}
	}
	b := NewBooks()
	for r, err := range l.Entries(ctx, 1) {
		if err != nil {
			var je *JournalError
			if errors.As(err, &je) {
				return nil, err
			}
			return nil, &JournalError{Seq: b.root.Size + 1, Problem: err.Error(), Err: ErrChainBroken}
		}
		if err := b.Add(r); err != nil {
			return nil, err
		}
		if a, ok := at[r.Seq]; ok && a.Root.Hash != r.Hash {
			return nil, &JournalError{Seq: r.Seq, Entry: r.Entry.ID(), Problem: fmt.Sprintf("differs from the root logged at log entry %d: this row or one before it was changed", a.LogIndex), Err: ErrAnchor}
		}
	}
	if last.Root.Size > b.root.Size {
		return nil, &JournalError{Seq: b.root.Size + 1, Problem: fmt.Sprintf("missing: the journal ends at row %d, log entry %d recorded a root at row %d", b.root.Size, last.LogIndex, last.Root.Size), Err: ErrAnchor}
	}
	head, err := l.JournalRoot(ctx)
	if err != nil {
		return nil, err
	}
	if head != b.root {
		return nil, &JournalError{Seq: head.Size, Problem: fmt.Sprintf("the journal head is row %d, the verified chain ends at row %d", head.Size, b.root.Size), Err: ErrChainBroken}
	}
	stored, err := l.Balances(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.Compare(stored); err != nil {
		return nil, err
	}
	return b, nil
}

// Compare checks stored balances against the books: every account the
// journal opened, with the balance it replays to, and no other.
func (b *Books) Compare(stored map[string]Balance) error {
	for id, x := range b.bal {
		if s, ok := stored[id]; !ok {
			return &JournalError{Account: id, Problem: "opened in the journal but missing from the balances", Err: ErrBalanceMismatch}
		} else if s != x {
			return &JournalError{Account: id, Problem: fmt.Sprintf("stored balance %+v, the journal gives %+v", s, x), Err: ErrBalanceMismatch}
		}
	}
	if len(stored) != len(b.bal) {
		for id := range stored {
			if _, ok := b.bal[id]; !ok {
				return &JournalError{Account: id, Problem: "has a balance but the journal never opened it", Err: ErrBalanceMismatch}
			}
		}
	}
	return nil
}
