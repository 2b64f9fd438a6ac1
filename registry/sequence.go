package registry

import (
	"context"
	"errors"
	"iter"
	"math"
	"sync"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
)

// How statements reach the catalog (docs/design/decisions.md, "Ordered
// apply"): a handler validates a statement against the catalog, appends it
// to the log and hands the entry to the Sequencer, which applies entries
// strictly in log order, many to a catalog transaction, exactly as replay
// does. Appends run in parallel; only applying is ordered.

// Reader reads a log's entries: every entry from index from on, in order.
// An entry that does not decode comes with an error wrapping
// auditlog.ErrMalformed and is applied with no effect; any other error
// ends the reading. *auditlog.Log is one.
type Reader interface {
	Entries(ctx context.Context, from uint64) iter.Seq2[auditlog.Record, error]
}

// MaxRun bounds how many entries the Sequencer puts in one catalog
// transaction.
const MaxRun = 1024

// GapWait is how long the Sequencer waits for an entry another writer
// appended before it reads that entry from the log itself.
const GapWait = time.Second

// Sequencer is the ordered applier. Every entry appended by this process
// is submitted with its index; a contiguous run from the next index on is
// applied in one catalog transaction, each entry in its own savepoint, in
// log order. An index that is never submitted (its writer went away
// between append and submit, or another process appended it) is read from
// the log after GapWait. Nothing polls: a goroutine runs only while
// entries wait.
type Sequencer struct {
	r   *Registry
	cat catalog.Applier
	log Reader
	// changed is called after a run that changed asset records; applied
	// after every run (OnApplied).
	changed func()
	applied func()
	// ctx ends when the owner closes.
	ctx context.Context

	mu      sync.Mutex
	next    uint64              // lowest index not yet taken for applying
	ready   map[uint64]*Pending // submitted, waiting for their turn
	running bool                // a drain goroutine runs
	idle    *sync.Cond          // signalled (on mu) when a drain ends
	stopped bool                // Stop ran: no new drains or gap reads
	filling *time.Timer         // armed while a gap waits
	// watermark, when set, reads the shared applied watermark (Follow).
	watermark func(context.Context) (uint64, error)
	gap       gapState // the gap waited on (follow.go)
}

// Pending is one submitted entry; Done is closed once it is applied.
type Pending struct {
	idx  uint64
	e    auditlog.Entry
	err  error
	done chan struct{}
}

// Done is closed once the entry is applied.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Err is the outcome of applying the entry once Done is closed: nil, an
// error matching catalog.ErrNoEffect (NoEffect: the entry applied with no
// effect), or a failure of the catalog.
func (p *Pending) Err() error { return p.err }

// NewSequencer returns an ordered applier of entries of log to cat; it
// applies nothing until Start. ctx bounds its background work (reading a
// gap from the log); changed, if not nil, is called after every run of
// entries that changed asset records (ChangesAssets).
func (r *Registry) NewSequencer(ctx context.Context, cat catalog.Applier, log Reader, changed func()) *Sequencer {
	q := &Sequencer{r: r, cat: cat, log: log, changed: changed, ctx: ctx, ready: map[uint64]*Pending{}}
	q.idle = sync.NewCond(&q.mu)
	return q
}

// Start sets the first index the sequencer will apply (the log's size
// after replay).
// OnApplied sets f to be called after every run of entries is applied,
// before their waiters return (call it before Start): a cache of what
// any entry may change is dropped there.
func (q *Sequencer) OnApplied(f func()) { q.applied = f }

func (q *Sequencer) Start(next uint64) {
	q.mu.Lock()
	q.next = next
	q.mu.Unlock()
}

// Next is the lowest index not yet taken for applying: every entry below
// it is applied or being applied.
func (q *Sequencer) Next() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next
}

// Submit queues entry idx and returns it; its Done channel closes when it
// is applied. An index taken already (applied by replay, or read from the
// log after a gap) comes back done, with its outcome in the catalog.
func (q *Sequencer) Submit(idx uint64, e auditlog.Entry) *Pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	if idx < q.next {
		x := &Pending{idx: idx, done: make(chan struct{})}
		close(x.done)
		return x
	}
	if x, ok := q.ready[idx]; ok {
		return x
	}
	x := &Pending{idx: idx, e: e, done: make(chan struct{})}
	q.ready[idx] = x
	q.kick()
	return x
}

