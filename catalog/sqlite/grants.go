package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/catalog"
)

const grantSchema = `
-- guards is no longer written (who may read content is decided from claims,
-- asset.ContentAccess); it stays so that older catalog files keep a known table.
CREATE TABLE IF NOT EXISTS guards (
	content TEXT NOT NULL,
	asset   TEXT NOT NULL,
	PRIMARY KEY (content, asset)
);
CREATE TABLE IF NOT EXISTS grants (
	id         TEXT PRIMARY KEY,
	asset      TEXT NOT NULL,
	licensee   TEXT NOT NULL,
	envelope   TEXT NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0,
	log_index  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS grant_requests (
	id        TEXT PRIMARY KEY,
	asset     TEXT NOT NULL,
	envelope  TEXT NOT NULL,
	decision  INTEGER NOT NULL,
	status    TEXT NOT NULL,
	log_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS grant_approvals (
	request   TEXT NOT NULL,
	approver  TEXT NOT NULL,
	approve   INTEGER NOT NULL,
	envelope  TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	PRIMARY KEY (request, approver)
);
-- Usage counters enforce quotas; they are operational state, not derived
-- from the log (receipts are), and are not part of Dump.
CREATE TABLE IF NOT EXISTS grant_usage (
	grant    TEXT PRIMARY KEY,
	bytes    INTEGER NOT NULL DEFAULT 0,
	requests INTEGER NOT NULL DEFAULT 0
);
`

func init() {
	extraSchema = append(extraSchema, grantSchema)
	extraDumpQueries = append(extraDumpQueries,
		`SELECT 'guard ' || content || ' ' || asset FROM guards`,
		`SELECT 'grant ' || id || ' ' || asset || ' ' || licensee || ' ' || revoked || ' ' || log_index || ' ' || envelope FROM grants`,
		`SELECT 'grant-request ' || id || ' ' || asset || ' ' || decision || ' ' || status || ' ' || log_index FROM grant_requests`,
		`SELECT 'grant-approval ' || request || ' ' || approver || ' ' || approve || ' ' || log_index FROM grant_approvals`,
	)
}

// PutGrant records an issued grant; a grant id recorded already keeps its
// first grant.
func (t *Tx) PutGrant(id, asset, licensee string, envelope []byte, index uint64) error {
	_, err := t.exec(`INSERT INTO grants(id, asset, licensee, envelope, log_index, page) VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING`, id, asset, licensee, string(envelope), int64(index), pageForm(envelope))
	return err
}

// RevokeGrant marks a grant revoked.
func (t *Tx) RevokeGrant(id string) error {
	_, err := t.exec(`UPDATE grants SET revoked = 1 WHERE id = ?`, id)
	return err
}

// Grant returns a grant.
func (c *Catalog) Grant(ctx context.Context, id string) (*catalog.GrantRecord, error) {
	return scanGrant(c.queryRow(ctx, grantQuery+` WHERE g.id = ?`, id), id)
}

// Grant is Catalog.Grant inside the transaction.
func (t *Tx) Grant(id string) (*catalog.GrantRecord, error) {
	return scanGrant(t.queryRow(grantQuery+` WHERE g.id = ?`, id), id)
}

const grantQuery = `SELECT g.id, g.asset, g.licensee, g.envelope, g.revoked, g.log_index, COALESCE(u.bytes, 0), COALESCE(u.requests, 0)
	FROM grants g LEFT JOIN grant_usage u ON u.grant = g.id`

func scanGrant(row scanner, id string) (*catalog.GrantRecord, error) {
	var g catalog.GrantRecord
	var env string
	var idx int64
	err := row.Scan(&g.ID, &g.Asset, &g.Licensee, &env, &g.Revoked, &idx, &g.Bytes, &g.Requests)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	g.Envelope, g.LogIndex = []byte(env), uint64(idx)
	return &g, nil
}

