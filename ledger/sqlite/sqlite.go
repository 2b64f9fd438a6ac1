// Package sqlite stores a Charter ledger in one SQLite database (the pure-Go
// modernc.org/sqlite driver, WAL mode).
//
// The journal table is the ledger: each row holds a canonical entry and its
// chain hash. The other tables (transfer index, resolutions, account
// balances, split carries, and the postings index on (account, time) that
// statements read) are derived from it inside the same transaction and can
// be checked against it with Replay. A batch is loaded into a
// ledger.Snapshot, run through the pure ledger.Apply, and written back in
// one SQL transaction, so a crash leaves either all of a batch or none.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/ledger"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const schema = `
CREATE TABLE IF NOT EXISTS journal(
	seq   INTEGER PRIMARY KEY,
	entry BLOB NOT NULL,
	hash  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers(
	id  TEXT PRIMARY KEY,
	seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resolved(
	target TEXT PRIMARY KEY,
	by     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts(
	id           TEXT PRIMARY KEY,
	seq          INTEGER NOT NULL,
	kind         INTEGER NOT NULL,
	flags        INTEGER NOT NULL,
	credit_limit INTEGER NOT NULL,
	currency     TEXT NOT NULL,
	dp           INTEGER NOT NULL DEFAULT 0,
	cp           INTEGER NOT NULL DEFAULT 0,
	dpend        INTEGER NOT NULL DEFAULT 0,
	cpend        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state(
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS postings(
	account TEXT NOT NULL,
	time    INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	mode    INTEGER NOT NULL,
	pending TEXT,
	line    BLOB NOT NULL,
	PRIMARY KEY(account, time, seq)
) WITHOUT ROWID;
`

// Options tune a Ledger. The zero value is the production default.
type Options struct {
	// Now stamps journal entries; time.Now when nil.
	Now func() time.Time
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (default; in WAL
	// mode a power cut may lose the last commits but never corrupts) or
	// "FULL" (every commit is durable before it returns).
	Synchronous string
}

// Ledger is a ledger.Ledger on SQLite. It is safe for concurrent use;
// writes are serialized.
type Ledger struct {
	db    *sql.DB
	stmts stmts
	reads reads
	now   func() time.Time
	mu    sync.Mutex // serializes writers within the process
}

var _ ledger.Ledger = (*Ledger)(nil)

// Open opens (creating if needed) the ledger database at path.
func Open(ctx context.Context, path string, opts *Options) (*Ledger, error) {
	if opts == nil {
		opts = &Options{}
	}
	syncMode := opts.Synchronous
	if syncMode == "" {
		syncMode = "NORMAL"
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	// A postings index of an older Charter (positions only, or the
	// transfer's fields one column each) is dropped here and filled again
	// from the journal (indexPostings).
	var old bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'postings') AND NOT EXISTS(SELECT 1 FROM pragma_table_info('postings') WHERE name = 'line')`).Scan(&old); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger/sqlite: open %s: %w", path, err)
	}
	if old {
		if _, err := db.ExecContext(ctx, `DROP TABLE postings`); err != nil {
			db.Close()
			return nil, fmt.Errorf("ledger/sqlite: upgrade the postings of %s: %w", path, err)
		}
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger/sqlite: create schema in %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	l := &Ledger{db: db, now: now}
	if err := errors.Join(l.prepare(ctx), l.prepareReads(ctx)); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger/sqlite: prepare: %w", err)
	}
	if err := l.indexPostings(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger/sqlite: index the postings of %s: %w", path, err)
	}
	return l, nil
}

// Close closes the database.
func (l *Ledger) Close() error { return l.db.Close() }

// DB returns the underlying database, for tests that tamper with it.
func (l *Ledger) DB() *sql.DB { return l.db }

// tx is one write transaction with its statements prepared.
type tx struct {
	*sql.Tx
	stmts
	ctx  context.Context
	head ledger.Root
}

// stmts are the statements a write transaction uses.
type stmts struct {
	getAccount                            *sql.Stmt
	getTransfers, getResolveds            *sql.Stmt
	getAccounts, putJournalN              *sql.Stmt
	putTransferN, putPosting, putPostingN *sql.Stmt
	putJournal, putTransfer, putResolved  *sql.Stmt
	putAccount, setBalance, putState      *sql.Stmt
	getState                              *sql.Stmt
}

// each calls f on every statement field with its SQL.
func (s *stmts) each(f func(dst **sql.Stmt, q string)) {
	f(&s.getTransfers, `SELECT t.id, j.seq, j.entry FROM json_each(?) k JOIN transfers t ON t.id = k.value JOIN journal j ON j.seq = t.seq`)
	f(&s.getResolveds, `SELECT r.target, r.by FROM json_each(?) k JOIN resolved r ON r.target = k.value`)
	f(&s.getAccounts, `SELECT a.id, kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM json_each(?) k JOIN accounts a ON a.id = k.value`)
	f(&s.putJournalN, `INSERT INTO journal(seq, entry, hash) VALUES`+values(3, insertChunk))
	f(&s.putTransferN, `INSERT INTO transfers(id, seq) VALUES`+values(2, insertChunk))
	f(&s.putPosting, `INSERT INTO postings`+postingCols+` VALUES`+values(postingWidth, 1))
	f(&s.putPostingN, `INSERT INTO postings`+postingCols+` VALUES`+values(postingWidth, insertChunk))
	f(&s.getAccount, `SELECT kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM accounts WHERE id = ?`)
	f(&s.putJournal, `INSERT INTO journal(seq, entry, hash) VALUES(?, ?, ?)`)
	f(&s.putTransfer, `INSERT INTO transfers(id, seq) VALUES(?, ?)`)
	f(&s.putResolved, `INSERT INTO resolved(target, by) VALUES(?, ?)`)
	f(&s.putAccount, `INSERT INTO accounts(id, seq, kind, flags, credit_limit, currency) VALUES(?, ?, ?, ?, ?, ?)`)
	f(&s.setBalance, `UPDATE accounts SET dp = ?, cp = ?, dpend = ?, cpend = ? WHERE id = ?`)
	f(&s.getState, `SELECT value FROM state WHERE key = ?`)
	f(&s.putState, `INSERT INTO state(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
}

func (l *Ledger) prepare(ctx context.Context) error {
	var err error
	l.stmts.each(func(dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = l.db.PrepareContext(ctx, q)
		}
	})
	return err
}

func (l *Ledger) begin(ctx context.Context) (*tx, error) {
	t, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: begin: %w", err)
	}
	x := &tx{Tx: t, ctx: ctx}
	// Statements prepared on the database are reused on the connection the
	// transaction runs on, so nothing is parsed per transaction.
	src := fields(&l.stmts)
	dst := fields(&x.stmts)
	for i := range src {
		*dst[i] = t.StmtContext(ctx, *src[i])
	}
	x.head, err = readHead(ctx, t)
	if err != nil {
		t.Rollback()
		return nil, fmt.Errorf("ledger/sqlite: begin: %w", err)
	}
	return x, nil
}

// fields lists the statement fields of s in a fixed order.
func fields(s *stmts) []**sql.Stmt {
	var out []**sql.Stmt
	s.each(func(dst **sql.Stmt, _ string) { out = append(out, dst) })
	return out
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func readHead(ctx context.Context, q queryer) (ledger.Root, error) {
	var r ledger.Root
	var h []byte
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1`).Scan(&r.Size, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Root{}, nil
	}
	if err != nil {
		return r, err
	}
	if len(h) != 32 {
		return r, fmt.Errorf("journal row %d: hash of %d bytes: %w", r.Size, len(h), ledger.ErrChainBroken)
	}
	copy(r.Hash[:], h)
	return r, nil
}

// insertChunk is the number of rows per multi-row INSERT.
const insertChunk = 128

// values returns " (?, ?), (?, ?)..." for rows rows of width columns.
func values(width, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return " " + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

// insert runs args (width values per row) through many, insertChunk rows
// at a time, and the rest through one.
func (x *tx) insert(one, many *sql.Stmt, width int, args []any) error {
	for len(args) >= width*insertChunk {
		if _, err := many.ExecContext(x.ctx, args[:width*insertChunk]...); err != nil {
			return err
		}
		args = args[width*insertChunk:]
	}
	for ; len(args) > 0; args = args[width:] {
		if _, err := one.ExecContext(x.ctx, args[:width]...); err != nil {
			return err
		}
	}
	return nil
}

// append writes entries to the journal, extending the chain.
func (x *tx) append(entries []ledger.Entry, seq0 uint64) error {
	buf := make([]byte, 0, 160*len(entries))
	args := make([]any, 0, 3*len(entries))
	for i, e := range entries {
		seq := seq0 + uint64(i) + 1
		if seq != x.head.Size+1 {
			return fmt.Errorf("journal position %d after %d", seq, x.head.Size)
		}
		start := len(buf)
		buf = e.AppendCanonical(buf)
		c := buf[start:len(buf):len(buf)]
		h := ledger.ChainHash(x.head.Hash, c)
		args = append(args, seq, c, h[:])
		x.head = ledger.Root{Size: seq, Hash: h}
	}
	return x.insert(x.putJournal, x.putJournalN, 3, args)
}

func (x *tx) loadAccount(s *ledger.Snapshot, id string) error {
	if _, ok := s.Accounts[id]; ok {
		return nil
	}
	a := &ledger.AccountBalance{}
	a.ID = id
	err := x.getAccount.QueryRowContext(x.ctx, id).Scan(&a.Kind, &a.Flags, &a.CreditLimit, &a.Currency,
		&a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	s.Accounts[id] = a
	return nil
}

// CreateAccounts implements ledger.AccountCreator.
func (l *Ledger) CreateAccounts(ctx context.Context, as ...ledger.Account) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	x, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer x.Rollback()
	s := ledger.NewSnapshot(x.head.Size)
	for _, a := range as {
		if err := x.loadAccount(s, a.ID); err != nil {
			return fmt.Errorf("ledger/sqlite: load account: %w", err)
		}
	}
	seq0 := s.Seq
	entries, err := ledger.ApplyAccounts(s, as, l.now().UnixNano())
	if err != nil {
		return err
	}
	if err := x.append(entries, seq0); err != nil {
		return fmt.Errorf("ledger/sqlite: append: %w", err)
	}
	for i, e := range entries {
		a := e.Account
		if _, err := x.putAccount.ExecContext(ctx, a.ID, seq0+uint64(i)+1, a.Kind, a.Flags, a.CreditLimit, a.Currency); err != nil {
			return fmt.Errorf("ledger/sqlite: insert account %q: %w", a.ID, err)
		}
	}
	if err := x.Commit(); err != nil {
		return fmt.Errorf("ledger/sqlite: commit: %w", err)
	}
	return nil
}

// CreateTransfers implements ledger.Poster.
func (l *Ledger) CreateTransfers(ctx context.Context, ts []ledger.Transfer) ([]ledger.Result, error) {
	return l.apply(ctx, ledger.Batch{Transfers: ts})
}

// Commit implements ledger.Committer.
func (l *Ledger) Commit(ctx context.Context, b ledger.Batch) ([]ledger.Result, error) {
	return l.apply(ctx, b)
}

// load fills s with what applying ts needs, in bulk: one query per
// loadChunk ids for transfers, resolutions and accounts.
func (x *tx) load(s *ledger.Snapshot, ts []ledger.Transfer) error {
	ids := ledger.Needs(ts)
	want := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := s.Transfers[id]; !ok {
			want = append(want, id)
		}
	}
	found := make([]string, 0)
	err := x.each(x.getTransfers, want, func(rows *sql.Rows) error {
		var id string
		var seq uint64
		var raw []byte
		if err := rows.Scan(&id, &seq, &raw); err != nil {
			return err
		}
		e, err := ledger.DecodeEntry(raw)
		if err != nil {
			return fmt.Errorf("journal row %d: %w", seq, err)
		}
		if e.Kind != ledger.EntryTransfer || e.Transfer.ID != id {
			return fmt.Errorf("journal row %d is not transfer %q: %w", seq, id, ledger.ErrChainBroken)
		}
		s.Transfers[id] = &ledger.Record{Transfer: e.Transfer, Seq: seq, Time: e.Time}
		found = append(found, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger/sqlite: load transfers: %w", err)
	}
	err = x.each(x.getResolveds, found, func(rows *sql.Rows) error {
		var target, by string
		if err := rows.Scan(&target, &by); err != nil {
			return err
		}
		s.Resolved[target] = by
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger/sqlite: load resolutions: %w", err)
	}
	accts := s.AccountsNeeded(ts)
	want = want[:0]
	seen := make(map[string]bool, 16)
	for _, id := range accts {
		if _, ok := s.Accounts[id]; !ok && !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	err = x.each(x.getAccounts, want, func(rows *sql.Rows) error {
		a := &ledger.AccountBalance{}
		if err := rows.Scan(&a.ID, &a.Kind, &a.Flags, &a.CreditLimit, &a.Currency,
			&a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending); err != nil {
			return err
		}
		s.Accounts[a.ID] = a
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger/sqlite: load accounts: %w", err)
	}
	return nil
}

const loadChunk = 2000

// each runs q (which takes a JSON array of ids) over ids in chunks.
func (x *tx) each(q *sql.Stmt, ids []string, f func(*sql.Rows) error) error {
	for len(ids) > 0 {
		n := min(len(ids), loadChunk)
		arr, err := json.Marshal(ids[:n])
		if err != nil {
			return err
		}
		ids = ids[n:]
		rows, err := q.QueryContext(x.ctx, string(arr))
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := f(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (x *tx) state(key string) ([]byte, error) {
	var v []byte
	err := x.getState.QueryRowContext(x.ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: state %q: %w", key, err)
	}
	return v, nil
}

func (l *Ledger) apply(ctx context.Context, b ledger.Batch) ([]ledger.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	x, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer x.Rollback()
	s := ledger.NewSnapshot(x.head.Size)
	seq0 := s.Seq
	load := func(ts []ledger.Transfer) error { return x.load(s, ts) }
	out, state, err := ledger.ApplyBatch(s, b, l.now().UnixNano(), load, x.state)
	if err != nil {
		return out.Results, err
	}
	entries := make([]ledger.Entry, len(out.New))
	for i, r := range out.New {
		entries[i] = ledger.Entry{Kind: ledger.EntryTransfer, Time: r.Time, Transfer: r.Transfer}
	}
	if err := x.append(entries, seq0); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: append: %w", err)
	}
	idx := make([]any, 0, 2*len(out.New))
	for _, r := range out.New {
		idx = append(idx, r.ID, r.Seq)
	}
	if err := x.insert(x.putTransfer, x.putTransferN, 2, idx); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: index transfers: %w", err)
	}
	if err := x.insert(x.putPosting, x.putPostingN, postingWidth, postingArgs(out.New)); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: index postings: %w", err)
	}
	for _, p := range out.Resolutions {
		if _, err := x.putResolved.ExecContext(ctx, p[0], p[1]); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: resolve %q: %w", p[0], err)
		}
	}
	for _, id := range out.Touched {
		a := s.Accounts[id]
		if _, err := x.setBalance.ExecContext(ctx, a.DebitsPosted, a.CreditsPosted, a.DebitsPending, a.CreditsPending, id); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: update balance of %q: %w", id, err)
		}
	}
	for k, v := range state {
		if _, err := x.putState.ExecContext(ctx, k, v); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: put state %q: %w", k, err)
		}
	}
	if err := x.Commit(); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: commit: %w", err)
	}
	return out.Results, nil
}

// State returns the value stored under key by Commit, or nil.
func (l *Ledger) State(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := l.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: state %q: %w", key, err)
	}
	return v, nil
}

// LookupAccount implements ledger.Reader.
func (l *Ledger) LookupAccount(ctx context.Context, id string) (ledger.AccountBalance, error) {
	a := ledger.AccountBalance{}
	a.ID = id
	err := l.db.QueryRowContext(ctx, `SELECT kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM accounts WHERE id = ?`, id).
		Scan(&a.Kind, &a.Flags, &a.CreditLimit, &a.Currency, &a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %q: %w", id, ledger.ErrAccountNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("ledger/sqlite: account %q: %w", id, err)
	}
	return a, nil
}

// LookupTransfer implements ledger.Reader.
func (l *Ledger) LookupTransfer(ctx context.Context, id string) (ledger.Record, error) {
	var seq uint64
	var raw []byte
	err := l.db.QueryRowContext(ctx, `SELECT j.seq, j.entry FROM transfers t JOIN journal j ON j.seq = t.seq WHERE t.id = ?`, id).Scan(&seq, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Record{}, fmt.Errorf("transfer %q: %w", id, ledger.ErrTransferNotFound)
	}
	if err != nil {
		return ledger.Record{}, fmt.Errorf("ledger/sqlite: transfer %q: %w", id, err)
	}
	e, err := ledger.DecodeEntry(raw)
	if err != nil {
		return ledger.Record{}, fmt.Errorf("ledger/sqlite: journal row %d: %w", seq, err)
	}
	return ledger.Record{Transfer: e.Transfer, Seq: seq, Time: e.Time}, nil
}

// Balances implements ledger.Reader.
func (l *Ledger) Balances(ctx context.Context) (map[string]ledger.Balance, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, dp, cp, dpend, cpend FROM accounts`)
	if err != nil {
		return nil, fmt.Errorf("ledger/sqlite: balances: %w", err)
	}
	defer rows.Close()
	m := make(map[string]ledger.Balance)
	for rows.Next() {
		var id string
		var b ledger.Balance
		if err := rows.Scan(&id, &b.DebitsPosted, &b.CreditsPosted, &b.DebitsPending, &b.CreditsPending); err != nil {
			return nil, fmt.Errorf("ledger/sqlite: balances: %w", err)
		}
		m[id] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger/sqlite: balances: %w", err)
	}
	return m, nil
}

// JournalRoot implements ledger.Journal.
func (l *Ledger) JournalRoot(ctx context.Context) (ledger.Root, error) {
	r, err := readHead(ctx, l.db)
	if err != nil {
		return r, fmt.Errorf("ledger/sqlite: journal root: %w", err)
	}
	return r, nil
}

// Entries implements ledger.Journal. Rows that do not decode are reported
// as errors wrapping ledger.ErrChainBroken.
func (l *Ledger) Entries(ctx context.Context, from uint64) iter.Seq2[ledger.JournalRow, error] {
	return func(yield func(ledger.JournalRow, error) bool) {
		if from == 0 {
			from = 1
		}
		rows, err := l.db.QueryContext(ctx, `SELECT seq, entry, hash FROM journal WHERE seq >= ? ORDER BY seq`, from)
		if err != nil {
			yield(ledger.JournalRow{}, fmt.Errorf("ledger/sqlite: journal: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r ledger.JournalRow
			var raw, h []byte
			if err := rows.Scan(&r.Seq, &raw, &h); err != nil {
				yield(r, fmt.Errorf("ledger/sqlite: journal: %w", err))
				return
			}
			e, err := ledger.DecodeEntry(raw)
			if err != nil {
				yield(r, fmt.Errorf("journal row %d: %w: %w", r.Seq, ledger.ErrChainBroken, err))
				return
			}
			if len(h) != 32 {
				yield(r, fmt.Errorf("journal row %d: hash of %d bytes: %w", r.Seq, len(h), ledger.ErrChainBroken))
				return
			}
			r.Entry = e
			copy(r.Hash[:], h)
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(ledger.JournalRow{}, fmt.Errorf("ledger/sqlite: journal: %w", err))
		}
	}
}

// VerifyChain implements ledger.Journal.
func (l *Ledger) VerifyChain(ctx context.Context) (ledger.Root, error) {
	return ledger.VerifyRows(l.Entries(ctx, 1))
}

// Replay implements ledger.Journal.
func (l *Ledger) Replay(ctx context.Context) (map[string]ledger.Balance, error) {
	b, _, err := ledger.Replay(l.Entries(ctx, 1))
	return b, err
}
