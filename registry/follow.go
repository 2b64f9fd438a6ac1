package registry

import (
	"context"
	"time"
)

// Replicas (docs/design/decisions.md, "Replicas"): several processes
// append to one log and apply to one catalog, whose applied watermark says
// which entries are applied; whoever applies an entry first applies it,
// the others find it applied (catalog.ErrApplied). A Sequencer told to
// Follow the watermark treats a gap — an index another replica appended —
// by probing the watermark (ProbeMin doubling to ProbeMax) instead of
// reading the log: once the replica that appended the entry has applied
// it, the Sequencer skips past it. Only a gap that lasts GapWait (the
// other replica died between append and apply, or mid-apply) is read from
// the log and applied here.

// ProbeMin and ProbeMax bound the interval at which a following Sequencer
// reads the watermark while it waits on a gap.
const (
	ProbeMin = time.Millisecond
	ProbeMax = 20 * time.Millisecond
)

// gapState tracks how long the Sequencer has waited on one index; q.mu
// guards it.
type gapState struct {
	at    uint64
	since time.Time
	delay time.Duration
}

// Follow makes the Sequencer one of several applying one log to one
// catalog: watermark reads the catalog's applied watermark (every entry
// below it is applied, by any process). Call it before Start.
func (q *Sequencer) Follow(watermark func(context.Context) (uint64, error)) {
	q.mu.Lock()
	q.watermark = watermark
	q.mu.Unlock()
}

// gapDelay returns how long to wait before looking at the gap at q.next
// again: GapWait alone, or the next probe when following. The caller
// holds q.mu.
func (q *Sequencer) gapDelay() time.Duration {
	if q.watermark == nil {
		return GapWait
	}
	g := &q.gap
	if g.at != q.next || g.since.IsZero() {
		g.at, g.since, g.delay = q.next, time.Now(), ProbeMin
		return g.delay
	}
	g.delay = min(2*g.delay, ProbeMax)
	return g.delay
}

// skipApplied moves the Sequencer past the entries another process
// applied: it reads the watermark and, when it passed from (the gap),
// resolves the waiting entries below it (their outcome is in the
// catalog) and reports skipped. Otherwise it reports whether the gap has
// lasted GapWait, so that the caller reads the log (due) or probes again.
func (q *Sequencer) skipApplied(from uint64) (skipped, due bool) {
	w, err := q.watermark(q.ctx)
	if err != nil && q.ctx.Err() == nil {
		q.r.log.Warn("reading the catalog's applied watermark", "err", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err == nil && w > q.next {
		for i, x := range q.ready {
			if i < w {
				delete(q.ready, i)
				close(x.done)
			}
		}
		q.next = w
		q.kick()
		return true, false
	}
	if q.next != from {
		q.kick()
		return true, false // moved on meanwhile
	}
	return false, q.gap.at == from && !q.gap.since.IsZero() && time.Since(q.gap.since) >= GapWait
}

// followGap is called by fill when following: it reports whether fill
// should go on and read the gap from the log.
func (q *Sequencer) followGap(from uint64) bool {
	skipped, due := q.skipApplied(from)
	if skipped {
		return false
	}
	if !due {
		q.mu.Lock()
		q.kick()
		q.mu.Unlock()
		return false
	}
	return true
}

// readGap is called by fill after it read the gap at from from the log:
// the next read waits another GapWait (the probes go on meanwhile).
func (q *Sequencer) readGap(from uint64) {
	if q.gap.at == from {
		q.gap.since = time.Now()
	}
}
