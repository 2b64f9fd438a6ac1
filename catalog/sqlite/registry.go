package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

const registrySchema = `
CREATE TABLE IF NOT EXISTS log_applied (
	idx INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS log_watermark (
	id   INTEGER PRIMARY KEY CHECK (id = 0),
	next INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
	asset     TEXT PRIMARY KEY,
	content   TEXT NOT NULL,
	state     TEXT NOT NULL,
	claim     TEXT NOT NULL,
	priority  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	name      TEXT NOT NULL,
	media     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assets_content ON assets(content, log_index);
CREATE TABLE IF NOT EXISTS lineage (
	child    TEXT NOT NULL,
	parent   TEXT NOT NULL,
	royalty  INTEGER NOT NULL,
	stacking TEXT NOT NULL,
	PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS lineage_parent ON lineage(parent);
CREATE TABLE IF NOT EXISTS proposals (
	proposal  TEXT PRIMARY KEY,
	asset     TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	status    TEXT NOT NULL,
	log_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
	proposal  TEXT NOT NULL,
	approver  TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	PRIMARY KEY (proposal, approver)
);
CREATE TABLE IF NOT EXISTS trail (
	asset     TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	type      TEXT NOT NULL,
	summary   TEXT NOT NULL,
	PRIMARY KEY (asset, log_index)
);
`

// Tx is one catalog transaction: everything an applied log entry changes,
// together with the record that the entry is applied.
type Tx struct {
	tx  *sql.Tx
	ctx context.Context
	c   *Catalog
	b   *batch // nil outside UpdateSeq
}

// batch is what the Tx values of one UpdateSeq transaction share.
type batch struct {
	// stmts are the transaction's statements by query text: database/sql
	// makes a new statement on every sql.Tx.StmtContext and keeps it
	// until the transaction ends.
	stmts map[string]*sql.Stmt
	// next is the watermark as this transaction has moved it: every entry
	// below is applied.
	next int64
	// above are the entries at or above next that log_applied records
	// (those of the batch's range as the transaction began, and those
	// recorded since).
	above map[int64]bool
	// cur is the entry being applied; marks are the entries MarkApplied
	// recorded for it, which join above when its savepoint is released.
	cur   int64
	marks []int64
}

// stmt returns the catalog's prepared statement for query, preparing it
// once: modernc's SQLite prepares every unprepared statement anew, which
// cost a tenth of a grant's CPU.
func (c *Catalog) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.prepared(ctx, c.db, &c.stmts, query)
}

// prepared returns db's prepared statement for query from cache.
func (c *Catalog) prepared(ctx context.Context, db *sql.DB, cache *map[string]*sql.Stmt, query string) (*sql.Stmt, error) {
	c.stmtMu.Lock()
	defer c.stmtMu.Unlock()
	if s, ok := (*cache)[query]; ok {
		return s, nil
	}
	s, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if *cache == nil {
		*cache = map[string]*sql.Stmt{}
	}
	(*cache)[query] = s
	return s, nil
}