// Wait submits entry idx and waits until it is applied or ctx ends.
func (q *Sequencer) Wait(ctx context.Context, idx uint64, e auditlog.Entry) error {
	x := q.Submit(idx, e)
	select {
	case <-x.done:
		return x.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kick starts a drain when the next entry is ready, or arms the gap timer
// when later entries wait for a missing one. The caller holds q.mu.
func (q *Sequencer) kick() {
	if q.running || q.stopped {
		return
	}
	if _, ok := q.ready[q.next]; ok {
		q.running = true
		go q.drain()
		return
	}
	if len(q.ready) > 0 && q.filling == nil && q.ctx.Err() == nil {
		q.filling = time.AfterFunc(q.gapDelay(), q.fill)
	}
}

// drain applies ready runs until the next entry is missing.
func (q *Sequencer) drain() {
	for {
		q.mu.Lock()
		var run []*Pending
		for len(run) < MaxRun {
			x, ok := q.ready[q.next]
			if !ok {
				break
			}
			delete(q.ready, q.next)
			run = append(run, x)
			q.next++
		}
		if len(run) == 0 {
			q.running = false
			q.idle.Broadcast()
			q.kick()
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.applyRun(run)
	}
}

// applyRun applies a contiguous run of entries in log order.
func (q *Sequencer) applyRun(run []*Pending) {
	ctx := context.WithoutCancel(q.ctx)
	changes := make([]catalog.Change, len(run))
	assets := false
	for i, x := range run {
		changes[i] = catalog.Change{Index: x.idx}
		if HasCatalogEffect(x.e.Type) {
			changes[i].Fn = func(tx catalog.Tx) error { return q.r.Apply(ctx, tx, x.idx, x.e) }
		}
		assets = assets || ChangesAssets(x.e.Type)
	}
	errs := q.cat.UpdateSeq(ctx, changes)
	if assets && q.changed != nil {
		q.changed()
	}
	if q.applied != nil {
		q.applied()
	}
	for i, x := range run {
		err := errs[i]
		if errors.Is(err, catalog.ErrApplied) {
			err = nil
		}
		q.r.logOutcome(x.idx, x.e.Type, err)
		x.err = err
		close(x.done)
	}
}

// logOutcome logs an entry that did not apply normally.
func (r *Registry) logOutcome(idx uint64, typ string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrDuplicate):
		r.log.Debug("log entry repeats a statement: no effect", "index", idx, "type", typ, "err", err)
	case errors.Is(err, catalog.ErrNoEffect):
		r.log.Warn("log entry not applied: it breaks the registry rules", "index", idx, "type", typ, "err", err)
	default:
		r.log.Error("applying log entry", "index", idx, "type", typ, "err", err)
	}
}

// fill reads missing entries from the log when a gap outlived GapWait.
func (q *Sequencer) fill() {
	q.mu.Lock()
	q.filling = nil
	from, to := q.next, uint64(math.MaxUint64) // the gap is [from, to)
	_, ok := q.ready[from]
	gap := !ok && len(q.ready) > 0
	for i := range q.ready {
		to = min(to, i)
	}
	q.mu.Unlock()
	if !gap || q.ctx.Err() != nil {
		return
	}
	if q.watermark != nil && !q.followGap(from) {
		return
	}
	q.r.log.Warn("log entries missing from the applier: reading them from the log", "from", from, "to", to)
	for rec, err := range q.log.Entries(q.ctx, from) {
		if rec.Index >= to {
			break
		}
		if err != nil && !errors.Is(err, auditlog.ErrMalformed) {
			break
		}
		q.Submit(rec.Index, rec.Entry) // a malformed entry applies with no effect
	}
	q.mu.Lock()
	q.readGap(from)
	q.kick() // re-arms the timer if the checkpoint did not cover the gap yet
	q.mu.Unlock()
}

// Stop disarms the gap timer and waits for a drain under way; the owner
// is closing.
func (q *Sequencer) Stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.filling != nil {
		q.filling.Stop()
		q.filling = nil
	}
	// Let a drain under way finish the entries it can reach, so a
	// graceful stop leaves the catalog with every contiguous entry this
	// process submitted applied (entries behind a gap wait for the next
	// start's replay); then no drain starts again.
	for q.running {
		q.idle.Wait()
	}
	q.stopped = true
}
