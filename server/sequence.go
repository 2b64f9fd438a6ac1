package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
)

// How statements reach the catalog (docs/design/decisions.md, "Ordered
// apply"): a handler validates a statement against the catalog, appends it
// to the log and hands the entry to the ordered applier, which applies
// entries strictly in log order, many to a catalog transaction, exactly as
// replay does. Appends run in parallel; only applying is ordered. Work on
// one thing (an asset, a grant request, a grant, a dispute, a usage id) is
// serialised by a lock on its key, so concurrent copies of one statement
// append it once; a duplicate that reaches the log anyway applies as a
// no-op.

// commit appends a statement to the log and waits until the ordered
// applier has applied it. An entry that applies with no effect (a
// duplicate, or a statement that broke the rules by the time its turn
// came) is reported with an error wrapping catalog.ErrNoEffect; see
// notApplied.
func (s *Server) commit(ctx context.Context, typ string, payload []byte) (uint64, error) {
	// The append is not cancelled with the request: an entry in the log
	// must reach the applier.
	idx, err := s.tlog.Append(context.WithoutCancel(ctx), typ, payload)
	if err != nil {
		if errors.Is(err, auditlog.ErrTooLarge) {
			return 0, errorf(http.StatusRequestEntityTooLarge, "too-large", "Statement too large for the log", err.Error(), "", err)
		}
		return 0, fmt.Errorf("log append: %w", err)
	}
	return idx, s.applied(ctx, idx, auditlog.Entry{Type: typ, Payload: payload})
}

// applied hands entry idx, which this process appended, to the ordered
// applier and waits until it is applied.
func (s *Server) applied(ctx context.Context, idx uint64, e auditlog.Entry) error {
	x := s.seq.submit(idx, e)
	select {
	case <-x.done:
		return x.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apply is applied for callers that append by themselves: it waits until
// entry idx is applied, and treats an entry without effect as applied.
func (s *Server) apply(ctx context.Context, idx uint64, e auditlog.Entry) error {
	err := s.applied(ctx, idx, e)
	if errors.Is(err, catalog.ErrNoEffect) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applying log entry %d: %w", idx, err)
	}
	return nil
}

// notApplied turns the error of a statement the log accepted but that did
// not apply into an answer for its sender.
func notApplied(idx uint64, err error) error {
	if !errors.Is(err, catalog.ErrNoEffect) {
		return err
	}
	var ie invalidEntry
	detail := err.Error()
	if errors.As(err, &ie) {
		detail = ie.error.Error()
	}
	return errorf(http.StatusConflict, "not-applied", "Statement logged without effect",
		fmt.Sprintf("log entry %d holds the statement, but a change logged just before it took precedence: %s", idx, detail), "check the current state and sign a new statement if it still applies", err)
}

// maxRun bounds how many entries the ordered applier puts in one catalog
// transaction.
const maxRun = 1024

// gapWait is how long the ordered applier waits for an entry another
// writer appended before it reads that entry from the log itself.
const gapWait = time.Second

// sequencer is the ordered applier. Every entry appended by this process
// is submitted with its index; a contiguous run from next on is applied in
// one catalog transaction, each entry in its own savepoint, in log order.
// An index that is never submitted (its writer went away between append
// and submit, or another process appended it) is read from the log after
// gapWait. Nothing polls: a goroutine runs only while entries wait.
type sequencer struct {
	s *Server
	// ctx ends when the server closes.
	ctx context.Context

	mu      sync.Mutex
	next    uint64               // lowest index not yet taken for applying
	ready   map[uint64]*seqEntry // submitted, waiting for their turn
	running bool                 // a drain goroutine runs
	filling *time.Timer          // armed while a gap waits
}

// seqEntry is one submitted entry; done is closed once it is applied.
type seqEntry struct {
	idx  uint64
	e    auditlog.Entry
	err  error
	done chan struct{}
}

func newSequencer(s *Server, ctx context.Context) *sequencer {
	return &sequencer{s: s, ctx: ctx, ready: map[uint64]*seqEntry{}}
}

// start sets the first index the sequencer will apply (the log's size
// after replay).
func (q *sequencer) start(next uint64) {
	q.mu.Lock()
	q.next = next
	q.mu.Unlock()
}

// submit queues entry idx and returns it; its done channel closes when it
// is applied.
func (q *sequencer) submit(idx uint64, e auditlog.Entry) *seqEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	if idx < q.next {
		// Taken already: read back from the log after a gap, or applied
		// by replay. Its outcome is in the catalog.
		x := &seqEntry{idx: idx, done: make(chan struct{})}
		close(x.done)
		return x
	}
	if x, ok := q.ready[idx]; ok {
		return x
	}
	x := &seqEntry{idx: idx, e: e, done: make(chan struct{})}
	q.ready[idx] = x
	q.kick()
	return x
}

