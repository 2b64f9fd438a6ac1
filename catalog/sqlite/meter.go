package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/catalog"
)

// Download metering. A data request under a grant first reserves its bytes
// against the quota (MeterReserve), then records the bytes it actually
// wrote as it goes (MeterServed), releasing the reservation of what it did
// not send. A session is closed by sealing it (SealSessions): its state
// becomes a signed receipt kept in meter_sealed and the live row starts
// over; applying the receipt's log entry deletes the sealed row and adds
// the receipt to the quota counters in the same transaction. So a crash at
// any point loses no metered byte and logs no byte twice: a live session is
// sealed after a restart, a sealed receipt not yet in the log is logged
// again (the same envelope), and one already logged was applied by replay.
//
// meter_sessions, meter_ranges and meter_sealed are operational state, not
// derived from the log and not part of Dump; a rebuild carries them over
// (OperationalTables, CarryOver). quota_usage is derived from receipts and
// is part of Dump.
const meterSchema = `
CREATE TABLE IF NOT EXISTS meter_sessions (
	grant    TEXT NOT NULL,
	session  TEXT NOT NULL,
	asset    TEXT NOT NULL,
	licensee TEXT NOT NULL,
	quota    TEXT NOT NULL,
	bytes    INTEGER NOT NULL DEFAULT 0,
	requests INTEGER NOT NULL DEFAULT 0,
	reserved INTEGER NOT NULL DEFAULT 0,
	started  INTEGER NOT NULL DEFAULT 0,
	last     INTEGER NOT NULL DEFAULT 0,
	part     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (grant, session)
);
CREATE INDEX IF NOT EXISTS meter_sessions_quota ON meter_sessions(quota);
CREATE INDEX IF NOT EXISTS meter_sessions_last ON meter_sessions(last);
CREATE TABLE IF NOT EXISTS meter_ranges (
	grant   TEXT NOT NULL,
	session TEXT NOT NULL,
	content TEXT NOT NULL,
	start   INTEGER NOT NULL,
	stop    INTEGER NOT NULL,
	PRIMARY KEY (grant, session, content, start)
);
CREATE TABLE IF NOT EXISTS meter_sealed (
	grant    TEXT NOT NULL,
	session  TEXT NOT NULL,
	part     INTEGER NOT NULL,
	quota    TEXT NOT NULL,
	bytes    INTEGER NOT NULL,
	requests INTEGER NOT NULL,
	envelope TEXT NOT NULL,
	PRIMARY KEY (grant, session, part)
);
CREATE INDEX IF NOT EXISTS meter_sealed_quota ON meter_sealed(quota);
CREATE TABLE IF NOT EXISTS quota_usage (
	quota    TEXT PRIMARY KEY,
	bytes    INTEGER NOT NULL,
	requests INTEGER NOT NULL
);
`

func init() {
	extraSchema = append(extraSchema, meterSchema)
	extraDumpQueries = append(extraDumpQueries,
		`SELECT 'quota-usage ' || quota || ' ' || bytes || ' ' || requests FROM quota_usage`)
}

// MaxRangesPerContent is catalog.MaxRangesPerContent.
const MaxRangesPerContent = catalog.MaxRangesPerContent

