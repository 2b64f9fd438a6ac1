// Package postgres stores a Charter ledger in PostgreSQL (pgx), for
// deployments that outgrow the embedded SQLite file.
//
// The layout and the flow are those of ledger/sqlite: the journal table is
// the ledger, the other tables are derived from it in the same transaction,
// and a batch is loaded into a ledger.Snapshot, run through the pure
// ledger.Apply and written back.
//
// A Ledger holds a pgx connection pool. Readers run concurrently, each on
// its own pooled connection and MVCC snapshot. Writers run at READ
// COMMITTED and take one transaction-scoped advisory lock per schema
// before they read the journal head: the hash chain makes the journal one
// sequence, so every write conflicts with every other on its head, and a
// lock queue orders them without the aborts and retries SERIALIZABLE would
// give every concurrent pair (see docs/design/ledger.md). The lock holds
// across processes, so any number of servers append to one chain in order;
// account rows are also locked (FOR UPDATE) while a batch reads them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const schema = `
CREATE TABLE IF NOT EXISTS journal(
	seq   BIGINT PRIMARY KEY,
	entry BYTEA NOT NULL,
	hash  BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers(
	id  TEXT PRIMARY KEY,
	seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS resolved(
	target TEXT PRIMARY KEY,
	by     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts(
	id           TEXT COLLATE "C" PRIMARY KEY,
	seq          BIGINT NOT NULL,
	kind         SMALLINT NOT NULL,
	flags        BIGINT NOT NULL,
	credit_limit BIGINT NOT NULL,
	currency     TEXT NOT NULL,
	dp           BIGINT NOT NULL DEFAULT 0,
	cp           BIGINT NOT NULL DEFAULT 0,
	dpend        BIGINT NOT NULL DEFAULT 0,
	cpend        BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS state(
	key   TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS postings(
	account    TEXT COLLATE "C" NOT NULL,
	time       BIGINT NOT NULL,
	seq        BIGINT NOT NULL,
	mode       SMALLINT NOT NULL,
	pending    TEXT,
	line       BYTEA NOT NULL,
	PRIMARY KEY(account, time, seq)
);
`

// Options tune a Ledger.
type Options struct {
	// Now stamps journal entries; time.Now when nil.
	Now func() time.Time
	// Schema is the PostgreSQL schema holding the tables ("charter_ledger"
	// when empty); it is created if missing.
	Schema string
	// MaxConns caps the pool (pgx's default, the larger of 4 and the
	// number of CPUs, when 0; a pool_max_conns in the DSN also works).
	MaxConns int32
}

// Ledger is a ledger.Ledger on PostgreSQL. It is safe for concurrent use.
type Ledger struct {
	pool *pgxpool.Pool
	now  func() time.Time
	lock int64 // advisory lock key serializing writers of this schema
}

var _ ledger.Ledger = (*Ledger)(nil)

// Open connects to the database at dsn (a libpq URL or key=value string)
// and creates the ledger's schema and tables if needed.
func Open(ctx context.Context, dsn string, opts *Options) (*Ledger, error) {
	if opts == nil {
		opts = &Options{}
	}
	sch := opts.Schema
	if sch == "" {
		sch = "charter_ledger"
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: %w\nhint: pass a URL such as postgres://user@host:5432/db", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = sch
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: %w", err)
	}
	// The schema's tables are created under the writers' lock, so that
	// servers starting together do not race on CREATE TABLE IF NOT EXISTS.
	h := fnv.New64a()
	h.Write([]byte("charter-ledger:" + sch))
	l := &Ledger{pool: pool, now: opts.Now, lock: int64(h.Sum64())}
	if l.now == nil {
		l.now = time.Now
	}
	if err := l.create(ctx, sch); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger/postgres: create schema %s: %w", sch, err)
	}
	if err := l.indexPostings(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger/postgres: index the postings of schema %s: %w", sch, err)
	}
	return l, nil
}

func (l *Ledger) create(ctx context.Context, sch string) error {
	t, err := l.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer t.Rollback(ctx)
	if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, l.lock); err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{sch}.Sanitize()); err != nil {
		return err
	}
	// A postings index of an older Charter (positions only, or the
	// transfer's fields one column each) is dropped and filled again from
	// the journal (indexPostings).
	var old bool
	if err := t.QueryRow(ctx, `SELECT EXISTS(SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'postings')
		AND NOT EXISTS(SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'postings' AND column_name = 'line')`, sch).Scan(&old); err != nil {
		return err
	}
	if old {
		if _, err := t.Exec(ctx, `DROP TABLE `+pgx.Identifier{sch, "postings"}.Sanitize()); err != nil {
			return err
		}
	}
	if _, err := t.Exec(ctx, schema); err != nil {
		return err
	}
	return t.Commit(ctx)
}

// Close closes the pool.
func (l *Ledger) Close() error {
	l.pool.Close()
	return nil
}

// Exec runs a statement on a pooled connection, for tests that tamper with
// the tables.
func (l *Ledger) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := l.pool.Exec(ctx, sql, args...)
	return err
}

type tx struct {
	pgx.Tx
	ctx  context.Context
	head ledger.Root
}

func (l *Ledger) begin(ctx context.Context) (*tx, error) {
	t, err := l.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: begin: %w", err)
	}
	x := &tx{Tx: t, ctx: ctx}
	if _, err = t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, l.lock); err == nil {
		x.head, err = readHead(ctx, t)
	}
	if err != nil {
		t.Rollback(ctx)
		return nil, fmt.Errorf("ledger/postgres: begin: %w", err)
	}
	return x, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func readHead(ctx context.Context, q querier) (ledger.Root, error) {
	var r ledger.Root
	var seq int64
	var h []byte
	err := q.QueryRow(ctx, `SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Root{}, nil
	}
	if err != nil {
		return r, err
	}
	if len(h) != 32 {
		return r, fmt.Errorf("journal row %d: hash of %d bytes: %w", seq, len(h), ledger.ErrChainBroken)
	}
	r.Size = uint64(seq)
	copy(r.Hash[:], h)
	return r, nil
}

// append writes entries to the journal, extending the chain.
func (x *tx) append(entries []ledger.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	seqs := make([]int64, len(entries))
	blobs := make([][]byte, len(entries))
	hashes := make([][]byte, len(entries))
	buf := make([]byte, 0, 160*len(entries))
	for i, e := range entries {
		start := len(buf)
		buf = e.AppendCanonical(buf)
		c := buf[start:len(buf):len(buf)]
		h := ledger.ChainHash(x.head.Hash, c)
		x.head = ledger.Root{Size: x.head.Size + 1, Hash: h}
		seqs[i], blobs[i], hashes[i] = int64(x.head.Size), c, h[:]
	}
	return x.insertRows("journal", []string{"seq", "entry", "hash"}, len(seqs), func(i int) []any { return []any{seqs[i], blobs[i], hashes[i]} },
		`INSERT INTO journal(seq, entry, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`, seqs, blobs, hashes)
}

// copyMin is the number of rows from which insertRows uses COPY, whose
// per-call cost (a round trip to learn the column types) a large batch
// repays many times over.
const copyMin = 256

// insertRows inserts n rows into table: with COPY when there are many,
// else with one INSERT … SELECT FROM unnest(arrays).
func (x *tx) insertRows(table string, cols []string, n int, row func(int) []any, unnestSQL string, arrays ...any) error {
	if n == 0 {
		return nil
	}
	if n >= copyMin {
		_, err := x.CopyFrom(x.ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		return err
	}
	_, err := x.Exec(x.ctx, unnestSQL, arrays...)
	return err
}

func (x *tx) load(s *ledger.Snapshot, ts []ledger.Transfer) error {
	var want []string
	for _, id := range ledger.Needs(ts) {
		if _, ok := s.Transfers[id]; !ok {
			want = append(want, id)
		}
	}
	var found []string
	if len(want) > 0 {
		rows, err := x.Query(x.ctx, `SELECT t.id, j.seq, j.entry FROM transfers t JOIN journal j ON j.seq = t.seq WHERE t.id = ANY($1)`, want)
		if err != nil {
			return fmt.Errorf("ledger/postgres: load transfers: %w", err)
		}
		for rows.Next() {
			var id string
			var seq int64
			var raw []byte
			if err := rows.Scan(&id, &seq, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("ledger/postgres: load transfers: %w", err)
			}
			e, err := ledger.DecodeEntry(raw)
			if err == nil && (e.Kind != ledger.EntryTransfer || e.Transfer.ID != id) {
				err = fmt.Errorf("not transfer %q: %w", id, ledger.ErrChainBroken)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("ledger/postgres: journal row %d: %w", seq, err)
			}
			s.Transfers[id] = &ledger.Record{Transfer: e.Transfer, Seq: uint64(seq), Time: e.Time}
			found = append(found, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ledger/postgres: load transfers: %w", err)
		}
	}
	if len(found) > 0 {
		rows, err := x.Query(x.ctx, `SELECT target, by FROM resolved WHERE target = ANY($1)`, found)
		if err != nil {
			return fmt.Errorf("ledger/postgres: load resolutions: %w", err)
		}
		for rows.Next() {
			var target, by string
			if err := rows.Scan(&target, &by); err != nil {
				rows.Close()
				return fmt.Errorf("ledger/postgres: load resolutions: %w", err)
			}
			s.Resolved[target] = by
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ledger/postgres: load resolutions: %w", err)
		}
	}
	var accts []string
	seen := map[string]bool{}
	for _, id := range s.AccountsNeeded(ts) {
		if _, ok := s.Accounts[id]; !ok && !seen[id] {
			seen[id] = true
			accts = append(accts, id)
		}
	}
	return x.loadAccounts(s, accts)
}

func (x *tx) loadAccounts(s *ledger.Snapshot, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// FOR UPDATE is redundant under the advisory lock but keeps writers
	// outside this package from changing balances under us.
	rows, err := x.Query(x.ctx, `SELECT id, kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM accounts WHERE id = ANY($1) FOR UPDATE`, ids)
	if err != nil {
		return fmt.Errorf("ledger/postgres: load accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a := &ledger.AccountBalance{}
		var kind int16
		var flags int64
		if err := rows.Scan(&a.ID, &kind, &flags, &a.CreditLimit, &a.Currency, &a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending); err != nil {
			return fmt.Errorf("ledger/postgres: load accounts: %w", err)
		}
		a.Kind, a.Flags = ledger.AccountKind(kind), ledger.AccountFlags(flags)
		s.Accounts[a.ID] = a
	}
	return rows.Err()
}

func (x *tx) state(key string) ([]byte, error) {
	var v []byte
	err := x.QueryRow(x.ctx, `SELECT value FROM state WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: state %q: %w", key, err)
	}
	return v, nil
}

// CreateAccounts implements ledger.AccountCreator.
func (l *Ledger) CreateAccounts(ctx context.Context, as ...ledger.Account) error {
	x, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer x.Rollback(ctx)
	s := ledger.NewSnapshot(x.head.Size)
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	if err := x.loadAccounts(s, ids); err != nil {
		return err
	}
	seq0 := s.Seq
	entries, err := ledger.ApplyAccounts(s, as, l.now().UnixNano())
	if err != nil {
		return err
	}
	if err := x.append(entries); err != nil {
		return fmt.Errorf("ledger/postgres: append: %w", err)
	}
	for i, e := range entries {
		a := e.Account
		if _, err := x.Exec(ctx, `INSERT INTO accounts(id, seq, kind, flags, credit_limit, currency) VALUES($1, $2, $3, $4, $5, $6)`,
			a.ID, int64(seq0)+int64(i)+1, int16(a.Kind), int64(a.Flags), a.CreditLimit, a.Currency); err != nil {
			return fmt.Errorf("ledger/postgres: insert account %q: %w", a.ID, err)
		}
	}
	if err := x.Commit(ctx); err != nil {
		return fmt.Errorf("ledger/postgres: commit: %w", err)
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

func (l *Ledger) apply(ctx context.Context, b ledger.Batch) ([]ledger.Result, error) {
	x, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer x.Rollback(ctx)
	s := ledger.NewSnapshot(x.head.Size)
	load := func(ts []ledger.Transfer) error { return x.load(s, ts) }
	out, state, err := ledger.ApplyBatch(s, b, l.now().UnixNano(), load, x.state)
	if err != nil {
		return out.Results, err
	}
	entries := make([]ledger.Entry, len(out.New))
	ids := make([]string, len(out.New))
	seqs := make([]int64, len(out.New))
	for i, r := range out.New {
		entries[i] = ledger.Entry{Kind: ledger.EntryTransfer, Time: r.Time, Transfer: r.Transfer}
		ids[i], seqs[i] = r.ID, int64(r.Seq)
	}
	if err := x.append(entries); err != nil {
		return nil, fmt.Errorf("ledger/postgres: append: %w", err)
	}
	if len(ids) > 0 {
		if err := x.insertRows("transfers", []string{"id", "seq"}, len(ids), func(i int) []any { return []any{ids[i], seqs[i]} },
			`INSERT INTO transfers(id, seq) SELECT * FROM unnest($1::text[], $2::bigint[])`, ids, seqs); err != nil {
			return nil, fmt.Errorf("ledger/postgres: index transfers: %w", err)
		}
		if err := x.indexPostings(out.New); err != nil {
			return nil, fmt.Errorf("ledger/postgres: index postings: %w", err)
		}
	}
	if len(out.Resolutions) > 0 {
		targets, bys := make([]string, len(out.Resolutions)), make([]string, len(out.Resolutions))
		for i, p := range out.Resolutions {
			targets[i], bys[i] = p[0], p[1]
		}
		if _, err := x.Exec(ctx, `INSERT INTO resolved(target, by) SELECT * FROM unnest($1::text[], $2::text[])`, targets, bys); err != nil {
			return nil, fmt.Errorf("ledger/postgres: resolutions: %w", err)
		}
	}
	if n := len(out.Touched); n > 0 {
		seen := make(map[string]bool, n)
		var aid []string
		var dp, cp, dpend, cpend []int64
		for _, id := range out.Touched {
			if seen[id] {
				continue
			}
			seen[id] = true
			a := s.Accounts[id]
			aid = append(aid, id)
			dp, cp = append(dp, a.DebitsPosted), append(cp, a.CreditsPosted)
			dpend, cpend = append(dpend, a.DebitsPending), append(cpend, a.CreditsPending)
		}
		if _, err := x.Exec(ctx, `UPDATE accounts a SET dp = u.dp, cp = u.cp, dpend = u.dpend, cpend = u.cpend
			FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, dp, cp, dpend, cpend)
			WHERE a.id = u.id`, aid, dp, cp, dpend, cpend); err != nil {
			return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
		}
	}
	for k, v := range state {
		if _, err := x.Exec(ctx, `INSERT INTO state(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return nil, fmt.Errorf("ledger/postgres: put state %q: %w", k, err)
		}
	}
	if err := x.Commit(ctx); err != nil {
		return nil, fmt.Errorf("ledger/postgres: commit: %w", err)
	}
	return out.Results, nil
}

// State implements ledger.Committer.
func (l *Ledger) State(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := l.pool.QueryRow(ctx, `SELECT value FROM state WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: state %q: %w", key, err)
	}
	return v, nil
}

// LookupAccount implements ledger.Reader.
func (l *Ledger) LookupAccount(ctx context.Context, id string) (ledger.AccountBalance, error) {
	a := ledger.AccountBalance{}
	a.ID = id
	var kind int16
	var flags int64
	err := l.pool.QueryRow(ctx, `SELECT kind, flags, credit_limit, currency, dp, cp, dpend, cpend FROM accounts WHERE id = $1`, id).
		Scan(&kind, &flags, &a.CreditLimit, &a.Currency, &a.DebitsPosted, &a.CreditsPosted, &a.DebitsPending, &a.CreditsPending)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("account %q: %w", id, ledger.ErrAccountNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("ledger/postgres: account %q: %w", id, err)
	}
	a.Kind, a.Flags = ledger.AccountKind(kind), ledger.AccountFlags(flags)
	return a, nil
}

// LookupTransfer implements ledger.Reader.
func (l *Ledger) LookupTransfer(ctx context.Context, id string) (ledger.Record, error) {
	var seq int64
	var raw []byte
	err := l.pool.QueryRow(ctx, `SELECT j.seq, j.entry FROM transfers t JOIN journal j ON j.seq = t.seq WHERE t.id = $1`, id).Scan(&seq, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Record{}, fmt.Errorf("transfer %q: %w", id, ledger.ErrTransferNotFound)
	}
	if err != nil {
		return ledger.Record{}, fmt.Errorf("ledger/postgres: transfer %q: %w", id, err)
	}
	e, err := ledger.DecodeEntry(raw)
	if err != nil {
		return ledger.Record{}, fmt.Errorf("ledger/postgres: journal row %d: %w", seq, err)
	}
	return ledger.Record{Transfer: e.Transfer, Seq: uint64(seq), Time: e.Time}, nil
}

// Balances implements ledger.Reader.
func (l *Ledger) Balances(ctx context.Context) (map[string]ledger.Balance, error) {
	rows, err := l.pool.Query(ctx, `SELECT id, dp, cp, dpend, cpend FROM accounts`)
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
	}
	defer rows.Close()
	m := make(map[string]ledger.Balance)
	for rows.Next() {
		var id string
		var b ledger.Balance
		if err := rows.Scan(&id, &b.DebitsPosted, &b.CreditsPosted, &b.DebitsPending, &b.CreditsPending); err != nil {
			return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
		}
		m[id] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger/postgres: balances: %w", err)
	}
	return m, nil
}

// JournalRoot implements ledger.Journal.
func (l *Ledger) JournalRoot(ctx context.Context) (ledger.Root, error) {
	r, err := readHead(ctx, l.pool)
	if err != nil {
		return r, fmt.Errorf("ledger/postgres: journal root: %w", err)
	}
	return r, nil
}

// Entries implements ledger.Journal. It reads in pages of 10,000 rows.
func (l *Ledger) Entries(ctx context.Context, from uint64) iter.Seq2[ledger.JournalRow, error] {
	return func(yield func(ledger.JournalRow, error) bool) {
		if from == 0 {
			from = 1
		}
		for {
			page, bad := l.page(ctx, from)
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if bad != nil {
				yield(ledger.JournalRow{}, bad)
				return
			}
			if len(page) < 10000 {
				return
			}
			from = page[len(page)-1].Seq + 1
		}
	}
}

// page reads up to 10,000 journal rows from seq from on, holding a pooled
// connection only while it reads.
func (l *Ledger) page(ctx context.Context, from uint64) ([]ledger.JournalRow, error) {
	rows, err := l.pool.Query(ctx, `SELECT seq, entry, hash FROM journal WHERE seq >= $1 ORDER BY seq LIMIT 10000`, int64(from))
	if err != nil {
		return nil, fmt.Errorf("ledger/postgres: journal: %w", err)
	}
	var page []ledger.JournalRow
	var bad error
	{
		{
			for rows.Next() {
				var seq int64
				var raw, h []byte
				if err := rows.Scan(&seq, &raw, &h); err != nil {
					bad = fmt.Errorf("ledger/postgres: journal: %w", err)
					break
				}
				e, err := ledger.DecodeEntry(raw)
				if err != nil {
					bad = fmt.Errorf("journal row %d: %w: %w", seq, ledger.ErrChainBroken, err)
					break
				}
				if len(h) != 32 {
					bad = fmt.Errorf("journal row %d: hash of %d bytes: %w", seq, len(h), ledger.ErrChainBroken)
					break
				}
				r := ledger.JournalRow{Seq: uint64(seq), Entry: e}
				copy(r.Hash[:], h)
				page = append(page, r)
			}
			rows.Close()
			if bad == nil {
				bad = rows.Err()
			}
		}
	}
	return page, bad
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
