package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/catalog"
)

// Metering and settlement tables. Every row is derived from a log entry
// (receipt, usage, dispute, settlement) and is part of Dump. What is
// settled is kept as a watermark and the short list of uses the last
// settlement left unsettled, so marking a million uses settled writes a
// handful of rows.
const usageSchema = `
CREATE TABLE IF NOT EXISTS receipts (
	id        TEXT PRIMARY KEY,
	grant     TEXT NOT NULL,
	asset     TEXT NOT NULL,
	licensee  TEXT NOT NULL,
	session   TEXT NOT NULL,
	bytes     INTEGER NOT NULL,
	requests  INTEGER NOT NULL,
	envelope  TEXT NOT NULL,
	log_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS receipts_index ON receipts(log_index);
CREATE TABLE IF NOT EXISTS usage_events (
	grant     TEXT NOT NULL,
	id        TEXT NOT NULL,
	statement TEXT NOT NULL,
	asset     TEXT NOT NULL,
	licensee  TEXT NOT NULL,
	tokens    INTEGER NOT NULL,
	calls     INTEGER NOT NULL,
	runs      INTEGER NOT NULL,
	time      TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	PRIMARY KEY (grant, id)
);
CREATE INDEX IF NOT EXISTS usage_index ON usage_events(log_index);
-- Tokens and runs reported per usage quota key (licensee, asset, terms),
-- counted as usage entries apply: maxTokens and maxRuns bound them.
CREATE TABLE IF NOT EXISTS usage_quota (
	quota  TEXT PRIMARY KEY,
	tokens INTEGER NOT NULL,
	runs   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS disputes (
	id        TEXT PRIMARY KEY,
	asset     TEXT NOT NULL,
	opener    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	status    TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	resolved  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS settlements (
	log_index INTEGER PRIMARY KEY,
	payload   TEXT NOT NULL
);
-- Every receipt and usage event logged at or below through is settled,
-- except the ones in unsettled (uses the last settlement could not charge).
CREATE TABLE IF NOT EXISTS settle_watermark (
	id      INTEGER PRIMARY KEY CHECK (id = 0),
	through INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS unsettled (
	key TEXT PRIMARY KEY
);
-- Why the last settlement run could not charge each use it left
-- unsettled (operational: not in the log; at most a settlement's failed
-- list).
CREATE TABLE IF NOT EXISTS unsettled_reasons (
	asset TEXT NOT NULL,
	use_key TEXT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (asset, use_key)
);
`

func init() {
	extraSchema = append(extraSchema, usageSchema)
	extraDumpQueries = append(extraDumpQueries,
		`SELECT 'receipt ' || id || ' ' || grant || ' ' || asset || ' ' || licensee || ' ' || session || ' ' || bytes || ' ' || requests || ' ' || log_index || ' ' || envelope FROM receipts`,
		`SELECT 'usage ' || grant || ' ' || id || ' ' || statement || ' ' || asset || ' ' || licensee || ' ' || tokens || ' ' || calls || ' ' || runs || ' ' || time || ' ' || log_index || ' ' || envelope FROM usage_events`,
		`SELECT 'usage-quota ' || quota || ' ' || tokens || ' ' || runs FROM usage_quota`,
		`SELECT 'settled-through ' || through FROM settle_watermark`,
		`SELECT 'unsettled ' || key FROM unsettled`,
		`SELECT 'dispute ' || id || ' ' || asset || ' ' || opener || ' ' || status || ' ' || log_index || ' ' || resolved || ' ' || reason FROM disputes`,
		`SELECT 'settlement ' || log_index || ' ' || payload FROM settlements`,
	)
}