// queryRow runs a one-row query outside a transaction on a reader
// connection, through the statement cache.
func (c *Catalog) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.prepared(ctx, c.rdb, &c.rstmts, query)
	if err != nil {
		return c.rdb.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// query runs a query outside a transaction on a reader connection,
// through the statement cache. The caller must not query again before it
// closes the rows: readers are few.
func (c *Catalog) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.prepared(ctx, c.rdb, &c.rstmts, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// stmt returns the transaction's statement for query.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if t.b != nil {
		if ts, ok := t.b.stmts[query]; ok {
			return ts, nil
		}
	}
	s, err := t.c.stmt(t.ctx, query)
	if err != nil {
		return nil, err
	}
	ts := t.tx.StmtContext(t.ctx, s)
	if t.b != nil {
		t.b.stmts[query] = ts
	}
	return ts, nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(t.ctx, args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	s, err := t.stmt(query)
	if err != nil {
		return t.tx.QueryRowContext(t.ctx, query, args...)
	}
	return s.QueryRowContext(t.ctx, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(t.ctx, args...)
}

// Update runs fn in a transaction that also records log entry index as
// applied. If index is already applied, fn is not run and Update returns
// catalog.ErrApplied. If fn fails with an error wrapping
// catalog.ErrNoEffect, its changes are undone, the entry is still recorded
// as applied and Update returns that error.
func (c *Catalog) Update(ctx context.Context, index uint64, fn func(catalog.Tx) error) error {
	return c.UpdateSeq(ctx, []catalog.Change{{Index: index, Fn: fn}})[0]
}

// UpdateSeq is Update for several entries, applied in the order given (each
// in its own savepoint, sharing transactions with other callers), so that a
// caller feeding entries in log order gets them applied in log order. It
// returns one error per change.
func (c *Catalog) UpdateSeq(ctx context.Context, changes []catalog.Change) []error {
	ctx = context.WithoutCancel(ctx)
	us := make([]*update, len(changes))
	for i, ch := range changes {
		us[i] = &update{ctx: ctx, index: ch.Index, fn: ch.Fn, done: make(chan struct{})}
	}
	c.pendMu.Lock()
	c.pending = append(c.pending, us...)
	leader := !c.committing
	c.committing = true
	c.pendMu.Unlock()
	if leader {
		c.commitPending()
	}
	errs := make([]error, len(us))
	for i, u := range us {
		<-u.done
		errs[i] = u.err
	}
	return errs
}

// update is one caller's change waiting to be committed.
type update struct {
	ctx   context.Context
	index uint64
	fn    func(catalog.Tx) error
	err   error
	ok    bool
	done  chan struct{}
}

// commitPending commits the waiting updates, a batch per transaction,
// until none wait (group commit: the first waiting caller leads). One
// writer at a time, queued in Go: SQLite's own busy handler sleeps between
// retries, which wastes most of the time under load. Each update runs in
// a savepoint, so one that fails is undone alone.
func (c *Catalog) commitPending() {
	for {
		c.pendMu.Lock()
		batch := c.pending
		c.pending = nil
		if len(batch) == 0 {
			c.committing = false
			c.pendMu.Unlock()
			return
		}
		c.pendMu.Unlock()
		c.commitBatch(batch)
		for _, u := range batch {
			close(u.done)
		}
	}
}

// commitBatch applies a batch in one transaction. The watermark moves in
// memory while the batch applies: an entry at the watermark that applies
// moves it on without touching log_applied, which holds only entries
// applied out of order (after a gap, or riding along with another). The
// watermark row is written once, at the end.
func (c *Catalog) commitBatch(us []*update) {
	fail := func(err error) {
		for _, u := range us {
			if u.err == nil {
				u.err = err
			}
		}
	}
	ctx := context.Background()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tx, err := c.applier.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("catalog: begin: %w", err))
		return
	}
	defer tx.Rollback()
	b := &batch{stmts: map[string]*sql.Stmt{}, above: map[int64]bool{}}
	t0 := &Tx{tx: tx, ctx: ctx, c: c, b: b}
	if err := t0.queryRow(`SELECT next FROM log_watermark WHERE id = 0`).Scan(&b.next); err != nil && !errors.Is(err, sql.ErrNoRows) {
		fail(fmt.Errorf("catalog: watermark: %w", err))
		return
	}
	start := b.next
	lo, hi := int64(us[0].index), int64(us[0].index)
	for _, u := range us {
		lo, hi = min(lo, int64(u.index)), max(hi, int64(u.index))
	}
	if err := b.load(t0, lo, hi); err != nil {
		fail(fmt.Errorf("catalog: applied entries: %w", err))
		return
	}
	for _, u := range us {
		i := int64(u.index)
		if i < b.next || b.above[i] {
			u.err = catalog.ErrApplied
			continue
		}
		if _, err := t0.exec(`SAVEPOINT upd`); err != nil {
			fail(fmt.Errorf("catalog: savepoint: %w", err))
			return
		}
		b.cur, b.marks = i, b.marks[:0]
		var err error
		if u.fn != nil { // nil: no catalog effect, only marked applied
			err = u.fn(&Tx{tx: tx, ctx: u.ctx, c: c, b: b})
		}
		if err != nil {
			u.err = err
			if _, rerr := t0.exec(`ROLLBACK TO upd`); rerr != nil {
				fail(fmt.Errorf("catalog: rollback to savepoint: %w", rerr))
				return
			}
			b.marks = b.marks[:0] // undone with the rest
		}
		// Undone but applied (no effect): replay must not stop on it.
		u.ok = err == nil || errors.Is(err, catalog.ErrNoEffect)
		if _, err := t0.exec(`RELEASE upd`); err != nil {
			fail(fmt.Errorf("catalog: release savepoint: %w", err))
			return
		}
		for _, m := range b.marks {
			b.above[m] = true
		}
		switch {
		case !u.ok:
		case i == b.next:
			b.next++
		default:
			if _, err := t0.exec(`INSERT INTO log_applied(idx) VALUES(?) ON CONFLICT DO NOTHING`, i); err != nil {
				fail(fmt.Errorf("catalog: mark applied: %w", err))
				return
			}
			b.above[i] = true
		}
		if err := b.advance(t0); err != nil {
			fail(err)
			return
		}
	}
	// Entries log_applied recorded outside the batch's range before it
	// began.
	for {
		var ok int
		err := t0.queryRow(`SELECT 1 FROM log_applied WHERE idx = ?`, b.next).Scan(&ok)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			fail(err)
			return
		}
		b.above[b.next] = true
		if err := b.advance(t0); err != nil {
			fail(err)
			return
		}
	}
	if b.next != start {
		if _, err := t0.exec(`INSERT INTO log_watermark(id, next) VALUES(0, ?) ON CONFLICT(id) DO UPDATE SET next = excluded.next`, b.next); err != nil {
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, u := range us {
			if u.ok {
				u.err = fmt.Errorf("catalog: commit: %w", err)
			}
		}
		return
	}
	c.walWritten()
}