// kick starts a drain when the next entry is ready, or arms the gap timer
// when later entries wait for a missing one. The caller holds q.mu.
func (q *sequencer) kick() {
	if q.running {
		return
	}
	if _, ok := q.ready[q.next]; ok {
		q.running = true
		go q.drain()
		return
	}
	if len(q.ready) > 0 && q.filling == nil && q.ctx.Err() == nil {
		q.filling = time.AfterFunc(gapWait, q.fill)
	}
}

// drain applies ready runs until the next entry is missing.
func (q *sequencer) drain() {
	for {
		q.mu.Lock()
		var run []*seqEntry
		for len(run) < maxRun {
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
			q.kick()
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.applyRun(run)
	}
}

// applyRun applies a contiguous run of entries in log order.
func (q *sequencer) applyRun(run []*seqEntry) {
	s := q.s
	ctx := context.WithoutCancel(q.ctx)
	changes := make([]catalog.Change, len(run))
	assets := false
	for i, x := range run {
		changes[i] = catalog.Change{Index: x.idx, Fn: func(tx catalog.Tx) error { return s.applyEntry(ctx, tx, x.idx, x.e) }}
		assets = assets || changesAssets(x.e.Type)
	}
	errs := s.cat.UpdateSeq(ctx, changes)
	if assets {
		s.forgetAssets()
	}
	for i, x := range run {
		err := errs[i]
		if errors.Is(err, catalog.ErrApplied) {
			err = nil
		}
		s.logOutcome(x.idx, x.e.Type, err)
		x.err = err
		close(x.done)
	}
}

// logOutcome logs an entry that did not apply normally.
func (s *Server) logOutcome(idx uint64, typ string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, errDuplicate):
		s.log.Debug("log entry repeats a statement: no effect", "index", idx, "type", typ, "err", err)
	case errors.Is(err, catalog.ErrNoEffect):
		s.log.Warn("log entry not applied: it breaks the registry rules", "index", idx, "type", typ, "err", err)
	default:
		s.log.Error("applying log entry", "index", idx, "type", typ, "err", err)
	}
}

// fill reads missing entries from the log when a gap outlived gapWait.
func (q *sequencer) fill() {
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
	q.s.log.Warn("log entries missing from the applier: reading them from the log", "from", from, "to", to)
	for rec, err := range q.s.tlog.Entries(q.ctx, from) {
		if rec.Index >= to {
			break
		}
		if err != nil && !errors.Is(err, auditlog.ErrMalformed) {
			break
		}
		q.submit(rec.Index, rec.Entry) // a malformed entry applies with no effect
	}
	q.mu.Lock()
	q.kick() // re-arms the timer if the checkpoint did not cover the gap yet
	q.mu.Unlock()
}

// stop disarms the gap timer; the server is closing.
func (q *sequencer) stop() {
	q.mu.Lock()
	if q.filling != nil {
		q.filling.Stop()
		q.filling = nil
	}
	q.mu.Unlock()
}

// keyLocks serialises work on one key (validate, append, apply of the
// statements about one thing) while different keys proceed in parallel.
// It holds an entry only while someone holds or waits for its key.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu sync.Mutex
	n  int // holders and waiters
}

// lock locks key and returns its unlock.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.mu.Lock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Unlock()
			k.mu.Lock()
			if l.n--; l.n == 0 {
				delete(k.m, key)
			}
			k.mu.Unlock()
		})
	}
}
