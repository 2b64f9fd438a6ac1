package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/catalog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Download metering, as in catalog/sqlite (see meter.go there for the
// flow). SQLite has one writer; here concurrent writers are ordered by
// locks: a reservation takes an advisory lock on its quota key (the only
// change that adds to a quota's use), served bytes lock their session's
// row, and sealing locks the rows of the sessions it seals, so a session is
// never sealed twice.

const quotaUseQuery = `SELECT
	(COALESCE((SELECT bytes FROM quota_usage WHERE quota = $1), 0)
	  + COALESCE((SELECT SUM(bytes + reserved) FROM meter_sessions WHERE quota = $1), 0)
	  + COALESCE((SELECT SUM(bytes) FROM meter_sealed WHERE quota = $1), 0))::bigint,
	(COALESCE((SELECT requests FROM quota_usage WHERE quota = $1), 0)
	  + COALESCE((SELECT SUM(requests) FROM meter_sessions WHERE quota = $1), 0)
	  + COALESCE((SELECT SUM(requests) FROM meter_sealed WHERE quota = $1), 0))::bigint`

// QuotaUse returns the bytes and requests counted against a quota key:
// logged receipts, sealed receipts awaiting the log, open sessions and
// reservations in flight.
func (c *Catalog) QuotaUse(ctx context.Context, key string) (bytes, requests int64, err error) {
	err = c.pool.QueryRow(ctx, quotaUseQuery, key).Scan(&bytes, &requests)
	return bytes, requests, err
}

// MeterReserve records one request of session k that will serve n bytes,
// if the quota allows it, and reports whether it did. The n bytes count
// against the quota until MeterServed releases what was not sent.
func (c *Catalog) MeterReserve(ctx context.Context, k catalog.MeterKey, n int64, q catalog.Quota, now time.Time) (bool, error) {
	if q.MaxBytes > 0 && n > q.MaxBytes {
		return false, nil
	}
	ok := false
	err := pgx.BeginFunc(ctx, c.ops, func(tx pgx.Tx) error {
		ok = false
		if q.MaxBytes > 0 || q.MaxRequests > 0 {
			var b, r int64
			batch := &pgx.Batch{}
			batch.Queue(`SELECT pg_advisory_xact_lock($1)`, lockKey("quota", c.schema, k.Quota))
			batch.Queue(quotaUseQuery, k.Quota).QueryRow(func(row pgx.Row) error { return row.Scan(&b, &r) })
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return err
			}
			if (q.MaxBytes > 0 && b+n > q.MaxBytes) || (q.MaxRequests > 0 && r+1 > q.MaxRequests) {
				return nil
			}
		}
		t := now.UnixNano()
		batch := &pgx.Batch{}
		batch.Queue(`INSERT INTO meter_sessions("grant", session, asset, licensee, quota, requests, reserved, started, last) VALUES($1,$2,$3,$4,$5,1,$6,$7,$7)
			ON CONFLICT("grant", session) DO UPDATE SET requests = meter_sessions.requests + 1, reserved = meter_sessions.reserved + excluded.reserved,
				started = CASE WHEN meter_sessions.started = 0 THEN excluded.started ELSE meter_sessions.started END, last = excluded.last`,
			k.Grant, k.Session, k.Asset, k.Licensee, k.Quota, n, t)
		batch.Queue(`INSERT INTO grant_usage("grant", bytes, requests) VALUES($1, 0, 1)
			ON CONFLICT("grant") DO UPDATE SET requests = grant_usage.requests + 1`, k.Grant)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("catalog: metering a request: %w", err)
	}
	return ok, nil
}

// MeterServed records that session (grant, session) served bytes
// [off, off+n) of content and releases release bytes of its reservation
// (n, and at the end of a request also what it did not send). It returns
// how many merged ranges the session now holds, so that the caller can
// seal a session before its receipt would list too many.
func (c *Catalog) MeterServed(ctx context.Context, grant, session, content string, off, n, release int64, now time.Time) (int, error) {
	// One round trip: the statements go as one batch, which PostgreSQL
	// runs as one implicit transaction. The session's row update locks it
	// (a session without a row takes an advisory lock instead), so ranges
	// of one session are merged one request at a time; each statement sees
	// what the ones before it wrote.
	b := &pgx.Batch{}
	b.Queue(`UPDATE meter_sessions SET bytes = bytes + $1, reserved = GREATEST(0, reserved - $2), last = $3,
		started = CASE WHEN started = 0 THEN $3 ELSE started END WHERE "grant" = $4 AND session = $5`,
		n, release, now.UnixNano(), grant, session)
	ranges := 0
	if n > 0 {
		b.Queue(`SELECT pg_advisory_xact_lock($1) WHERE NOT EXISTS (SELECT 1 FROM meter_sessions WHERE "grant" = $2 AND session = $3)`,
			lockKey("session", c.schema, grant, session), grant, session)
		b.Queue(`UPDATE grant_usage SET bytes = bytes + $1 WHERE "grant" = $2`, n, grant)
		// Merge [off, off+n) with the ranges it overlaps or touches
		// (stored ranges are disjoint): they are replaced by their hull.
		b.Queue(`WITH old AS (
				DELETE FROM meter_ranges WHERE "grant" = $1 AND session = $2 AND content = $3 AND start <= $5 AND stop >= $4
				RETURNING start, stop)
			INSERT INTO meter_ranges("grant", session, content, start, stop)
			SELECT $1, $2, $3, LEAST($4, COALESCE(min(start), $4)), GREATEST($5, COALESCE(max(stop), $5)) FROM old`,
			grant, session, content, off, off+n)
		// Past catalog.MaxRangesPerContent ranges, collapse the content's
		// ranges to their hull: the byte count stays exact, the ranges
		// stay bounded.
		b.Queue(`WITH all_ AS (
				DELETE FROM meter_ranges WHERE "grant" = $1 AND session = $2 AND content = $3
				AND (SELECT count(*) FROM meter_ranges WHERE "grant" = $1 AND session = $2 AND content = $3) > $4
				RETURNING start, stop)
			INSERT INTO meter_ranges("grant", session, content, start, stop)
			SELECT $1, $2, $3, min(start), max(stop) FROM all_ HAVING count(*) > 0`,
			grant, session, content, catalog.MaxRangesPerContent)
		b.Queue(`SELECT count(*) FROM meter_ranges WHERE "grant" = $1 AND session = $2`, grant, session).
			QueryRow(func(r pgx.Row) error { return r.Scan(&ranges) })
	}
	if err := c.ops.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("catalog: metering served bytes: %w", err)
	}
	return ranges, nil
}