// load reads which entries in [lo, hi] log_applied records.
func (b *batch) load(t *Tx, lo, hi int64) error {
	rows, err := t.query(`SELECT idx FROM log_applied WHERE idx >= ? AND idx <= ?`, lo, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return err
		}
		b.above[i] = true
	}
	return rows.Err()
}

// advance moves the watermark over the entries log_applied records at it,
// dropping their rows: below the watermark, everything is applied.
func (b *batch) advance(t *Tx) error {
	for b.above[b.next] {
		if _, err := t.exec(`DELETE FROM log_applied WHERE idx = ?`, b.next); err != nil {
			return fmt.Errorf("catalog: advance watermark: %w", err)
		}
		delete(b.above, b.next)
		b.next++
	}
	return nil
}

// Applied reports where replay must start (every entry below is applied)
// and which entries at or above it are applied already.
func (c *Catalog) Applied(ctx context.Context) (next uint64, above map[uint64]bool, err error) {
	var n int64
	if err := c.db.QueryRowContext(ctx, `SELECT next FROM log_watermark WHERE id = 0`).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT idx FROM log_applied`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	above = map[uint64]bool{}
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return 0, nil, err
		}
		above[uint64(i)] = true
	}
	return uint64(n), above, rows.Err()
}

// MarkApplied records another log entry as applied in this transaction: an
// entry with no catalog effect of its own whose application rides along
// with this one (a grant's decision record). Already applied is fine.
func (t *Tx) MarkApplied(index uint64) error {
	if b := t.b; b != nil {
		i := int64(index)
		if i < b.next || b.above[i] || i == b.cur {
			return nil
		}
		if _, err := t.exec(`INSERT INTO log_applied(idx) VALUES(?) ON CONFLICT DO NOTHING`, i); err != nil {
			return err
		}
		b.marks = append(b.marks, i)
		return nil
	}
	_, err := t.exec(`INSERT INTO log_applied(idx) SELECT ? WHERE ? >= COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0) ON CONFLICT DO NOTHING`, int64(index), int64(index))
	return err
}

// PutAsset records a newly registered asset and its lineage. An asset
// recorded already is kept as it is (a duplicate registration is a no-op).
func (t *Tx) PutAsset(r catalog.AssetRecord) error {
	st, err := json.Marshal(r.State)
	if err != nil {
		return err
	}
	m := r.State.Manifest
	_, err = t.exec(`INSERT INTO assets(asset, content, state, claim, priority, log_index, name, media) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		r.State.Asset.String(), m.Content.String(), string(st), r.Claim, r.Priority.String(), int64(r.LogIndex), m.Name, m.MediaType)
	if err != nil {
		return fmt.Errorf("catalog: put asset %s: %w", r.State.Asset, err)
	}
	for _, p := range m.Parents {
		if _, err := t.exec(`INSERT INTO lineage(child, parent, royalty, stacking) VALUES(?,?,?,?) ON CONFLICT DO NOTHING`,
			r.State.Asset.String(), p.Asset.String(), int64(p.Royalty), string(p.Stacking)); err != nil {
			return fmt.Errorf("catalog: lineage of %s: %w", r.State.Asset, err)
		}
	}
	return t.putOwners(r.State, r.LogIndex)
}

