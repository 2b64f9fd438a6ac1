package sqlite

import (
	"context"
	"time"
)

// WAL checkpoints run in the background, not in the committing writer.
// By default SQLite checkpoints in whichever commit takes the WAL past
// 1,000 pages: the ordered applier then copied pages into the database
// and waited for its fsync in the middle of the one goroutine every log
// entry waits on (about a third of its time per registration). Here the
// writer's commit only signals; a goroutine runs a passive checkpoint
// (which never blocks writers or readers) at most every checkpointEvery.
// Every connection still checkpoints by itself past autoCheckpointPages,
// so writes that do not signal (other tables in the file) cannot grow the
// WAL without bound.

const (
	// checkpointEvery is how long the checkpointer lets commits gather
	// before it checkpoints them.
	checkpointEvery = 100 * time.Millisecond
	// autoCheckpointPages is the WAL size at which a committing
	// connection checkpoints by itself (32 MiB of 4 KiB pages).
	autoCheckpointPages = 8192
)

// checkpointer is the background WAL checkpointer of a Catalog.
type checkpointer struct {
	kick chan struct{} // a commit happened
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the goroutine returns
}

func (c *Catalog) startCheckpointer() {
	c.ckpt = checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.runCheckpointer()
}

// walWritten tells the checkpointer that a commit added to the WAL.
func (c *Catalog) walWritten() {
	select {
	case c.ckpt.kick <- struct{}{}:
	default:
	}
}

func (c *Catalog) runCheckpointer() {
	defer close(c.ckpt.done)
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-c.ckpt.stop:
			return
		case <-c.ckpt.kick:
		}
		t.Reset(checkpointEvery)
		select {
		case <-c.ckpt.stop:
			t.Stop()
			return
		case <-t.C:
		}
		// A passive checkpoint copies what it can without waiting for
		// readers or writers; what it leaves is copied next time, or by
		// the committing connection past autoCheckpointPages. Its error is
		// that of a busy database and changes nothing.
		var busy, log, done int
		_ = c.db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
	}
}

// stopCheckpointer ends the checkpointer and waits for it.
func (c *Catalog) stopCheckpointer() {
	c.ckptOnce.Do(func() {
		close(c.ckpt.stop)
		<-c.ckpt.done
	})
}
