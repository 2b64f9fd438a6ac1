package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
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

// watermarkChannel is the notification channel on which every transaction
// moving the watermark of this schema announces the new one (commitBatch):
// channels are per database, so it is named after the schema's lock key.
func (c *Catalog) watermarkChannel() string {
	return fmt.Sprintf("charter_applied_%016x", uint64(c.applyLock))
}

// notifyWatermark is queued in every applying transaction after the
// watermark moved: the notification is delivered at commit, in commit
// order, to the processes listening (WatchWatermark).
const notifyWatermark = `SELECT pg_notify($1, (SELECT next FROM log_watermark WHERE id = 0)::text)`

// WatchWatermark follows the applied watermark by notification instead of
// by query: one connection of this process LISTENs on the schema's channel
// and keeps the latest watermark announced. It returns a Watermark
// function that answers from memory while the connection is up and asks
// the database (Watermark) while it is down. What it returns is never
// above the stored watermark; it lags it by a notification's delivery, so
// it suits a caller for whom a low watermark only means waiting longer (a
// replica's ordered applier skipping what others applied), not one that
// must see every commit made before its call. It runs until ctx ends.
func (c *Catalog) WatchWatermark(ctx context.Context) func(context.Context) (uint64, error) {
	w := &watermarkWatch{c: c, ctx: ctx}
	go w.run(ctx)
	return w.watermark
}

type watermarkWatch struct {
	c    *Catalog
	ctx  context.Context // the watch's: once it ends, nothing listens
	live atomic.Bool     // the listening connection is up and next current
	next atomic.Uint64   // the largest watermark read or announced
}

func (w *watermarkWatch) watermark(ctx context.Context) (uint64, error) {
	if w.live.Load() && w.ctx.Err() == nil {
		return w.next.Load(), nil
	}
	n, err := w.c.Watermark(ctx)
	if err == nil {
		w.raise(n)
	}
	return n, err
}

func (w *watermarkWatch) raise(n uint64) {
	for {
		old := w.next.Load()
		if n <= old || w.next.CompareAndSwap(old, n) {
			return
		}
	}
}

// run listens until ctx ends, connecting again a second after a failure.
func (w *watermarkWatch) run(ctx context.Context) {
	for {
		err := w.listen(ctx)
		w.live.Store(false)
		if ctx.Err() != nil {
			return
		}
		_ = err // the callers ask the database meanwhile
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listen LISTENs, then reads the watermark (so that no move is missed
// between the two), then takes the announced ones until the connection
// fails or ctx ends.
func (w *watermarkWatch) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, w.c.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{w.c.watermarkChannel()}.Sanitize()); err != nil {
		return err
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE((SELECT next FROM log_watermark WHERE id = 0), 0)`).Scan(&n); err != nil {
		return err
	}
	w.raise(uint64(n))
	w.live.Store(true)
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(note.Payload, 10, 64)
		if err != nil {
			return errors.New("catalog: watermark notification: " + err.Error())
		}
		w.raise(v)
	}
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
