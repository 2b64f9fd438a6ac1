package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PutGrant records an issued grant; a grant id recorded already keeps its
// first grant.
func (t *Tx) PutGrant(id, asset, licensee string, envelope []byte, index uint64) error {
	return t.later(`INSERT INTO grants(id, asset, licensee, envelope, log_index) VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`, id, asset, licensee, string(envelope), int64(index))
}

// PutNewGrant records an issued grant the way PutGrant does, except that a
// grant id recorded already fails the entry with dup (which should match
// catalog.ErrNoEffect) instead of keeping the first: the primary key does
// the duplicate check, in the write's round trip, so the applier need not
// read the grant first. The error may come from a later statement of the
// entry or only when the entry's writes are sent after it; either way the
// entry's changes are undone and it is recorded as applied.
func (t *Tx) PutNewGrant(id, asset, licensee string, envelope []byte, index uint64, dup error) error {
	return t.tx.laterFail(func(err error) error {
		if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "23505" && pe.ConstraintName == "grants_pkey" {
			return dup
		}
		return err
	}, `INSERT INTO grants(id, asset, licensee, envelope, log_index) VALUES($1,$2,$3,$4,$5)`, id, asset, licensee, string(envelope), int64(index))
}

// RevokeGrant marks a grant revoked.
func (t *Tx) RevokeGrant(id string) error {
	return t.later(`UPDATE grants SET revoked = true WHERE id = $1`, id)
}

const grantQuery = `SELECT g.id, g.asset, g.licensee, g.envelope, g.revoked, g.log_index, COALESCE(u.bytes, 0), COALESCE(u.requests, 0)
	FROM grants g LEFT JOIN grant_usage u ON u."grant" = g.id`

// Grant returns a grant.
func (c *Catalog) Grant(ctx context.Context, id string) (*catalog.GrantRecord, error) {
	return scanGrant(c.pool.QueryRow(ctx, grantQuery+` WHERE g.id = $1`, id), id)
}

// Grant is Catalog.Grant inside the transaction.
func (t *Tx) Grant(id string) (*catalog.GrantRecord, error) {
	return scanGrant(t.queryRow(grantQuery+` WHERE g.id = $1`, id), id)
}

func scanGrant(row scanner, id string) (*catalog.GrantRecord, error) {
	var g catalog.GrantRecord
	var env string
	var idx int64
	err := row.Scan(&g.ID, &g.Asset, &g.Licensee, &env, &g.Revoked, &idx, &g.Bytes, &g.Requests)
	if errors.Is(err, pgx.ErrNoRows) {
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
	// One query per filter, so each uses its index.
	q, args := grantQuery+` ORDER BY g.log_index DESC LIMIT 1000`, []any{}
	switch {
	case asset != "" && licensee != "":
		q, args = grantQuery+` WHERE g.asset = $1 AND g.licensee = $2 ORDER BY g.log_index DESC LIMIT 1000`, []any{asset, licensee}
	case asset != "":
		q, args = grantQuery+` WHERE g.asset = $1 ORDER BY g.log_index DESC LIMIT 1000`, []any{asset}
	case licensee != "":
		q, args = grantQuery+` WHERE g.licensee = $1 ORDER BY g.log_index DESC LIMIT 1000`, []any{licensee}
	}
	rows, err := c.pool.Query(ctx, q, args...)
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
	// The upsert locks the counter's row: concurrent charges of one grant
	// take turns, each checking the count the previous one left.
	tag, err := c.ops.Exec(ctx, `INSERT INTO grant_usage("grant", bytes, requests) VALUES($1, $2, 1)
		ON CONFLICT("grant") DO UPDATE SET bytes = grant_usage.bytes + excluded.bytes, requests = grant_usage.requests + 1
		WHERE ($3::bigint = 0 OR grant_usage.bytes + excluded.bytes <= $3::bigint) AND ($4::bigint = 0 OR grant_usage.requests + 1 <= $4::bigint)`,
		grant, n, maxBytes, maxRequests)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// PutGrantRequest records a queued request; one recorded already is kept.
func (t *Tx) PutGrantRequest(id, asset string, envelope []byte, decision, index uint64) error {
	return t.later(`INSERT INTO grant_requests(id, asset, envelope, decision, status, log_index) VALUES($1,$2,$3,$4,'pending',$5) ON CONFLICT DO NOTHING`, id, asset, string(envelope), int64(decision), int64(index))
}

// SetGrantRequestStatus updates a queued request.
func (t *Tx) SetGrantRequestStatus(id, status string) error {
	return t.later(`UPDATE grant_requests SET status = $1 WHERE id = $2`, status, id)
}

// AddGrantApproval records an owner's decision on a queued request; an
// owner's first decision stands.
func (t *Tx) AddGrantApproval(request, approver string, approve bool, envelope []byte, index uint64) error {
	return t.later(`INSERT INTO grant_approvals(request, approver, approve, envelope, log_index) VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`, request, approver, approve, string(envelope), int64(index))
}

// GrantRequest returns a queued request.
func (c *Catalog) GrantRequest(ctx context.Context, id string) (*catalog.GrantRequestRecord, error) {
	return grantRequest(ctx, c.pool, id)
}

// GrantRequest is Catalog.GrantRequest inside the transaction.
func (t *Tx) GrantRequest(id string) (*catalog.GrantRequestRecord, error) {
	return grantRequest(t.ctx, t.tx, id)
}

func grantRequest(ctx context.Context, q querier, id string) (*catalog.GrantRequestRecord, error) {
	r := &catalog.GrantRequestRecord{ID: id, Votes: map[string]bool{}}
	var env string
	var dec, idx int64
	err := q.QueryRow(ctx, `SELECT asset, envelope, decision, status, log_index FROM grant_requests WHERE id = $1`, id).Scan(&r.Asset, &env, &dec, &r.Status, &idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("grant request %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	r.Envelope, r.Decision, r.LogIndex = []byte(env), uint64(dec), uint64(idx)
	rows, err := q.Query(ctx, `SELECT approver, approve FROM grant_approvals WHERE request = $1`, id)
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
	rows, err := c.pool.Query(ctx, `SELECT id FROM grant_requests WHERE ($1 = '' OR asset = $1) AND ($2 = '' OR status = $2) ORDER BY log_index`, asset, status)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
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

// RequestSeen reports whether a grant request id was granted or queued
// already, in one query (the replay check before a request is decided;
// Grant and GrantRequest ask it in two).
func (c *Catalog) RequestSeen(ctx context.Context, id string) (granted, queued bool, err error) {
	err = c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grants WHERE id = $1), EXISTS (SELECT 1 FROM grant_requests WHERE id = $1)`, id).Scan(&granted, &queued)
	return granted, queued, err
}

// RequestSeenAt is RequestSeen that also returns the applied watermark
// (Watermark), read by the same statement: a replica deciding a request
// needs both, the watermark as the generation of its cached asset records.
func (c *Catalog) RequestSeenAt(ctx context.Context, id string) (granted, queued bool, watermark uint64, err error) {
	var w int64
	err = c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grants WHERE id = $1), EXISTS (SELECT 1 FROM grant_requests WHERE id = $1),
		COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0)`, id).Scan(&granted, &queued, &w)
	return granted, queued, uint64(w), err
}
