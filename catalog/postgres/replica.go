package postgres

import (
	"context"
	"time"
)

// What replicas sharing this catalog need beyond the catalog roles (see
// server.Replica); found by type assertion.

// Watermark returns the applied watermark: every log entry below it is
// applied. Every applied entry moves it in the entry's own transaction, so
// replicas use it as the catalog's generation (a cache read at one
// watermark is current while the watermark stays) and to skip entries
// another replica applied.
func (c *Catalog) Watermark(ctx context.Context) (uint64, error) {
	var n int64
	err := c.pool.QueryRow(ctx, `SELECT COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0)`).Scan(&n)
	return uint64(n), err
}

// ReleaseReservationsIdleBefore forgets the reservations of sessions that
// served nothing since before: the requests holding them died with their
// replica. ReleaseReservations, which forgets every reservation, is for a
// single server's start; replicas sharing the catalog release only these.
// It returns how many sessions it changed.
func (c *Catalog) ReleaseReservationsIdleBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := c.ops.Exec(ctx, `UPDATE meter_sessions SET reserved = 0 WHERE reserved <> 0 AND last < $1`, before.UnixNano())
	return tag.RowsAffected(), err
}