// QuotaUse is what counts against a quota key: logged receipts, sealed
// receipts awaiting the log, open sessions and reservations in flight.
func quotaUse(ctx context.Context, q querier, key string) (bytes, requests int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT bytes FROM quota_usage WHERE quota = ?1), 0)
		  + COALESCE((SELECT SUM(bytes + reserved) FROM meter_sessions WHERE quota = ?1), 0)
		  + COALESCE((SELECT SUM(bytes) FROM meter_sealed WHERE quota = ?1), 0),
		COALESCE((SELECT requests FROM quota_usage WHERE quota = ?1), 0)
		  + COALESCE((SELECT SUM(requests) FROM meter_sessions WHERE quota = ?1), 0)
		  + COALESCE((SELECT SUM(requests) FROM meter_sealed WHERE quota = ?1), 0)`, key).Scan(&bytes, &requests)
	return bytes, requests, err
}

// QuotaUse returns the bytes and requests counted against a quota key.
func (c *Catalog) QuotaUse(ctx context.Context, key string) (bytes, requests int64, err error) {
	return quotaUse(ctx, c.db, key)
}

// writeTx runs fn in a write transaction, serialised with the catalog's
// other writers.
func (c *Catalog) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// MeterReserve records one request of session k that will serve n bytes,
// if the quota allows it, and reports whether it did. The n bytes count
// against the quota until MeterServed releases what was not sent.
func (c *Catalog) MeterReserve(ctx context.Context, k catalog.MeterKey, n int64, q catalog.Quota, now time.Time) (bool, error) {
	if q.MaxBytes > 0 && n > q.MaxBytes {
		return false, nil
	}
	ok := false
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		if q.MaxBytes > 0 || q.MaxRequests > 0 {
			b, r, err := quotaUse(ctx, tx, k.Quota)
			if err != nil {
				return err
			}
			if (q.MaxBytes > 0 && b+n > q.MaxBytes) || (q.MaxRequests > 0 && r+1 > q.MaxRequests) {
				return nil
			}
		}
		ok = true
		t := now.UnixNano()
		if _, err := tx.ExecContext(ctx, `INSERT INTO meter_sessions(grant, session, asset, licensee, quota, requests, reserved, started, last) VALUES(?,?,?,?,?,1,?,?,?)
			ON CONFLICT(grant, session) DO UPDATE SET requests = requests + 1, reserved = reserved + excluded.reserved,
				started = CASE WHEN started = 0 THEN excluded.started ELSE started END, last = excluded.last`,
			k.Grant, k.Session, k.Asset, k.Licensee, k.Quota, n, t, t); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO grant_usage(grant, bytes, requests) VALUES(?, 0, 1)
			ON CONFLICT(grant) DO UPDATE SET requests = requests + 1`, k.Grant)
		return err
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
	ranges := 0
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE meter_sessions SET bytes = bytes + ?, reserved = max(0, reserved - ?), last = ?,
			started = CASE WHEN started = 0 THEN ? ELSE started END WHERE grant = ? AND session = ?`,
			n, release, now.UnixNano(), now.UnixNano(), grant, session); err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE grant_usage SET bytes = bytes + ? WHERE grant = ?`, n, grant); err != nil {
			return err
		}
		if err := addMeterRange(ctx, tx, grant, session, content, off, off+n); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM meter_ranges WHERE grant = ? AND session = ?`, grant, session).Scan(&ranges)
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: metering served bytes: %w", err)
	}
	return ranges, nil
}

// addMeterRange merges [a, b) into the session's ranges of content.
func addMeterRange(ctx context.Context, tx *sql.Tx, grant, session, content string, a, b int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT start, stop FROM meter_ranges WHERE grant = ? AND session = ? AND content = ? AND start <= ? AND stop >= ?`,
		grant, session, content, b, a)
	if err != nil {
		return err
	}
	var touching [][2]int64
	for rows.Next() {
		var r [2]int64
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			rows.Close()
			return err
		}
		touching = append(touching, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range touching {
		a, b = min(a, r[0]), max(b, r[1])
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM meter_ranges WHERE grant = ? AND session = ? AND content = ? AND start >= ? AND start <= ?`,
		grant, session, content, a, b); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meter_ranges(grant, session, content, start, stop) VALUES(?,?,?,?,?)`, grant, session, content, a, b); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM meter_ranges WHERE grant = ? AND session = ? AND content = ?`, grant, session, content).Scan(&n); err != nil {
		return err
	}
	if n > MaxRangesPerContent {
		// Collapse to the hull: the byte count stays exact, the ranges
		// stay bounded.
		var lo, hi int64
		if err := tx.QueryRowContext(ctx, `SELECT min(start), max(stop) FROM meter_ranges WHERE grant = ? AND session = ? AND content = ?`, grant, session, content).Scan(&lo, &hi); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM meter_ranges WHERE grant = ? AND session = ? AND content = ?`, grant, session, content); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO meter_ranges(grant, session, content, start, stop) VALUES(?,?,?,?,?)`, grant, session, content, lo, hi)
		return err
	}
	return nil
}

// InFlight returns the bytes reserved by requests of licensee's sessions
// named session that have not finished.
func (c *Catalog) InFlight(ctx context.Context, session, licensee string) (int64, error) {
	var n int64
	err := c.queryRow(ctx, `SELECT COALESCE(SUM(reserved), 0) FROM meter_sessions WHERE session = ? AND licensee = ?`, session, licensee).Scan(&n)
	return n, err
}

// HasSession reports whether licensee has a session named session with
// anything to seal.
func (c *Catalog) HasSession(ctx context.Context, session, licensee string) (bool, error) {
	var n int
	err := c.queryRow(ctx, `SELECT count(*) FROM meter_sessions WHERE session = ? AND licensee = ? AND requests > 0`, session, licensee).Scan(&n)
	return n > 0, err
}

// SealSessions turns every selected session that served a request into a
// receipt: sign builds and signs it from the session's state, the signed
// envelope is kept in meter_sealed, and the session starts over (what it
// has in flight stays reserved and goes to its next receipt), all in one
// transaction. It returns the sealed receipts, oldest session first. A
// session sign fails for is left open and its error returned with the
// others sealed: one bad session does not hold up the rest.
func (c *Catalog) SealSessions(ctx context.Context, f catalog.SessionFilter, sign func(*catalog.OpenSession) ([]byte, error)) ([]catalog.SealedReceipt, error) {
	var out []catalog.SealedReceipt
	var signErrs []error
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		var rows *sql.Rows
		var err error
		const cols = `SELECT grant, session, asset, licensee, quota, bytes, requests, started, last, part FROM meter_sessions`
		if !f.IdleBefore.IsZero() {
			rows, err = tx.QueryContext(ctx, cols+` WHERE requests > 0 AND last < ? ORDER BY started`, f.IdleBefore.UnixNano())
		} else {
			rows, err = tx.QueryContext(ctx, cols+` WHERE requests > 0 AND session = ? AND licensee = ? AND (? = '' OR grant = ?) ORDER BY started`, f.Session, f.Licensee, f.Grant, f.Grant)
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
			rr, err := tx.QueryContext(ctx, `SELECT content, start, stop FROM meter_ranges WHERE grant = ? AND session = ? ORDER BY content, start`, s.Grant, s.Session)
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
			if _, err := tx.ExecContext(ctx, `INSERT INTO meter_sealed(grant, session, part, quota, bytes, requests, envelope) VALUES(?,?,?,?,?,?,?)`,
				s.Grant, s.Session, s.Part, s.Quota, s.Bytes, s.Requests, string(env)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE meter_sessions SET bytes = 0, requests = 0, started = 0, part = ? WHERE grant = ? AND session = ?`, s.Part, s.Grant, s.Session); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM meter_ranges WHERE grant = ? AND session = ?`, s.Grant, s.Session); err != nil {
				return err
			}
			out = append(out, catalog.SealedReceipt{Grant: s.Grant, Session: s.Session, Part: s.Part, Envelope: env})
		}
		// Sessions with nothing to seal, nothing in flight and no receipt
		// awaiting the log, idle for a day, are forgotten (their next
		// receipt restarts at part 1, with other times, so under another
		// id; a part still sealed keeps its session, so no part number is
		// sealed twice).
		_, err = tx.ExecContext(ctx, `DELETE FROM meter_sessions WHERE requests = 0 AND reserved = 0 AND last < ?
			AND NOT EXISTS (SELECT 1 FROM meter_sealed s WHERE s.grant = meter_sessions.grant AND s.session = meter_sessions.session)`, time.Now().Add(-24*time.Hour).UnixNano())
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
	rows, err := c.db.QueryContext(ctx, `SELECT grant, session, part, envelope FROM meter_sealed ORDER BY rowid`)
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
	return c.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE meter_sessions SET reserved = 0 WHERE reserved != 0`)
		return err
	})
}