// InFlight returns the bytes reserved by requests of licensee's sessions
// named session that have not finished.
func (c *Catalog) InFlight(ctx context.Context, session, licensee string) (int64, error) {
	var n int64
	err := c.pool.QueryRow(ctx, `SELECT COALESCE(SUM(reserved), 0)::bigint FROM meter_sessions WHERE session = $1 AND licensee = $2`, session, licensee).Scan(&n)
	return n, err
}

// HasSession reports whether licensee has a session named session with
// anything to seal.
func (c *Catalog) HasSession(ctx context.Context, session, licensee string) (bool, error) {
	var n int
	err := c.pool.QueryRow(ctx, `SELECT count(*) FROM meter_sessions WHERE session = $1 AND licensee = $2 AND requests > 0`, session, licensee).Scan(&n)
	return n > 0, err
}

// SealSessions turns every selected session that served a request into a
// receipt: sign builds and signs it from the session's state, the signed
// envelope is kept in meter_sealed, and the session starts over (what it
// has in flight stays reserved and goes to its next receipt), all in one
// transaction. It returns the sealed receipts, oldest session first. A
// session sign fails for is left open and its error returned with the
// others sealed: one bad session does not hold up the rest.
//
// The selected sessions' rows are locked (FOR UPDATE): a concurrent seal
// of the same session waits, then finds nothing left to seal.
func (c *Catalog) SealSessions(ctx context.Context, f catalog.SessionFilter, sign func(*catalog.OpenSession) ([]byte, error)) ([]catalog.SealedReceipt, error) {
	var out []catalog.SealedReceipt
	var signErrs []error
	err := pgx.BeginFunc(ctx, c.ops, func(tx pgx.Tx) error {
		out, signErrs = nil, nil
		var rows pgx.Rows
		var err error
		const cols = `SELECT "grant", session, asset, licensee, quota, bytes, requests, started, last, part FROM meter_sessions`
		if !f.IdleBefore.IsZero() {
			rows, err = tx.Query(ctx, cols+` WHERE requests > 0 AND last < $1 ORDER BY started, "grant", session FOR UPDATE`, f.IdleBefore.UnixNano())
		} else {
			rows, err = tx.Query(ctx, cols+` WHERE requests > 0 AND session = $1 AND licensee = $2 AND ($3 = '' OR "grant" = $3) ORDER BY started, "grant", session FOR UPDATE`, f.Session, f.Licensee, f.Grant)
		}
		if err != nil {
			return err
		}
		var open []*catalog.OpenSession
		for rows.Next() {
			s := &catalog.OpenSession{}
			var started, last int64
			if err := rows.Scan(&s.Grant, &s.Session, &s.Asset, &s.Licensee, &s.Quota, &s.Bytes, &s.Requests, &started, &last, &s.Part); err != nil {
				rows.Close()
				return err
			}
			s.Started, s.Last, s.Part = time.Unix(0, started).UTC(), time.Unix(0, last).UTC(), s.Part+1
			open = append(open, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range open {
			rr, err := tx.Query(ctx, `SELECT content, start, stop FROM meter_ranges WHERE "grant" = $1 AND session = $2 ORDER BY content, start`, s.Grant, s.Session)
			if err != nil {
				return err
			}
			for rr.Next() {
				var r catalog.MeterRange
				if err := rr.Scan(&r.Content, &r.Start, &r.End); err != nil {
					rr.Close()
					return err
				}
				s.Ranges = append(s.Ranges, r)
			}
			rr.Close()
			if err := rr.Err(); err != nil {
				return err
			}
			env, err := sign(s)
			if err != nil {
				signErrs = append(signErrs, fmt.Errorf("session %s under grant %s: %w", s.Session, s.Grant, err))
				continue
			}
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO meter_sealed("grant", session, part, quota, bytes, requests, envelope) VALUES($1,$2,$3,$4,$5,$6,$7)`,
				s.Grant, s.Session, s.Part, s.Quota, s.Bytes, s.Requests, string(env))
			b.Queue(`UPDATE meter_sessions SET bytes = 0, requests = 0, started = 0, part = $1 WHERE "grant" = $2 AND session = $3`, s.Part, s.Grant, s.Session)
			b.Queue(`DELETE FROM meter_ranges WHERE "grant" = $1 AND session = $2`, s.Grant, s.Session)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			out = append(out, catalog.SealedReceipt{Grant: s.Grant, Session: s.Session, Part: s.Part, Envelope: env})
		}
		// Sessions with nothing to seal and nothing in flight, idle for a
		// day, are forgotten (their next receipt restarts at part 1, with
		// other times, so under another id).
		_, err = tx.Exec(ctx, `DELETE FROM meter_sessions WHERE requests = 0 AND reserved = 0 AND last < $1`, time.Now().Add(-24*time.Hour).UnixNano())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: sealing sessions: %w", err)
	}
	return out, errors.Join(signErrs...)
}

// SealedReceipts returns the sealed receipts whose log entries were not
// applied: after a restart (and replay), the ones never logged.
func (c *Catalog) SealedReceipts(ctx context.Context) ([]catalog.SealedReceipt, error) {
	rows, err := c.pool.Query(ctx, `SELECT "grant", session, part, envelope FROM meter_sealed ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalog.SealedReceipt
	for rows.Next() {
		var s catalog.SealedReceipt
		var env string
		if err := rows.Scan(&s.Grant, &s.Session, &s.Part, &env); err != nil {
			return nil, err
		}
		s.Envelope = []byte(env)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ReleaseReservations forgets every reservation: on start, no request of
// this process is in flight. (Replicas sharing a database will need
// reservations per replica.)
func (c *Catalog) ReleaseReservations(ctx context.Context) error {
	_, err := c.ops.Exec(ctx, `UPDATE meter_sessions SET reserved = 0 WHERE reserved <> 0`)
	return err
}

// ApplyReceipt records, inside a log entry's transaction, that the receipt
// id of (grant, session, part) is logged: the sealed copy is dropped and,
// the first time the receipt is seen, its bytes and requests are added to
// the quota counters of quota. Call it before PutReceipt.
func (t *Tx) ApplyReceipt(id, grant, session string, part int64, quota string, bytes, requests int64) error {
	var n int
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM meter_sealed WHERE "grant" = $1 AND session = $2 AND part = $3`, grant, session, part)
	b.Queue(`SELECT count(*) FROM receipts WHERE id = $1`, id).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	if err := t.tx.SendBatch(t.ctx, b).Close(); err != nil {
		return err
	}
	if n > 0 {
		return nil // a duplicate entry of a receipt applied before
	}
	// A live row at this part or later sealed this receipt itself: the
	// grant's counter already holds its bytes. A row at an earlier part
	// (a catalog copied before the seal, whose log runs ahead: a live
	// backup) never saw the seal: what the row holds as served is in
	// this receipt, so it starts over (else it would be sealed into a
	// second receipt and billed twice), and the grant's counter gets what
	// the row lacked. Without a row (a rebuild, whose counters are
	// carried over afterwards; a session begun after a backup's copy,
	// which the backup credits) the counters are left alone.
	var have, liveBytes, liveReqs int64
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*), COALESCE(max(part), 0), COALESCE(max(bytes), 0), COALESCE(max(requests), 0) FROM meter_sessions WHERE "grant" = $1 AND session = $2`, grant, session).
		Scan(&n, &have, &liveBytes, &liveReqs); err != nil {
		return err
	}
	b = &pgx.Batch{}
	if n > 0 && have < part {
		b.Queue(`UPDATE meter_sessions SET bytes = 0, requests = 0, started = 0, part = $1 WHERE "grant" = $2 AND session = $3`, part, grant, session)
		b.Queue(`DELETE FROM meter_ranges WHERE "grant" = $1 AND session = $2`, grant, session)
		b.Queue(`INSERT INTO grant_usage("grant", bytes, requests) VALUES($1,$2,$3)
			ON CONFLICT("grant") DO UPDATE SET bytes = grant_usage.bytes + excluded.bytes, requests = grant_usage.requests + excluded.requests`,
			grant, max(0, bytes-liveBytes), max(0, requests-liveReqs))
	}
	b.Queue(`INSERT INTO quota_usage(quota, bytes, requests) VALUES($1,$2,$3)
		ON CONFLICT(quota) DO UPDATE SET bytes = quota_usage.bytes + excluded.bytes, requests = quota_usage.requests + excluded.requests`, quota, bytes, requests)
	return t.tx.SendBatch(t.ctx, b).Close()
}