// SetState replaces the governed state of an asset.
func (t *Tx) SetState(s *asset.State) error {
	st, err := json.Marshal(s)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE assets SET state = ? WHERE asset = ?`, string(st), s.Asset.String())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("asset %s: %w", s.Asset, catalog.ErrNotFound)
	}
	return t.setOwners(s)
}

// Trail adds an entry to an asset's audit trail.
func (t *Tx) Trail(a asset.ID, index uint64, typ, summary string) error {
	_, err := t.exec(`INSERT INTO trail(asset, log_index, type, summary) VALUES(?,?,?,?) ON CONFLICT DO NOTHING`, a.String(), int64(index), typ, summary)
	return err
}

// PutProposal records a proposal envelope; one recorded already is kept.
func (t *Tx) PutProposal(id, a asset.ID, envelope []byte, status string, index uint64) error {
	_, err := t.exec(`INSERT INTO proposals(proposal, asset, envelope, status, log_index) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING`,
		id.String(), a.String(), string(envelope), status, int64(index))
	return err
}

// SetProposalStatus updates a proposal's status.
func (t *Tx) SetProposalStatus(id asset.ID, status string) error {
	_, err := t.exec(`UPDATE proposals SET status = ? WHERE proposal = ?`, status, id.String())
	return err
}

// AddApproval records an approval envelope; a second approval by the same
// approver is not recorded.
func (t *Tx) AddApproval(proposal asset.ID, approver string, envelope []byte, index uint64) error {
	_, err := t.exec(`INSERT INTO approvals(proposal, approver, envelope, log_index) VALUES(?,?,?,?) ON CONFLICT DO NOTHING`,
		proposal.String(), approver, string(envelope), int64(index))
	return err
}

// Asset returns the record of an asset, or an error wrapping
// catalog.ErrNotFound.
func (c *Catalog) Asset(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error) {
	return scanAsset(c.queryRow(ctx, `SELECT state, claim, priority, log_index FROM assets WHERE asset = ?`, id.String()), id.String())
}

// Asset is Catalog.Asset inside the transaction.
func (t *Tx) Asset(id asset.ID) (*catalog.AssetRecord, error) {
	return scanAsset(t.queryRow(`SELECT state, claim, priority, log_index FROM assets WHERE asset = ?`, id.String()), id.String())
}

type scanner interface{ Scan(...any) error }

func scanAsset(row scanner, id string) (*catalog.AssetRecord, error) {
	var st, claim, prio string
	var idx int64
	err := row.Scan(&st, &claim, &prio, &idx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("asset %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: asset %s: %w", id, err)
	}
	var d catalog.StateDecoder
	return decodeAsset(&d, id, []byte(st), claim, prio, idx)
}

// decodeAsset makes the record of an asset's row.
func decodeAsset(d *catalog.StateDecoder, id string, st []byte, claim, prio string, idx int64) (*catalog.AssetRecord, error) {
	r := &catalog.AssetRecord{Claim: claim, LogIndex: uint64(idx)}
	var err error
	if r.State, err = d.Decode(st); err != nil {
		return nil, fmt.Errorf("catalog: asset %s state: %w", id, err)
	}
	if r.Priority, err = d.ID(prio); err != nil {
		return nil, fmt.Errorf("catalog: asset %s priority: %w", id, err)
	}
	return r, nil
}

// AssetsByContent returns the registrations of a content id in log order.
func (c *Catalog) AssetsByContent(ctx context.Context, id content.ID) ([]*catalog.AssetRecord, error) {
	return c.assetList(ctx, `SELECT state, claim, priority, log_index, asset FROM assets WHERE content = ? ORDER BY log_index`, id.String())
}

// AssetsByContent is Catalog.AssetsByContent inside the transaction.
func (t *Tx) AssetsByContent(id content.ID) ([]*catalog.AssetRecord, error) {
	rows, err := t.query(`SELECT state, claim, priority, log_index, asset FROM assets WHERE content = ? ORDER BY log_index`, id.String())
	if err != nil {
		return nil, err
	}
	return scanAssets(rows)
}

func (c *Catalog) assetList(ctx context.Context, q string, args ...any) ([]*catalog.AssetRecord, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return scanAssets(rows)
}

func scanAssets(rows *sql.Rows) ([]*catalog.AssetRecord, error) {
	defer rows.Close()
	var out []*catalog.AssetRecord
	var d catalog.StateDecoder
	var st sql.RawBytes // the state is decoded, not kept: no copy
	for rows.Next() {
		var claim, prio, id string
		var idx int64
		if err := rows.Scan(&st, &claim, &prio, &idx, &id); err != nil {
			return nil, err
		}
		r, err := decodeAsset(&d, id, st, claim, prio, idx)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListAssets returns every asset in log order.
func (c *Catalog) ListAssets(ctx context.Context) ([]*catalog.AssetRecord, error) {
	return c.assetList(ctx, `SELECT state, claim, priority, log_index, asset FROM assets ORDER BY log_index`)
}

// Children returns the assets registered with id as a parent.
func (c *Catalog) Children(ctx context.Context, id asset.ID) ([]asset.ID, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT child FROM lineage WHERE parent = ? ORDER BY child`, id.String())
	if err != nil {
		return nil, err
	}
	return scanChildren(rows)
}

