package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/registry"
)

// How statements reach the catalog (docs/design/decisions.md, "Ordered
// apply"): a handler validates a statement against the catalog, appends it
// to the log and hands the entry to the ordered applier
// (registry.Sequencer), which applies entries strictly in log order, many
// to a catalog transaction, exactly as replay does. Appends run in parallel; only applying is ordered. Work on
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
	start := time.Now()
	idx, err := s.tlog.Append(context.WithoutCancel(ctx), typ, payload)
	s.obs.appended(start, err)
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
	return s.seq.Wait(ctx, idx, e)
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
	var ie registry.NoEffect
	detail := err.Error()
	if errors.As(err, &ie) {
		detail = ie.Err.Error()
	}
	return errorf(http.StatusConflict, "not-applied", "Statement logged without effect",
		fmt.Sprintf("log entry %d holds the statement, but a change logged just before it took precedence: %s", idx, detail), "check the current state and sign a new statement if it still applies", err)
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
