package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Tx is one catalog transaction: everything an applied log entry changes,
// together with the record that the entry is applied.
type Tx struct {
	tx  *laterTx
	ctx context.Context
	c   *Catalog
}

func (t *Tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	return t.tx.Exec(t.ctx, query, args...)
}

func (t *Tx) queryRow(query string, args ...any) pgx.Row {
	return t.tx.QueryRow(t.ctx, query, args...)
}

func (t *Tx) query(query string, args ...any) (pgx.Rows, error) {
	return t.tx.Query(t.ctx, query, args...)
}

// later queues a write whose answer the entry does not need (its error
// fails the entry all the same): it goes with the next statement that
// needs one, or after the entry with the next entry's savepoint, so that
// applying an entry costs a round trip for each read, not each write.
func (t *Tx) later(query string, args ...any) error {
	return t.tx.later(query, args...)
}

// laterTx is a transaction holding queued writes (Tx.later). Every
// statement sent through it sends the queued writes first; once one of
// them failed, every later statement fails with its error (the
// transaction is aborted anyway).
type laterTx struct {
	pgx.Tx
	q   []queued
	err error
}

// queued is a queued write. fail, when set, turns the write's error into
// the entry's (a constraint the write relies on instead of a read: see
// PutNewGrant).
type queued struct {
	sql  string
	args []any
	fail func(error) error
}

func (l *laterTx) later(query string, args ...any) error {
	return l.laterFail(nil, query, args...)
}

func (l *laterTx) laterFail(fail func(error) error, query string, args ...any) error {
	if l.err != nil {
		return l.err
	}
	l.q = append(l.q, queued{sql: query, args: args, fail: fail})
	return nil
}

// take returns the queued writes and forgets them.
func (l *laterTx) take() []queued {
	q := l.q
	l.q = nil
	return q
}

// queue adds writes to a batch; sent counts those that succeeded, so that
// a failing batch's error is the first one failing (failed).
func queue(b *pgx.Batch, qs []queued, sent *int) {
	for _, q := range qs {
		b.Queue(q.sql, q.args...).Exec(func(pgconn.CommandTag) error { *sent++; return nil })
	}
}

// failed is the error of a batch whose writes qs came first and of which
// sent succeeded: the failing write's own error, as its fail maps it.
func failed(qs []queued, sent int, err error) error {
	if sent < len(qs) && qs[sent].fail != nil {
		return qs[sent].fail(err)
	}
	return err
}

// flush sends the queued writes.
func (l *laterTx) flush(ctx context.Context) error {
	if l.err != nil || len(l.q) == 0 {
		return l.err
	}
	qs, sent, b := l.take(), 0, &pgx.Batch{}
	queue(b, qs, &sent)
	if err := l.Tx.SendBatch(ctx, b).Close(); err != nil {
		l.err = failed(qs, sent, err)
	}
	return l.err
}

func (l *laterTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := l.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return l.Tx.Exec(ctx, sql, args...)
}

func (l *laterTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := l.flush(ctx); err != nil {
		return nil, err
	}
	return l.Tx.Query(ctx, sql, args...)
}

func (l *laterTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := l.flush(ctx); err != nil {
		return errRow{err}
	}
	return l.Tx.QueryRow(ctx, sql, args...)
}

func (l *laterTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := l.flush(ctx); err != nil {
		return errBatch{err}
	}
	return l.Tx.SendBatch(ctx, b)
}

// errRow and errBatch answer a statement that was not sent because a
// queued write failed.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }

// querier is what the catalog reads through: the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
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
// until none wait (group commit: the first waiting caller leads).
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

const markApplied = `INSERT INTO log_applied(idx) VALUES($1) ON CONFLICT DO NOTHING`

// advanceWatermark moves the watermark from $1 over the applied entries
// that follow it without a gap, and forgets them from log_applied.
const advanceWatermark = `WITH RECURSIVE run(i) AS (
		SELECT $1::bigint WHERE EXISTS (SELECT 1 FROM log_applied WHERE idx = $1::bigint)
		UNION ALL
		SELECT i + 1 FROM run WHERE EXISTS (SELECT 1 FROM log_applied WHERE idx = i + 1)
	), nxt AS (SELECT COALESCE(max(i) + 1, $1::bigint) AS n FROM run),
	del AS (DELETE FROM log_applied WHERE idx >= $1::bigint AND idx < (SELECT n FROM nxt))
	INSERT INTO log_watermark(id, next) SELECT 0, n FROM nxt
	ON CONFLICT(id) DO UPDATE SET next = excluded.next`

