package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
)

// Content governance (docs/spec/content-governance.md): which registered
// assets claim which content, who signed each registration, and which
// datasets are unindexed. asset.ContentAccess decides from these rows who
// may read; the catalog only keeps them.
const governanceSchema = `
CREATE TABLE IF NOT EXISTS claimants (
	asset     TEXT PRIMARY KEY,
	content   TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	signers   TEXT NOT NULL,
	conflict  INTEGER NOT NULL,
	dataset   INTEGER NOT NULL,
	unindexed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS claimants_content ON claimants(content);
CREATE INDEX IF NOT EXISTS claimants_unindexed ON claimants(log_index) WHERE unindexed = 1;
CREATE TABLE IF NOT EXISTS content_claims (
	content TEXT NOT NULL,
	asset   TEXT NOT NULL,
	PRIMARY KEY (content, asset)
);
CREATE INDEX IF NOT EXISTS content_claims_asset ON content_claims(asset);
-- Per-key counters by UTC day ('total': all days): bytes uploaded (key:
-- the DID) and grant requests evaluated (key: 'grant-requests ' + DID).
-- Operational state for quotas, not derived from the log, not in Dump.
CREATE TABLE IF NOT EXISTS upload_usage (
	key   TEXT NOT NULL,
	day   TEXT NOT NULL,
	bytes INTEGER NOT NULL,
	PRIMARY KEY (key, day)
);
`

func init() {
	extraSchema = append(extraSchema, governanceSchema)
	extraDumpQueries = append(extraDumpQueries,
		`SELECT 'claimant ' || asset || ' ' || content || ' ' || log_index || ' ' || conflict || ' ' || dataset || ' ' || unindexed || ' ' || signers FROM claimants`,
		`SELECT 'claim ' || content || ' ' || asset FROM content_claims`,
	)
}

// PutClaimant records a registered asset's claimant row and its claim on
// its own content.
func (t *Tx) PutClaimant(c catalog.Claimant) error {
	signers, err := json.Marshal(c.Signers)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO claimants(asset, content, log_index, signers, conflict, dataset, unindexed) VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(asset) DO UPDATE SET dataset = excluded.dataset, unindexed = excluded.unindexed`,
		c.Asset.String(), c.Content, int64(c.LogIndex), string(signers), c.Conflict, c.Dataset, c.Unindexed); err != nil {
		return fmt.Errorf("catalog: claimant %s: %w", c.Asset, err)
	}
	return t.Claim(c.Content, c.Asset.String())
}

// Claim records that an asset claims content (a file of its dataset).
func (t *Tx) Claim(content, asset string) error {
	_, err := t.exec(claimQuery, content, asset)
	return err
}

// Claims records many claims of one asset through one statement: each is
// called with a function that records one claimed content id. (Tx.exec
// makes a transaction statement per call, which database/sql keeps until
// the transaction ends: a million-file dataset would hold a million.)
func (t *Tx) Claims(asset string, each func(add func(content string) error) error) error {
	s, err := t.c.stmt(t.ctx, claimQuery)
	if err != nil {
		return err
	}
	st := t.tx.StmtContext(t.ctx, s)
	return each(func(content string) error {
		_, err := st.ExecContext(t.ctx, content, asset)
		return err
	})
}

const claimQuery = `INSERT INTO content_claims(content, asset) VALUES(?,?) ON CONFLICT DO NOTHING`

// DropFileClaims forgets the claims of an asset on anything but its own
// content: a dataset whose index turned out unreadable half-way.
func (t *Tx) DropFileClaims(a asset.ID, own string) error {
	_, err := t.exec(`DELETE FROM content_claims WHERE asset = ? AND content != ?`, a.String(), own)
	return err
}

// ContentClaims returns every claim on content with its claimant.
func (c *Catalog) ContentClaims(ctx context.Context, content string) ([]asset.ContentClaim, error) {
	rows, err := c.query(ctx, `SELECT k.asset, k.log_index, k.signers, k.conflict FROM content_claims c JOIN claimants k ON k.asset = c.asset WHERE c.content = ? ORDER BY k.log_index`, content)
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
	rows, err := c.query(ctx, `SELECT asset, content, log_index FROM claimants WHERE unindexed = 1 ORDER BY log_index`)
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
	err := c.queryRow(ctx, `SELECT 1 FROM claimants WHERE content = ? AND dataset = 1 LIMIT 1`, content).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Reindex records the file claims of unindexed datasets whose index is
// stored again: claims is called once per dataset with a function that
// records one claim, and returns an error if the index does not read; the
// dataset then stays unindexed. It returns the datasets reindexed.
func (c *Catalog) Reindex(ctx context.Context, content string, claims func(add func(file string) error) error) ([]asset.ID, error) {
	rows, err := c.query(ctx, `SELECT asset FROM claimants WHERE unindexed = 1 AND content = ?`, content)
	if err != nil {
		return nil, err
	}
	var todo []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return nil, err
		}
		todo = append(todo, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return nil, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	var done []asset.ID
	for _, a := range todo {
		id, err := asset.ParseID(a)
		if err != nil {
			return done, err
		}
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return done, err
		}
		t := &Tx{tx: tx, ctx: ctx, c: c}
		err = t.Claims(a, claims)
		if err == nil {
			_, err = t.exec(`UPDATE claimants SET unindexed = 0, dataset = 1 WHERE asset = ?`, a)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback()
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
	err := c.queryRow(ctx, `SELECT bytes FROM upload_usage WHERE key = ? AND day = ?`, key, day).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// charge adds n to key's counter of day and of all days when both stay
// within their limits (0: none).
func (c *Catalog) charge(ctx context.Context, key, day string, n, maxDay, maxTotal int64) (ok bool, usedDay, usedTotal int64, err error) {
	err = c.grouped(ctx, func(t *Tx) error {
		get := func(d string) (int64, error) {
			var v int64
			err := t.queryRow(`SELECT bytes FROM upload_usage WHERE key = ? AND day = ?`, key, d).Scan(&v)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, nil
			}
			return v, err
		}
		var err error
		if usedDay, err = get(day); err != nil {
			return err
		}
		if usedTotal, err = get("total"); err != nil {
			return err
		}
		if ok = (maxDay <= 0 || usedDay+n <= maxDay) && (maxTotal <= 0 || usedTotal+n <= maxTotal); !ok {
			return nil
		}
		for _, d := range []string{day, "total"} {
			if _, err := t.exec(`INSERT INTO upload_usage(key, day, bytes) VALUES(?,?,?) ON CONFLICT(key, day) DO UPDATE SET bytes = bytes + excluded.bytes`, key, d, n); err != nil {
				return err
			}
		}
		usedDay, usedTotal = usedDay+n, usedTotal+n
		return nil
	})
	if err != nil {
		return false, 0, 0, err
	}
	return ok, usedDay, usedTotal, nil
}
