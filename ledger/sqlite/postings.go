package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"

	"github.com/charter-dev/charter/ledger"
)

// postingCols are the columns of a postings index row: the position
// (account, time, seq), the mode, the pending transfer's id when it is one,
// and the line, the position and the transfer from the account's side in
// one value (ledger.AppendPostingLine), which is all a read selects. One
// BLOB rather than a column per field: modernc.org/sqlite takes the
// connection's mutex and converts once per column read, so eleven columns
// cost more than decoding the journal entry did (4.3 vs 2.5 ms of CPU for
// 1,000 lines), and even reading seq and time beside the line cost 0.45 ms
// more than the line alone.
const (
	postingCols  = `(account, time, seq, mode, pending, line)`
	postingWidth = 6
)

// postingArgs returns the postings index rows of rs (two per transfer: the
// debited and the credited account), postingWidth values a row.
func postingArgs(rs []ledger.Record) []any {
	args := make([]any, 0, 2*postingWidth*len(rs))
	for _, r := range rs {
		mode := ledger.PostingMode(r.Transfer)
		var pending any
		if mode == 1 {
			pending = r.ID
		}
		t := r.Transfer
		args = append(args,
			t.Debit, r.Time, r.Seq, mode, pending, ledger.AppendPostingLine(nil, false, t.Credit, r),
			t.Credit, r.Time, r.Seq, mode, pending, ledger.AppendPostingLine(nil, true, t.Debit, r))
	}
	return args
}

// indexPostings fills the postings index of a ledger written before it
// existed: when the index is empty but transfers are journaled, every
// journal row is read once, in pages, in one transaction.
func (l *Ledger) indexPostings(ctx context.Context) error {
	var has bool
	if err := l.db.QueryRowContext(ctx, `SELECT EXISTS(SELECT 1 FROM transfers) AND NOT EXISTS(SELECT 1 FROM postings)`).Scan(&has); err != nil || !has {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	x, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer x.Rollback()
	for from := uint64(1); from <= x.head.Size; from += 10_000 {
		rows, err := x.QueryContext(ctx, `SELECT seq, entry FROM journal WHERE seq >= ? AND seq < ? ORDER BY seq`, from, from+10_000)
		if err != nil {
			return err
		}
		var recs []ledger.Record
		for rows.Next() {
			var seq uint64
			var raw []byte
			if err := rows.Scan(&seq, &raw); err != nil {
				rows.Close()
				return err
			}
			e, err := ledger.DecodeEntry(raw)
			if err != nil {
				rows.Close()
				return fmt.Errorf("journal row %d: %w: %w", seq, ledger.ErrChainBroken, err)
			}
			if e.Kind == ledger.EntryTransfer {
				recs = append(recs, ledger.Record{Transfer: e.Transfer, Seq: seq, Time: e.Time})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := x.insert(x.putPosting, x.putPostingN, postingWidth, postingArgs(recs)); err != nil {
			return err
		}
	}
	return x.Commit()
}

// reads are the prepared statements of the reads a statement makes
// (Accounts, Postings, States): prepared once, so a statement pays no SQL
// parsing.
type reads struct {
	accounts *sql.Stmt
	postings map[ledger.PostingKind]*sql.Stmt
	states   *sql.Stmt
}

func (l *Ledger) prepareReads(ctx context.Context) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = l.db.PrepareContext(ctx, q)
		return st
	}
	l.reads.accounts = prep(`SELECT id, kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM accounts WHERE id >= ? AND id < ? ORDER BY id`)
	l.reads.states = prep(`SELECT s.key, s.value FROM json_each(?) k JOIN state s ON s.key = k.value`)
	l.reads.postings = map[ledger.PostingKind]*sql.Stmt{}
	for k, q := range postingsSQL {
		l.reads.postings[k] = prep(q)
	}
	return err
}

// Accounts implements ledger.PostingReader.
func (l *Ledger) Accounts(ctx context.Context, prefix string) ([]ledger.AccountBalance, error) {
	rows, err := l.reads.accounts.QueryContext(ctx, prefix, ledger.PrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: accounts %q: %w", prefix, err)
	}
	defer rows.Close()
	var out []ledger.AccountBalance
	for rows.Next() {
		var a ledger.AccountBalance
		if err := rows.Scan(&a.ID, &a.Kind, &a.Flags, &a.CreditLimit, &a.Currency, &a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: accounts %q: %w", prefix, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: accounts %q: %w", prefix, err)
	}
	return out, nil
}

// States implements ledger.StatesReader.
func (l *Ledger) States(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	arg, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	rows, err := l.reads.states.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: states: %w", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: states: %w", err)
	}
	return out, nil
}