// commitBatch applies a batch in one transaction, each update in a
// savepoint so that one that fails is undone alone. Statements that need
// no answer in between are sent together (one round trip): an entry's
// queued writes (Tx.later), the release of its savepoint, the next
// entry's savepoint and applied mark.
func (c *Catalog) commitBatch(batch []*update) {
	fail := func(err error) {
		for _, u := range batch {
			if u.err == nil {
				u.err = err
			}
		}
	}
	ctx := context.Background()
	ptx, err := c.pool.Begin(ctx)
	if err != nil {
		fail(fmt.Errorf("catalog: begin: %w", err))
		return
	}
	defer ptx.Rollback(ctx)
	tx := &laterTx{Tx: ptx}
	var next int64
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, c.applyLock)
	b.Queue(`SELECT COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0)`).QueryRow(func(r pgx.Row) error { return r.Scan(&next) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		fail(fmt.Errorf("catalog: watermark: %w", err))
		return
	}
	// The last applied entry's queued writes and the release of its
	// savepoint wait to go with the next statements (send).
	var last *update
	var carried []queued
	release := false
	// Entries without catalog effect (Change.Fn nil) need no savepoint:
	// their applied marks wait to go with the next statements too,
	// outside any entry's savepoint.
	var marks []*update
	send := func(stmts0 func(b *pgx.Batch)) error {
		pending := marks
		stmts := func(b *pgx.Batch) {
			for _, m := range pending {
				b.Queue(markApplied, int64(m.index)).Exec(func(ct pgconn.CommandTag) error {
					if ct.RowsAffected() == 0 {
						m.err, m.ok = catalog.ErrApplied, false
					}
					return nil
				})
			}
			stmts0(b)
		}
		b := &pgx.Batch{}
		sent := 0
		queue(b, carried, &sent)
		if release {
			b.Queue(`RELEASE SAVEPOINT upd`)
		}
		stmts(b)
		err := tx.Tx.SendBatch(ctx, b).Close()
		if err == nil || sent == len(carried) {
			carried, release = nil, false
			if err == nil {
				marks = nil
			}
			return err
		}
		// One of the last entry's writes failed: undo that entry alone
		// (its savepoint is not released) and send the rest again. An
		// entry that turned out to have no effect is still applied.
		last.err, last.ok = failed(carried, sent, err), false
		carried = nil
		if err := tx.Tx.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: `ROLLBACK TO SAVEPOINT upd`}}}).Close(); err != nil {
			return err
		}
		b = &pgx.Batch{}
		if errors.Is(last.err, catalog.ErrNoEffect) {
			b.Queue(markApplied, int64(last.index))
			last.ok = true
		}
		b.Queue(`RELEASE SAVEPOINT upd`)
		stmts(b)
		release = false
		err = tx.Tx.SendBatch(ctx, b).Close()
		if err == nil {
			marks = nil
		}
		return err
	}
	for _, u := range batch {
		if int64(u.index) < next {
			u.err = catalog.ErrApplied
			continue
		}
		if u.fn == nil {
			marks = append(marks, u)
			u.ok = true
			continue
		}
		var tag pgconn.CommandTag
		if err := send(func(b *pgx.Batch) {
			b.Queue(`SAVEPOINT upd`)
			b.Queue(markApplied, int64(u.index)).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
		}); err != nil {
			fail(fmt.Errorf("catalog: mark applied: %w", err))
			return
		}
		release = true
		if tag.RowsAffected() == 0 {
			err = catalog.ErrApplied
		} else {
			tx.err = nil
			err = u.fn(&Tx{tx: tx, ctx: u.ctx, c: c})
			if tx.err != nil {
				err = tx.err // a queued write failed: the entry failed
			}
		}
		if err == nil {
			u.ok = true
			last, carried = u, tx.take()
			continue
		}
		tx.take()
		u.err = err
		b = &pgx.Batch{}
		b.Queue(`ROLLBACK TO SAVEPOINT upd`)
		if errors.Is(err, catalog.ErrNoEffect) {
			// Undone, but applied: replay must not stop on it.
			b.Queue(markApplied, int64(u.index))
			u.ok = true
		}
		if err := tx.Tx.SendBatch(ctx, b).Close(); err != nil {
			fail(fmt.Errorf("catalog: rollback to savepoint: %w", err))
			return
		}
	}
	// Send what waits, release the last savepoint and advance the
	// watermark over the contiguous applied prefix, in one round trip.
	if err := send(func(b *pgx.Batch) {
		b.Queue(advanceWatermark, next)
		b.Queue(notifyWatermark, c.watermarkChannel())
	}); err != nil {
		fail(fmt.Errorf("catalog: watermark: %w", err))
		return
	}
	if err := ptx.Commit(ctx); err != nil {
		for _, u := range batch {
			if u.ok {
				u.err = fmt.Errorf("catalog: commit: %w", err)
			}
		}
	}
}

