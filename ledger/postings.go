package ledger

import (
	"context"
	"iter"
	"slices"
)

// PostingReader reads one account's side of the journal through an index on
// (account, time), so that a statement costs what the account holds, not
// what the whole ledger holds. Backends keep the index in the transaction
// that appends the journal rows it points to.
type PostingReader interface {
	// Accounts returns the accounts whose id begins with prefix, with their
	// balances, sorted by id (bytewise).
	Accounts(ctx context.Context, prefix string) ([]AccountBalance, error)
	// Postings returns the journaled transfers that debited or credited
	// account and match q, ordered by time and then journal position.
	// An unknown account has no postings.
	Postings(ctx context.Context, account string, q PostingQuery) ([]Line, error)
	// EachPosting is Postings one line at a time: fn sees each line as it
	// is read, and its error stops the read and is returned. A statement
	// that only sums its lines keeps none of them.
	EachPosting(ctx context.Context, account string, q PostingQuery, fn func(Line) error) error
}

// CollectPostings is Postings built on a backend's EachPosting.
func CollectPostings(ctx context.Context, each func(context.Context, string, PostingQuery, func(Line) error) error, account string, q PostingQuery) ([]Line, error) {
	out := make([]Line, 0, 64)
	if err := each(ctx, account, q, func(l Line) error { out = append(out, l); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// PostingKind selects which of an account's transfers Postings returns.
type PostingKind uint8

// Posting kinds.
const (
	// AllPostings is every transfer: plain, pending, posts and voids.
	AllPostings PostingKind = iota
	// Posted is the transfers that moved posted money: plain transfers and
	// posts of pending ones (what Statement lists).
	Posted
	// OpenPending is the pending transfers not yet posted or voided.
	OpenPending
)

// PostingQuery narrows Postings.
type PostingQuery struct {
	// From and To bound the journal time (Unix nanoseconds) to [From, To);
	// To == 0 means no end.
	From, To int64
	// After, when its Seq is not zero, starts after that posting (the
	// Cursor of the last Line of the previous page).
	After Cursor
	// Limit caps the number of lines; 0 means no cap.
	Limit int
	Only  PostingKind
}

// Cursor is a position in an account's postings: they are ordered by
// (Time, Seq).
type Cursor struct {
	Time int64
	Seq  uint64
}

// Cursor returns l's position, for PostingQuery.After.
func (l Line) Cursor() Cursor { return Cursor{Time: l.Time, Seq: l.Seq} }

// PostingMode is how an index row records a transfer's mode; backends store
// it beside each posting so that Posted and OpenPending are answered by
// the index.
func PostingMode(t Transfer) uint8 {
	switch t.mode() {
	case Pending:
		return 1
	case PostPending:
		return 2
	case VoidPending:
		return 3
	}
	return 0
}

// ModeMatches reports whether an index row of the given PostingMode can be
// part of a query for kind (OpenPending also needs the transfer to be
// unresolved, which the backend checks).
func ModeMatches(kind PostingKind, mode uint8) bool {
	switch kind {
	case Posted:
		return mode == 0 || mode == 2
	case OpenPending:
		return mode == 1
	}
	return true
}

// IndexedLine is account's Line of a transfer as a postings index row
// stores it: t's fields with account on one side (Credit when credited,
// else Debit) and other on the other. Backends store every field of the
// transfer beside each posting, so a statement reads no journal entry
// (decoding 1,000 entries was most of an earnings statement's CPU).
func IndexedLine(account, other string, credited bool, t Transfer, seq uint64, time int64) Line {
	if credited {
		t.Credit, t.Debit = account, other
		return Line{Record: Record{Transfer: t, Seq: seq, Time: time}, Amount: t.Amount, Counterparty: other}
	}
	t.Debit, t.Credit = account, other
	return Line{Record: Record{Transfer: t, Seq: seq, Time: time}, Amount: -t.Amount, Counterparty: other}
}

// LineOf returns rec as a line of account's postings, and false when rec
// does not touch account.
func LineOf(rec Record, account string) (Line, bool) {
	switch account {
	case rec.Credit:
		return Line{Record: rec, Amount: rec.Amount, Counterparty: rec.Debit}, true
	case rec.Debit:
		return Line{Record: rec, Amount: -rec.Amount, Counterparty: rec.Credit}, true
	}
	return Line{}, false
}

// ScanPostings answers a Postings query from the journal itself, reading
// every row: the reference the indexed backends are tested against, and the
// baseline of their benchmarks.
func ScanPostings(rows iter.Seq2[JournalRow, error], account string, q PostingQuery) ([]Line, error) {
	var out []Line
	resolved := map[string]bool{}
	for r, err := range rows {
		if err != nil {
			return nil, err
		}
		e := r.Entry
		if e.Kind != EntryTransfer {
			continue
		}
		if e.Transfer.PendingID != "" {
			resolved[e.Transfer.PendingID] = true
		}
		if e.Time < q.From || (q.To != 0 && e.Time >= q.To) || !ModeMatches(q.Only, PostingMode(e.Transfer)) {
			continue
		}
		if q.After.Seq != 0 && (e.Time < q.After.Time || e.Time == q.After.Time && r.Seq <= q.After.Seq) {
			continue
		}
		if l, ok := LineOf(Record{Transfer: e.Transfer, Seq: r.Seq, Time: e.Time}, account); ok {
			out = append(out, l)
		}
	}
	if q.Only == OpenPending {
		out = slices.DeleteFunc(out, func(l Line) bool { return resolved[l.ID] })
	}
	slices.SortStableFunc(out, func(a, b Line) int {
		if a.Time != b.Time {
			if a.Time < b.Time {
				return -1
			}
			return 1
		}
		if a.Seq < b.Seq {
			return -1
		}
		if a.Seq > b.Seq {
			return 1
		}
		return 0
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// PrefixEnd returns the least string greater than every string beginning
// with prefix, for a range scan [prefix, PrefixEnd(prefix)); ids are
// printable ASCII, so "\x7f" sorts after all of their bytes.
func PrefixEnd(prefix string) string { return prefix + "\x7f" }
