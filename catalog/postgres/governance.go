package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/catalog"

	"github.com/charter-dev/charter/asset"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PutClaimant records a registered asset's claimant row and its claim on
// its own content.
func (t *Tx) PutClaimant(c catalog.Claimant) error {
	signers, err := json.Marshal(c.Signers)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO claimants(asset, content, log_index, signers, conflict, dataset, unindexed) VALUES($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT(asset) DO UPDATE SET dataset = excluded.dataset, unindexed = excluded.unindexed`,
		c.Asset.String(), c.Content, int64(c.LogIndex), string(signers), c.Conflict, c.Dataset, c.Unindexed)
	b.Queue(claimQuery, c.Content, c.Asset.String())
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return fmt.Errorf("catalog: claimant %s: %w", c.Asset, err)
	}
	return nil
}

const claimQuery = `INSERT INTO content_claims(content, asset) VALUES($1,$2) ON CONFLICT DO NOTHING`

// Claim records that an asset claims content (a file of its dataset).
func (t *Tx) Claim(content, asset string) error {
	_, err := t.exec(claimQuery, content, asset)
	return err
}

// claimChunk is how many claims Claims sends in one statement.
const claimChunk = 1000

// Claims records many claims of one asset: each is called with a function
// that records one claimed content id. Claims are sent a thousand to a
// statement, so a million-file dataset costs a thousand round trips.
func (t *Tx) Claims(asset string, each func(add func(content string) error) error) error {
	buf := make([]string, 0, claimChunk)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := t.exec(`INSERT INTO content_claims(content, asset) SELECT c, $2 FROM unnest($1::text[]) AS c ON CONFLICT DO NOTHING`, buf, asset)
		buf = buf[:0]
		return err
	}
	err := each(func(content string) error {
		buf = append(buf, content)
		if len(buf) == claimChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// DropFileClaims forgets the claims of an asset on anything but its own
// content: a dataset whose index turned out unreadable half-way.
func (t *Tx) DropFileClaims(a asset.ID, own string) error {
	_, err := t.exec(`DELETE FROM content_claims WHERE asset = $1 AND content <> $2`, a.String(), own)
	return err
}

// ContentClaims returns every claim on content with its claimant.
func (c *Catalog) ContentClaims(ctx context.Context, content string) ([]asset.ContentClaim, error) {
	rows, err := c.pool.Query(ctx, `SELECT k.asset, k.log_index, k.signers, k.conflict FROM content_claims c JOIN claimants k ON k.asset = c.asset WHERE c.content = $1 ORDER BY k.log_index`, content)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []asset.ContentClaim
	for rows.Next() {
		var a, signers string
		var idx int64
		var conflict bool
		if err := rows.Scan(&a, &idx, &signers, &conflict); err != nil {
			return nil, err
		}
		cl := asset.ContentClaim{LogIndex: uint64(idx), Conflict: conflict}
		if cl.Asset, err = asset.ParseID(a); err != nil {
			return nil, fmt.Errorf("catalog: claim by %q: %w", a, err)
		}
		if err := json.Unmarshal([]byte(signers), &cl.Signers); err != nil {
			return nil, fmt.Errorf("catalog: signers of %s: %w", a, err)
		}
		out = append(out, cl)
	}
	return out, rows.Err()
}

// Unindexed returns the registered datasets whose index is missing, in
// log order.
func (c *Catalog) Unindexed(ctx context.Context) ([]catalog.Claimant, error) {
	rows, err := c.pool.Query(ctx, `SELECT asset, content, log_index FROM claimants WHERE unindexed ORDER BY log_index`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.Claimant
	for rows.Next() {
		var a string
		k := catalog.Claimant{Unindexed: true}
		var idx int64
		if err := rows.Scan(&a, &k.Content, &idx); err != nil {
			return nil, err
		}
		k.LogIndex = uint64(idx)
		if k.Asset, err = asset.ParseID(a); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// IndexedDataset reports whether a registered dataset whose index was
// read names content: what makes a blob a dataset.
func (c *Catalog) IndexedDataset(ctx context.Context, content string) (bool, error) {
	var one int
	err := c.pool.QueryRow(ctx, `SELECT 1 FROM claimants WHERE content = $1 AND dataset LIMIT 1`, content).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Reindex records the file claims of unindexed datasets whose index is
// stored again: claims is called once per dataset with a function that
// records one claim, and returns an error if the index does not read; the
// dataset then stays unindexed. It returns the datasets reindexed.
func (c *Catalog) Reindex(ctx context.Context, content string, claims func(add func(file string) error) error) ([]asset.ID, error) {
	rows, err := c.pool.Query(ctx, `SELECT asset FROM claimants WHERE unindexed AND content = $1`, content)
	if err != nil {
		return nil, err
	}
	todo, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(todo) == 0 {
		return nil, err
	}
	var done []asset.ID
	for _, a := range todo {
		id, err := asset.ParseID(a)
		if err != nil {
			return done, err
		}
		err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			t := &Tx{tx: &laterTx{Tx: tx}, ctx: ctx, c: c}
			if err := t.Claims(a, claims); err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE claimants SET unindexed = false, dataset = true WHERE asset = $1`, a); err != nil {
				return err
			}
			return t.tx.flush(ctx) // writes queued by Tx.later
		})
		if err != nil {
			return done, err
		}
		done = append(done, id)
	}
	return done, nil
}