// Children is Catalog.Children inside the transaction.
func (t *Tx) Children(id asset.ID) ([]asset.ID, error) {
	rows, err := t.query(`SELECT child FROM lineage WHERE parent = ? ORDER BY child`, id.String())
	if err != nil {
		return nil, err
	}
	return scanChildren(rows)
}

func scanChildren(rows *sql.Rows) ([]asset.ID, error) {
	defer rows.Close()
	var out []asset.ID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		a, err := asset.ParseID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Proposal returns a proposal and its approvals.
func (c *Catalog) Proposal(ctx context.Context, id asset.ID) (*catalog.ProposalRecord, error) {
	return proposal(ctx, c.db, id)
}

// Proposal is Catalog.Proposal inside the transaction.
func (t *Tx) Proposal(id asset.ID) (*catalog.ProposalRecord, error) { return proposal(t.ctx, t.tx, id) }

type querier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// readers is the querier of the reader connections with their statement
// cache (queryRow, query); c.db as a querier prepares every query again,
// on whichever connection of the write pool comes next.
type readers struct{ c *Catalog }

func (r readers) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.c.queryRow(ctx, q, args...)
}

func (r readers) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.c.query(ctx, q, args...)
}

// txQuerier is the querier of a transaction with its statement cache.
type txQuerier struct{ t *Tx }