// Grants lists grants of an asset ("" for all) or of a licensee ("" for
// all), newest first.
func (c *Catalog) Grants(ctx context.Context, asset, licensee string) ([]*catalog.GrantRecord, error) {
	rows, err := c.db.QueryContext(ctx, grantQuery+` WHERE (? = '' OR g.asset = ?) AND (? = '' OR g.licensee = ?) ORDER BY g.log_index DESC LIMIT 1000`, asset, asset, licensee, licensee)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.GrantRecord
	for rows.Next() {
		g, err := scanGrant(rows, "")
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ChargeUsage adds one request of n bytes to a grant's usage if the quotas
// (zero: unlimited) allow it, atomically, and reports whether they did.
func (c *Catalog) ChargeUsage(ctx context.Context, grant string, n, maxBytes, maxRequests int64) (bool, error) {
	if maxBytes > 0 && n > maxBytes {
		// Over the quota on its own: refused without counting anything
		// (the upsert's WHERE only guards the update, not a first insert).
		return false, nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	res, err := c.db.ExecContext(ctx, `INSERT INTO grant_usage(grant, bytes, requests) VALUES(?, ?, 1)
		ON CONFLICT(grant) DO UPDATE SET bytes = bytes + excluded.bytes, requests = requests + 1
		WHERE (? = 0 OR bytes + excluded.bytes <= ?) AND (? = 0 OR requests + 1 <= ?)`,
		grant, n, maxBytes, maxBytes, maxRequests, maxRequests)
	if err != nil {
		return false, err
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

// PutGrantRequest records a queued request; one recorded already is kept.
func (t *Tx) PutGrantRequest(id, asset string, envelope []byte, decision, index uint64) error {
	_, err := t.exec(`INSERT INTO grant_requests(id, asset, envelope, decision, status, log_index) VALUES(?,?,?,?,'pending',?) ON CONFLICT DO NOTHING`, id, asset, string(envelope), int64(decision), int64(index))
	return err
}

// SetGrantRequestStatus updates a queued request.
func (t *Tx) SetGrantRequestStatus(id, status string) error {
	_, err := t.exec(`UPDATE grant_requests SET status = ? WHERE id = ?`, status, id)
	return err
}

// AddGrantApproval records an owner's decision on a queued request; an
// owner's first decision stands.
func (t *Tx) AddGrantApproval(request, approver string, approve bool, envelope []byte, index uint64) error {
	_, err := t.exec(`INSERT INTO grant_approvals(request, approver, approve, envelope, log_index) VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING`, request, approver, approve, string(envelope), int64(index))
	return err
}

// GrantRequest returns a queued request.
func (c *Catalog) GrantRequest(ctx context.Context, id string) (*catalog.GrantRequestRecord, error) {
	return grantRequest(ctx, readers{c}, id)
}

// GrantRequest is Catalog.GrantRequest inside the transaction.
func (t *Tx) GrantRequest(id string) (*catalog.GrantRequestRecord, error) {
	return grantRequest(t.ctx, txQuerier{t}, id)
}

func grantRequest(ctx context.Context, q querier, id string) (*catalog.GrantRequestRecord, error) {
	r := &catalog.GrantRequestRecord{ID: id, Votes: map[string]bool{}}
	var env string
	var dec, idx int64
	err := q.QueryRowContext(ctx, `SELECT asset, envelope, decision, status, log_index FROM grant_requests WHERE id = ?`, id).Scan(&r.Asset, &env, &dec, &r.Status, &idx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant request %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	r.Envelope, r.Decision, r.LogIndex = []byte(env), uint64(dec), uint64(idx)
	rows, err := q.QueryContext(ctx, `SELECT approver, approve FROM grant_approvals WHERE request = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var who string
		var ok bool
		if err := rows.Scan(&who, &ok); err != nil {
			return nil, err
		}
		r.Votes[who] = ok
	}
	return r, rows.Err()
}

// GrantRequests lists queued requests for an asset ("" for all) with a
// status ("" for any).
func (c *Catalog) GrantRequests(ctx context.Context, asset, status string) ([]*catalog.GrantRequestRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM grant_requests WHERE (? = '' OR asset = ?) AND (? = '' OR status = ?) ORDER BY log_index`, asset, asset, status, status)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		ids = append(ids, s)
	}
	rows.Close()
	var out []*catalog.GrantRequestRecord
	for _, id := range ids {
		r, err := c.GrantRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