// ChargeUpload adds n bytes to key's uploads of day (and of all days) if
// that stays within maxDay and maxTotal (0: no limit), and reports whether
// it did. It returns the bytes used so far today and in total.
func (c *Catalog) ChargeUpload(ctx context.Context, key, day string, n, maxDay, maxTotal int64) (ok bool, usedDay, usedTotal int64, err error) {
	return c.charge(ctx, key, day, n, maxDay, maxTotal)
}

// ChargeGrantRequest counts one grant request by licensee on day if that
// stays within maxDay (0: no limit), and reports whether it did and how
// many the licensee made that day before it.
func (c *Catalog) ChargeGrantRequest(ctx context.Context, licensee, day string, maxDay int64) (ok bool, usedDay int64, err error) {
	ok, usedDay, _, err = c.charge(ctx, "grant-requests "+licensee, day, 1, maxDay, 0)
	return ok, usedDay, err
}

// Counted returns what ChargeUpload charged to key on day ("total": all
// days), 0 when nothing was.
func (c *Catalog) Counted(ctx context.Context, key, day string) (int64, error) {
	var v int64
	err := c.ops.QueryRow(ctx, `SELECT COALESCE((SELECT bytes FROM upload_usage WHERE key = $1 AND day = $2), 0)`, key, day).Scan(&v)
	return v, err
}

// charge adds n to key's counter of day and of all days when both stay
// within their limits (0: none). Charges of one key take turns (an
// advisory lock on the key), so two cannot both pass on the same room.
//
// One round trip: the lock, the conditional upsert of both counters and
// the read of what they hold after it go as one batch, which PostgreSQL
// runs as one implicit transaction (the lock is held to its end). Each
// statement reads a snapshot taken when it starts, after the lock was
// granted, so the upsert sees every charge that held the lock before it.
func (c *Catalog) charge(ctx context.Context, key, day string, n, maxDay, maxTotal int64) (ok bool, usedDay, usedTotal int64, err error) {
	var tag pgconn.CommandTag
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, lockKey("charge", c.schema, key))
	b.Queue(`INSERT INTO upload_usage(key, day, bytes)
		SELECT $1, d, $3::bigint FROM (VALUES ($2::text), ('total')) v(d)
		WHERE ($4::bigint = 0 OR COALESCE((SELECT bytes FROM upload_usage WHERE key = $1 AND day = $2), 0) + $3::bigint <= $4::bigint)
		  AND ($5::bigint = 0 OR COALESCE((SELECT bytes FROM upload_usage WHERE key = $1 AND day = 'total'), 0) + $3::bigint <= $5::bigint)
		ON CONFLICT(key, day) DO UPDATE SET bytes = upload_usage.bytes + excluded.bytes`, key, day, n, maxDay, maxTotal).
		Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	b.Queue(`SELECT COALESCE((SELECT bytes FROM upload_usage WHERE key = $1 AND day = $2), 0), COALESCE((SELECT bytes FROM upload_usage WHERE key = $1 AND day = 'total'), 0)`, key, day).
		QueryRow(func(r pgx.Row) error { return r.Scan(&usedDay, &usedTotal) })
	if err := c.ops.SendBatch(ctx, b).Close(); err != nil {
		return false, 0, 0, err
	}
	return tag.RowsAffected() > 0, usedDay, usedTotal, nil
}