func (q txQuerier) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	return q.t.queryRow(query, args...)
}

func (q txQuerier) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.t.query(query, args...)
}

func proposal(ctx context.Context, q querier, id asset.ID) (*catalog.ProposalRecord, error) {
	p := &catalog.ProposalRecord{ID: id}
	var a, env string
	var idx int64
	err := q.QueryRowContext(ctx, `SELECT asset, envelope, status, log_index FROM proposals WHERE proposal = ?`, id.String()).Scan(&a, &env, &p.Status, &idx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("proposal %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p.Envelope, p.LogIndex = []byte(env), uint64(idx)
	if p.Asset, err = asset.ParseID(a); err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT approver, envelope FROM approvals WHERE proposal = ? ORDER BY log_index`, id.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var who, e string
		if err := rows.Scan(&who, &e); err != nil {
			return nil, err
		}
		p.Approvers = append(p.Approvers, who)
		p.Approvals = append(p.Approvals, []byte(e))
	}
	return p, rows.Err()
}

// Proposals lists the proposals of an asset, newest first.
func (c *Catalog) Proposals(ctx context.Context, a asset.ID) ([]*catalog.ProposalRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT proposal FROM proposals WHERE asset = ? ORDER BY log_index DESC`, a.String())
	if err != nil {
		return nil, err
	}
	var ids []asset.ID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		id, err := asset.ParseID(s)
		if err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []*catalog.ProposalRecord
	for _, id := range ids {
		p, err := c.Proposal(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Trail returns an asset's audit trail in log order.
func (c *Catalog) Trail(ctx context.Context, a asset.ID) ([]catalog.TrailEntry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT log_index, type, summary FROM trail WHERE asset = ? ORDER BY log_index`, a.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.TrailEntry
	for rows.Next() {
		var e catalog.TrailEntry
		var idx int64
		if err := rows.Scan(&idx, &e.Type, &e.Summary); err != nil {
			return nil, err
		}
		e.LogIndex = uint64(idx)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Dump lists the catalog's derived state as sorted text lines, leaving out
// bookkeeping (which entries are applied) and local times, so that two
// catalogs holding the same state dump the same lines.
func (c *Catalog) Dump(ctx context.Context) ([]string, error) {
	queries := []string{
		`SELECT 'object ' || id || ' ' || size || ' ' || kind FROM objects`,
		`SELECT 'asset ' || asset || ' ' || content || ' ' || claim || ' ' || priority || ' ' || log_index || ' ' || state FROM assets`,
		`SELECT 'lineage ' || child || ' ' || parent || ' ' || royalty || ' ' || stacking FROM lineage`,
		`SELECT 'proposal ' || proposal || ' ' || asset || ' ' || status || ' ' || log_index || ' ' || envelope FROM proposals`,
		`SELECT 'approval ' || proposal || ' ' || approver || ' ' || log_index || ' ' || envelope FROM approvals`,
		`SELECT 'trail ' || asset || ' ' || log_index || ' ' || type || ' ' || summary FROM trail`,
	}
	queries = append(queries, c.extraDumps...)
	var out []string
	for _, q := range queries {
		rows, err := c.db.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("catalog: dump: %w", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, s)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out, nil
}

// AddDump adds a query whose single text column joins the Dump; packages
// that keep tables in the catalog file register theirs.
func (c *Catalog) AddDump(query string) { c.extraDumps = append(c.extraDumps, query) }