// Applied reports where replay must start (every entry below is applied)
// and which entries at or above it are applied already.
func (c *Catalog) Applied(ctx context.Context) (next uint64, above map[uint64]bool, err error) {
	var n int64
	if err := c.pool.QueryRow(ctx, `SELECT COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0)`).Scan(&n); err != nil {
		return 0, nil, err
	}
	rows, err := c.pool.Query(ctx, `SELECT idx FROM log_applied`)
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
	return t.later(`INSERT INTO log_applied(idx) SELECT $1::bigint WHERE $1::bigint >= COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0) ON CONFLICT DO NOTHING`, int64(index))
}

// PutAsset records a newly registered asset and its lineage. An asset
// recorded already is kept as it is (a duplicate registration is a no-op).
func (t *Tx) PutAsset(r catalog.AssetRecord) error {
	st, err := json.Marshal(r.State)
	if err != nil {
		return err
	}
	m := r.State.Manifest
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO assets(asset, content, state, claim, priority, log_index, name, media) VALUES($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING`,
		r.State.Asset.String(), m.Content.String(), string(st), r.Claim, r.Priority.String(), int64(r.LogIndex), m.Name, m.MediaType)
	// A duplicate registration (the asset kept as it is) adds no owners:
	// the insert is skipped unless the asset row holds this log index.
	owners := ownerDIDs(r.State)
	if len(owners) > 0 {
		b.Queue(`INSERT INTO asset_owners(owner, log_index, asset, media) SELECT o, $2, $3, $4 FROM unnest($1::text[]) AS o
			WHERE EXISTS (SELECT 1 FROM assets WHERE asset = $3 AND log_index = $2) ON CONFLICT DO NOTHING`, owners, int64(r.LogIndex), r.State.Asset.String(), m.MediaType)
	}
	for _, p := range m.Parents {
		b.Queue(`INSERT INTO lineage(child, parent, royalty, stacking) VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING`,
			r.State.Asset.String(), p.Asset.String(), int64(p.Royalty), string(p.Stacking))
	}
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return fmt.Errorf("catalog: put asset %s: %w", r.State.Asset, err)
	}
	return nil
}

// SetState replaces the governed state of an asset.
func (t *Tx) SetState(s *asset.State) error {
	st, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var tag pgconn.CommandTag
	b := &pgx.Batch{}
	b.Queue(`UPDATE assets SET state = $1 WHERE asset = $2`, string(st), s.Asset.String()).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	b.Queue(`DELETE FROM asset_owners WHERE asset = $1`, s.Asset.String())
	b.Queue(`INSERT INTO asset_owners(owner, log_index, asset, media) SELECT o, a.log_index, a.asset, a.media FROM unnest($1::text[]) AS o, assets a
		WHERE a.asset = $2 ON CONFLICT DO NOTHING`, ownerDIDs(s), s.Asset.String())
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("asset %s: %w", s.Asset, catalog.ErrNotFound)
	}
	return nil
}

// ownerDIDs lists the owners a state names.
func ownerDIDs(s *asset.State) []string {
	out := make([]string, 0, len(s.Owners))
	for _, o := range s.Owners {
		out = append(out, o.DID.String())
	}
	return out
}

// Trail adds an entry to an asset's audit trail.
func (t *Tx) Trail(a asset.ID, index uint64, typ, summary string) error {
	return t.later(`INSERT INTO trail(asset, log_index, type, summary) VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING`, a.String(), int64(index), typ, summary)
}

// PutProposal records a proposal envelope; one recorded already is kept.
func (t *Tx) PutProposal(id, a asset.ID, envelope []byte, status string, index uint64) error {
	_, err := t.exec(`INSERT INTO proposals(proposal, asset, envelope, status, log_index) VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
		id.String(), a.String(), string(envelope), status, int64(index))
	return err
}