// ApplyReceipt records, inside a log entry's transaction, that the receipt
// id of (grant, session, part) is logged: the sealed copy is dropped and,
// the first time the receipt is seen, its bytes and requests are added to
// the quota counters of quota. Call it before PutReceipt.
func (t *Tx) ApplyReceipt(id, grant, session string, part int64, quota string, bytes, requests int64) error {
	if _, err := t.exec(`DELETE FROM meter_sealed WHERE grant = ? AND session = ? AND part = ?`, grant, session, part); err != nil {
		return err
	}
	var n int
	if err := t.queryRow(`SELECT count(*) FROM receipts WHERE id = ?`, id).Scan(&n); err != nil {
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
	err := t.queryRow(`SELECT count(*), COALESCE(max(part), 0), COALESCE(max(bytes), 0), COALESCE(max(requests), 0) FROM meter_sessions WHERE grant = ? AND session = ?`, grant, session).
		Scan(&n, &have, &liveBytes, &liveReqs)
	if err != nil {
		return err
	}
	if n > 0 && have < part {
		if _, err := t.exec(`UPDATE meter_sessions SET bytes = 0, requests = 0, started = 0, part = ? WHERE grant = ? AND session = ?`, part, grant, session); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM meter_ranges WHERE grant = ? AND session = ?`, grant, session); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO grant_usage(grant, bytes, requests) VALUES(?,?,?)
			ON CONFLICT(grant) DO UPDATE SET bytes = bytes + excluded.bytes, requests = requests + excluded.requests`,
			grant, max(0, bytes-liveBytes), max(0, requests-liveReqs)); err != nil {
			return err
		}
	}
	_, err = t.exec(`INSERT INTO quota_usage(quota, bytes, requests) VALUES(?,?,?)
		ON CONFLICT(quota) DO UPDATE SET bytes = bytes + excluded.bytes, requests = requests + excluded.requests`, quota, bytes, requests)
	return err
}

// CreditUnseenReceipt prepares a catalog copied while its server ran (a
// live backup's) for a receipt its log copy holds beyond the catalog: when
// the copy has neither the receipt nor the session it seals, the session
// began after the copy, so the grant's counter never counted its bytes
// and is credited now (replaying the receipt counts it against the quota
// but leaves grant counters to the catalog's own state, see
// Tx.ApplyReceipt). It reports whether it credited anything.
func (c *Catalog) CreditUnseenReceipt(ctx context.Context, id, grant, session string, bytes, requests int64) (bool, error) {
	credited := false
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM receipts WHERE id = ?1)
			+ (SELECT count(*) FROM meter_sessions WHERE grant = ?2 AND session = ?3)`, id, grant, session).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		credited = true
		_, err := tx.ExecContext(ctx, `INSERT INTO grant_usage(grant, bytes, requests) VALUES(?,?,?)
			ON CONFLICT(grant) DO UPDATE SET bytes = bytes + excluded.bytes, requests = requests + excluded.requests`, grant, bytes, requests)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("catalog: crediting a receipt: %w", err)
	}
	return credited, nil
}