// postingsSQL is the Postings query for each kind; the arguments are the
// account, From, To, After.Time (twice), After.Seq and the limit.
var postingsSQL = func() map[ledger.PostingKind]string {
	const base = `SELECT p.line FROM postings p
WHERE p.account = ? AND p.time >= ? AND p.time < ? AND (p.time > ? OR p.time = ? AND p.seq > ?)`
	const tail = ` ORDER BY p.time, p.seq LIMIT ?`
	return map[ledger.PostingKind]string{
		ledger.AllPostings: base + tail,
		ledger.Posted:      base + ` AND p.mode IN (0, 2)` + tail,
		ledger.OpenPending: base + ` AND p.mode = 1 AND NOT EXISTS(SELECT 1 FROM resolved r WHERE r.target = p.pending)` + tail,
	}
}()

// Postings implements ledger.PostingReader.
func (l *Ledger) Postings(ctx context.Context, account string, q ledger.PostingQuery) ([]ledger.Line, error) {
	return ledger.CollectPostings(ctx, l.EachPosting, account, q)
}

// EachPosting implements ledger.PostingReader.
func (l *Ledger) EachPosting(ctx context.Context, account string, q ledger.PostingQuery, fn func(ledger.Line) error) error {
	st, ok := l.reads.postings[q.Only]
	if !ok {
		return fmt.Errorf("postings of %q: kind %d: %w", account, q.Only, ledger.ErrInvalid)
	}
	rows, err := st.QueryContext(ctx, postingArgsOf(account, q)...)
	if err != nil {
		return fmt.Errorf("ledger/sqlite: postings of %q: %w", account, err)
	}
	return scanLines(rows, account, q, fn)
}

// postingArgsOf returns the arguments of postingsSQL for q.
func postingArgsOf(account string, q ledger.PostingQuery) []any {
	to := q.To
	if to == 0 {
		to = math.MaxInt64
	}
	afterTime, afterSeq := int64(math.MinInt64), int64(0)
	if q.After.Seq != 0 {
		afterTime, afterSeq = q.After.Time, int64(q.After.Seq)
	}
	limit := int64(-1)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	return []any{account, q.From, to, afterTime, afterTime, afterSeq, limit}
}

// scanLines decodes the lines of rows and hands them to fn, each checked to
// be in q's window and after the one before (ledger.PostingOrder): the
// position is read from the line, not from the key the rows are sorted by.
func scanLines(rows *sql.Rows, account string, q ledger.PostingQuery, fn func(ledger.Line) error) error {
	defer rows.Close()
	var raw sql.RawBytes // DecodePostingLine copies it
	var prev ledger.Cursor
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("ledger/sqlite: postings of %q: %w", account, err)
		}
		line, err := ledger.DecodePostingLine(account, raw)
		if err == nil {
			err = ledger.PostingOrder(prev, line, q)
		}
		if err != nil {
			return fmt.Errorf("ledger/sqlite: %w", err)
		}
		prev = line.Cursor()
		if err := fn(line); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger/sqlite: postings of %q: %w", account, err)
	}
	return nil
}

var _ ledger.StatesReader = (*Ledger)(nil)