// SetProposalStatus updates a proposal's status.
func (t *Tx) SetProposalStatus(id asset.ID, status string) error {
	_, err := t.exec(`UPDATE proposals SET status = $1 WHERE proposal = $2`, status, id.String())
	return err
}

// AddApproval records an approval envelope; a second approval by the same
// approver is not recorded.
func (t *Tx) AddApproval(proposal asset.ID, approver string, envelope []byte, index uint64) error {
	_, err := t.exec(`INSERT INTO approvals(proposal, approver, envelope, log_index) VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING`,
		proposal.String(), approver, string(envelope), int64(index))
	return err
}

const assetQuery = `SELECT state, claim, priority, log_index FROM assets WHERE asset = $1`

// Asset returns the record of an asset, or an error wrapping
// catalog.ErrNotFound.
func (c *Catalog) Asset(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error) {
	return scanAsset(c.pool.QueryRow(ctx, assetQuery, id.String()), id.String())
}

// Asset is Catalog.Asset inside the transaction.
func (t *Tx) Asset(id asset.ID) (*catalog.AssetRecord, error) {
	return scanAsset(t.queryRow(assetQuery, id.String()), id.String())
}

type scanner interface{ Scan(...any) error }

func scanAsset(row scanner, id string) (*catalog.AssetRecord, error) {
	var st, claim, prio string
	var idx int64
	err := row.Scan(&st, &claim, &prio, &idx)
	if errors.Is(err, pgx.ErrNoRows) {
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

const assetsByContent = `SELECT state, claim, priority, log_index, asset FROM assets WHERE content = $1 ORDER BY log_index`

// AssetsByContent returns the registrations of a content id in log order.
func (c *Catalog) AssetsByContent(ctx context.Context, id content.ID) ([]*catalog.AssetRecord, error) {
	return assetList(ctx, c.pool, assetsByContent, id.String())
}

// AssetsByContent is Catalog.AssetsByContent inside the transaction.
func (t *Tx) AssetsByContent(id content.ID) ([]*catalog.AssetRecord, error) {
	return assetList(t.ctx, t.tx, assetsByContent, id.String())
}

func assetList(ctx context.Context, q querier, query string, args ...any) ([]*catalog.AssetRecord, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.AssetRecord
	var d catalog.StateDecoder
	for rows.Next() {
		var st pgtype.DriverBytes // the state is decoded, not kept: no copy
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
	return assetList(ctx, c.pool, `SELECT state, claim, priority, log_index, asset FROM assets ORDER BY log_index`)
}

const childrenQuery = `SELECT child FROM lineage WHERE parent = $1 ORDER BY child`

// Children returns the assets registered with id as a parent.
func (c *Catalog) Children(ctx context.Context, id asset.ID) ([]asset.ID, error) {
	return children(ctx, c.pool, id)
}

// Children is Catalog.Children inside the transaction.
func (t *Tx) Children(id asset.ID) ([]asset.ID, error) { return children(t.ctx, t.tx, id) }

func children(ctx context.Context, q querier, id asset.ID) ([]asset.ID, error) {
	rows, err := q.Query(ctx, childrenQuery, id.String())
	if err != nil {
		return nil, err
	}
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
	return proposal(ctx, c.pool, id)
}

// Proposal is Catalog.Proposal inside the transaction.
func (t *Tx) Proposal(id asset.ID) (*catalog.ProposalRecord, error) { return proposal(t.ctx, t.tx, id) }

func proposal(ctx context.Context, q querier, id asset.ID) (*catalog.ProposalRecord, error) {
	p := &catalog.ProposalRecord{ID: id}
	var a, env string
	var idx int64
	err := q.QueryRow(ctx, `SELECT asset, envelope, status, log_index FROM proposals WHERE proposal = $1`, id.String()).Scan(&a, &env, &p.Status, &idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("proposal %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p.Envelope, p.LogIndex = []byte(env), uint64(idx)
	if p.Asset, err = asset.ParseID(a); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT approver, envelope FROM approvals WHERE proposal = $1 ORDER BY log_index`, id.String())
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
	rows, err := c.pool.Query(ctx, `SELECT proposal FROM proposals WHERE asset = $1 ORDER BY log_index DESC`, a.String())
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []*catalog.ProposalRecord
	for _, s := range ids {
		id, err := asset.ParseID(s)
		if err != nil {
			return nil, err
		}
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
	rows, err := c.pool.Query(ctx, `SELECT log_index, type, summary FROM trail WHERE asset = $1 ORDER BY log_index`, a.String())
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

// dumpQueries give the lines of Dump, one text column each, in the words
// of catalog/sqlite's: the same state dumps the same lines on both.
var dumpQueries = []string{
	`SELECT 'object ' || id || ' ' || size || ' ' || kind FROM objects`,
	`SELECT 'asset ' || asset || ' ' || content || ' ' || claim || ' ' || priority || ' ' || log_index || ' ' || state FROM assets`,
	`SELECT 'lineage ' || child || ' ' || parent || ' ' || royalty || ' ' || stacking FROM lineage`,
	`SELECT 'proposal ' || proposal || ' ' || asset || ' ' || status || ' ' || log_index || ' ' || envelope FROM proposals`,
	`SELECT 'approval ' || proposal || ' ' || approver || ' ' || log_index || ' ' || envelope FROM approvals`,
	`SELECT 'trail ' || asset || ' ' || log_index || ' ' || type || ' ' || summary FROM trail`,
	`SELECT 'grant ' || id || ' ' || asset || ' ' || licensee || ' ' || revoked::int || ' ' || log_index || ' ' || envelope FROM grants`,
	`SELECT 'grant-request ' || id || ' ' || asset || ' ' || decision || ' ' || status || ' ' || log_index FROM grant_requests`,
	`SELECT 'grant-approval ' || request || ' ' || approver || ' ' || approve::int || ' ' || log_index FROM grant_approvals`,
	`SELECT 'claimant ' || asset || ' ' || content || ' ' || log_index || ' ' || conflict::int || ' ' || dataset::int || ' ' || unindexed::int || ' ' || signers FROM claimants`,
	`SELECT 'claim ' || content || ' ' || asset FROM content_claims`,
	`SELECT 'part ' || kind || ' ' || content || ' ' || part || ' ' || parts || ' ' || log_index || ' ' || upper(encode(body, 'hex')) FROM log_parts`,
	`SELECT 'receipt ' || id || ' ' || "grant" || ' ' || asset || ' ' || licensee || ' ' || session || ' ' || bytes || ' ' || requests || ' ' || log_index || ' ' || envelope FROM receipts`,
	`SELECT 'usage ' || "grant" || ' ' || id || ' ' || statement || ' ' || asset || ' ' || licensee || ' ' || tokens || ' ' || calls || ' ' || runs || ' ' || time || ' ' || log_index || ' ' || envelope FROM usage_events`,
	`SELECT 'settled-through ' || through FROM settle_watermark`,
	`SELECT 'unsettled ' || key FROM unsettled`,
	`SELECT 'dispute ' || id || ' ' || asset || ' ' || opener || ' ' || status || ' ' || log_index || ' ' || resolved || ' ' || reason FROM disputes`,
	`SELECT 'settlement ' || log_index || ' ' || payload FROM settlements`,
	`SELECT 'quota-usage ' || quota || ' ' || bytes || ' ' || requests FROM quota_usage`,
	`SELECT 'usage-quota ' || quota || ' ' || tokens || ' ' || runs FROM usage_quota`,
}

// Dump lists the catalog's derived state as sorted text lines, leaving out
// bookkeeping (which entries are applied) and local times, so that two
// catalogs holding the same state dump the same lines, on either backend.
// It reads one snapshot (a repeatable-read transaction).
func (c *Catalog) Dump(ctx context.Context) ([]string, error) {
	tx, err := c.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("catalog: dump: %w", err)
	}
	defer tx.Rollback(ctx)
	var out []string
	for _, q := range dumpQueries {
		rows, err := tx.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("catalog: dump: %w", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("catalog: dump: %w", err)
		}
		out = append(out, lines...)
	}
	slices.Sort(out)
	return out, nil
}