// PutReceipt records a receipt; recording the same id again is a no-op.
func (t *Tx) PutReceipt(r catalog.ReceiptRecord) error {
	_, err := t.exec(`INSERT INTO receipts(id, grant, asset, licensee, session, bytes, requests, envelope, log_index) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		r.ID, r.Grant, r.Asset, r.Licensee, r.Session, r.Bytes, r.Requests, string(r.Envelope), int64(r.LogIndex))
	return err
}

// PutUsage records a usage event. An event whose (grant, id) is recorded
// already fails with ErrDuplicate and changes nothing: the check and the
// insert are one statement of the entry's transaction.
func (t *Tx) PutUsage(u catalog.UsageRecord) error {
	res, err := t.exec(`INSERT INTO usage_events(grant, id, statement, asset, licensee, tokens, calls, runs, time, envelope, log_index) VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		u.Grant, u.ID, u.Statement, u.Asset, u.Licensee, u.Tokens, u.Calls, u.Runs, u.Time, string(u.Envelope), int64(u.LogIndex))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s under grant %s", catalog.ErrDuplicate, u.ID, u.Grant)
	}
	if u.Quota == "" {
		return nil
	}
	_, err = t.exec(`INSERT INTO usage_quota(quota, tokens, runs) VALUES(?,?,?)
		ON CONFLICT(quota) DO UPDATE SET tokens = tokens + excluded.tokens, runs = runs + excluded.runs`, u.Quota, u.Tokens, u.Runs)
	return err
}

const usageQuotaQuery = `SELECT COALESCE((SELECT tokens FROM usage_quota WHERE quota = ?1), 0), COALESCE((SELECT runs FROM usage_quota WHERE quota = ?1), 0)`

// UsageQuota returns the tokens and runs counted against a usage quota
// key, inside the entry's transaction.
func (t *Tx) UsageQuota(quota string) (tokens, runs int64, err error) {
	err = t.queryRow(usageQuotaQuery, quota).Scan(&tokens, &runs)
	return tokens, runs, err
}

// UsageQuota returns the tokens and runs counted against a usage quota
// key.
func (c *Catalog) UsageQuota(ctx context.Context, quota string) (tokens, runs int64, err error) {
	err = c.db.QueryRowContext(ctx, usageQuotaQuery, quota).Scan(&tokens, &runs)
	return tokens, runs, err
}

const usageCols = `grant, id, statement, asset, licensee, tokens, calls, runs, time, envelope, log_index`

func scanUsage(row scanner) (*catalog.UsageRecord, error) {
	var u catalog.UsageRecord
	var env string
	var idx int64
	if err := row.Scan(&u.Grant, &u.ID, &u.Statement, &u.Asset, &u.Licensee, &u.Tokens, &u.Calls, &u.Runs, &u.Time, &env, &idx); err != nil {
		return nil, err
	}
	u.Envelope, u.LogIndex = []byte(env), uint64(idx)
	return &u, nil
}

// Usage returns the usage event id recorded under grant.
func (c *Catalog) Usage(ctx context.Context, grant, id string) (*catalog.UsageRecord, error) {
	u, err := scanUsage(c.db.QueryRowContext(ctx, `SELECT `+usageCols+` FROM usage_events WHERE grant = ? AND id = ?`, grant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("usage %s of grant %s: %w", id, grant, catalog.ErrNotFound)
	}
	return u, err
}

const receiptCols = `id, grant, asset, licensee, session, bytes, requests, envelope, log_index`

func scanReceipt(row scanner) (*catalog.ReceiptRecord, error) {
	var r catalog.ReceiptRecord
	var env string
	var idx int64
	if err := row.Scan(&r.ID, &r.Grant, &r.Asset, &r.Licensee, &r.Session, &r.Bytes, &r.Requests, &env, &idx); err != nil {
		return nil, err
	}
	r.Envelope, r.LogIndex = []byte(env), uint64(idx)
	return &r, nil
}

// Receipts lists the receipts of a grant ("" for all), oldest first, at
// most limit of them.
func (c *Catalog) Receipts(ctx context.Context, grant string, limit int) ([]*catalog.ReceiptRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+receiptCols+` FROM receipts WHERE (? = '' OR grant = ?) ORDER BY log_index LIMIT ?`, grant, grant, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.ReceiptRecord
	for rows.Next() {
		r, err := scanReceipt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SettledThrough returns the settlement watermark: every use logged at or
// below it is settled except the ones Unsettled still lists.
func (c *Catalog) SettledThrough(ctx context.Context) (uint64, error) {
	var w int64
	err := c.db.QueryRowContext(ctx, `SELECT through FROM settle_watermark WHERE id = 0`).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(w), err
}

// Unsettled calls fn for every receipt and usage event that is not
// settled and logged at or below through: the ones left unsettled by the
// last settlement, then the ones logged since it, receipts first, each in
// log order.
func (c *Catalog) Unsettled(ctx context.Context, through uint64, fn func(catalog.Use) error) error {
	w, err := c.SettledThrough(ctx)
	if err != nil {
		return err
	}
	grants := map[string]string{}
	intern := func(b sql.RawBytes) string {
		if s, ok := grants[string(b)]; ok {
			return s
		}
		s := string(b)
		grants[s] = s
		return s
	}
	each := func(q string, receipt bool, args ...any) error {
		rows, err := c.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u := catalog.Use{Receipt: receipt}
			var grant, id sql.RawBytes
			var idx int64
			if err := rows.Scan(&grant, &id, &u.Bytes, &u.Tokens, &u.Calls, &u.Runs, &idx); err != nil {
				return err
			}
			u.Grant, u.LogIndex = intern(grant), uint64(idx)
			if receipt {
				u.Key = "r:" + string(id)
			} else {
				u.Key = "u:" + u.Grant + "/" + string(id)
			}
			if err := fn(u); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	const rq = `SELECT grant, id, bytes, 0, 0, 0, log_index FROM receipts`
	const uq = `SELECT grant, id, 0, tokens, calls, runs, log_index FROM usage_events`
	if err := each(rq+` WHERE id IN (SELECT substr(key, 3) FROM unsettled WHERE key LIKE 'r:%') ORDER BY log_index`, true); err != nil {
		return err
	}
	if err := each(uq+` WHERE 'u:' || grant || '/' || id IN (SELECT key FROM unsettled WHERE key LIKE 'u:%') ORDER BY log_index`, false); err != nil {
		return err
	}
	if err := each(rq+` WHERE log_index > ? AND log_index <= ? ORDER BY log_index`, true, int64(w), int64(through)); err != nil {
		return err
	}
	return each(uq+` WHERE log_index > ? AND log_index <= ? ORDER BY log_index`, false, int64(w), int64(through))
}

// MarkSettled records a settlement: every use logged at or below through
// is settled except failed (Use.Key values), which replace the previous
// list of unsettled uses. A through below the current watermark is
// refused.
func (t *Tx) MarkSettled(through uint64, failed []string) error {
	var w int64
	err := t.queryRow(`SELECT through FROM settle_watermark WHERE id = 0`).Scan(&w)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if int64(through) < w {
		return fmt.Errorf("catalog: settlement through %d is below the watermark %d", through, w)
	}
	if _, err := t.exec(`INSERT INTO settle_watermark(id, through) VALUES(0, ?) ON CONFLICT(id) DO UPDATE SET through = excluded.through`, int64(through)); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM unsettled`); err != nil {
		return err
	}
	for _, k := range failed {
		if _, err := t.exec(`INSERT INTO unsettled(key) VALUES(?) ON CONFLICT DO NOTHING`, k); err != nil {
			return err
		}
	}
	return nil
}

// PutSettlement records a settlement entry's payload.
func (t *Tx) PutSettlement(idx uint64, payload []byte) error {
	_, err := t.exec(`INSERT INTO settlements(log_index, payload) VALUES(?,?) ON CONFLICT DO NOTHING`, int64(idx), string(payload))
	return err
}

// LastSettlement returns the payload of the settlement logged last, or
// nil. A settlement repeating it is a duplicate; an older one cannot apply
// again (MarkSettled refuses a watermark going back).
func (t *Tx) LastSettlement() ([]byte, error) {
	var p string
	err := t.queryRow(`SELECT payload FROM settlements ORDER BY log_index DESC LIMIT 1`).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(p), err
}

// Settlements returns the payloads of the last n settlement entries by
// log index, newest first.
func (c *Catalog) Settlements(ctx context.Context, n int) (map[uint64][]byte, []uint64, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT log_index, payload FROM settlements ORDER BY log_index DESC LIMIT ?`, n)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out := map[uint64][]byte{}
	var order []uint64
	for rows.Next() {
		var idx int64
		var p string
		if err := rows.Scan(&idx, &p); err != nil {
			return nil, nil, err
		}
		out[uint64(idx)] = []byte(p)
		order = append(order, uint64(idx))
	}
	return out, order, rows.Err()
}

// JournalRoots returns the ledger journal root of every settlement entry,
// in log order.
func (c *Catalog) JournalRoots(ctx context.Context) ([]catalog.JournalRoot, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT log_index, json_extract(payload, '$.journalSize'), json_extract(payload, '$.journalRoot') FROM settlements ORDER BY log_index`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.JournalRoot
	for rows.Next() {
		var r catalog.JournalRoot
		var idx, size int64
		if err := rows.Scan(&idx, &size, &r.Hash); err != nil {
			return nil, err
		}
		r.LogIndex, r.Size = uint64(idx), uint64(size)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutDispute records an open dispute; one recorded already is kept.
func (t *Tx) PutDispute(d catalog.DisputeRecord) error {
	_, err := t.exec(`INSERT INTO disputes(id, asset, opener, reason, status, envelope, log_index, page) VALUES(?,?,?,?,'open',?,?,?) ON CONFLICT DO NOTHING`,
		d.ID, d.Asset, d.Opener, d.Reason, string(d.Envelope), int64(d.LogIndex), pageForm(d.Envelope))
	return err
}

// ResolveDispute sets a dispute's status ("released" or "voided").
func (t *Tx) ResolveDispute(id, status string, idx uint64) error {
	_, err := t.exec(`UPDATE disputes SET status = ?, resolved = ? WHERE id = ? AND status = 'open'`, status, int64(idx), id)
	return err
}

const disputeCols = `id, asset, opener, reason, status, envelope, log_index, resolved`

func scanDispute(row scanner) (*catalog.DisputeRecord, error) {
	var d catalog.DisputeRecord
	var env string
	var idx, res int64
	if err := row.Scan(&d.ID, &d.Asset, &d.Opener, &d.Reason, &d.Status, &env, &idx, &res); err != nil {
		return nil, err
	}
	d.Envelope, d.LogIndex, d.Resolved = []byte(env), uint64(idx), uint64(res)
	return &d, nil
}

// Dispute returns a dispute.
func (c *Catalog) Dispute(ctx context.Context, id string) (*catalog.DisputeRecord, error) {
	d, err := scanDispute(c.db.QueryRowContext(ctx, `SELECT `+disputeCols+` FROM disputes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("dispute %s: %w", id, catalog.ErrNotFound)
	}
	return d, err
}

// Dispute is Catalog.Dispute inside the transaction.
func (t *Tx) Dispute(id string) (*catalog.DisputeRecord, error) {
	d, err := scanDispute(t.queryRow(`SELECT `+disputeCols+` FROM disputes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("dispute %s: %w", id, catalog.ErrNotFound)
	}
	return d, err
}

// Disputes lists the disputes of an asset ("" for all) with status
// ("" for any), oldest first.
func (c *Catalog) Disputes(ctx context.Context, asset, status string) ([]*catalog.DisputeRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+disputeCols+` FROM disputes WHERE (? = '' OR asset = ?) AND (? = '' OR status = ?) ORDER BY log_index LIMIT 10000`, asset, asset, status, status)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.DisputeRecord
	for rows.Next() {
		d, err := scanDispute(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// HasGrant reports whether licensee holds or held a grant on asset.
func (t *Tx) HasGrant(asset, licensee string) (bool, error) {
	var one int
	err := t.queryRow(`SELECT 1 FROM grants WHERE licensee = ? AND asset = ? LIMIT 1`, licensee, asset).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// OpenDisputeBy returns the id of opener's open dispute on asset, or "".
func (t *Tx) OpenDisputeBy(asset, opener string) (string, error) {
	var id string
	err := t.queryRow(`SELECT id FROM disputes WHERE asset = ? AND opener = ? AND status = 'open' LIMIT 1`, asset, opener).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// SetUnsettledReasons replaces the reasons of the last settlement run's
// unsettled uses, in one transaction.
func (c *Catalog) SetUnsettledReasons(ctx context.Context, rs []catalog.UnsettledReason) error {
	return c.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM unsettled_reasons`); err != nil {
			return err
		}
		for _, r := range rs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO unsettled_reasons(asset, use_key, error) VALUES(?,?,?) ON CONFLICT DO NOTHING`, r.Asset, r.Use, r.Error); err != nil {
				return err
			}
		}
		return nil
	})
}

// UnsettledReasons lists the reasons kept for asset's uses, by use.
func (c *Catalog) UnsettledReasons(ctx context.Context, asset string) ([]catalog.UnsettledReason, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT asset, use_key, error FROM unsettled_reasons WHERE asset = ? ORDER BY use_key`, asset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []catalog.UnsettledReason{}
	for rows.Next() {
		var r catalog.UnsettledReason
		if err := rows.Scan(&r.Asset, &r.Use, &r.Error); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
