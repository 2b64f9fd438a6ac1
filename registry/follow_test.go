package registry

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
)

// countingReader counts reads of the log.
type countingReader struct {
	Reader
	reads atomic.Int32
}

func (c *countingReader) Entries(ctx context.Context, from uint64) iter.Seq2[auditlog.Record, error] {
	c.reads.Add(1)
	return c.Reader.Entries(ctx, from)
}

// countingApplier counts, by index, the entries whose application took
// effect or was recorded without effect.
type countingApplier struct {
	catalog.Applier
	mu sync.Mutex
	n  map[uint64]int
}

func (c *countingApplier) UpdateSeq(ctx context.Context, changes []catalog.Change) []error {
	errs := c.Applier.UpdateSeq(ctx, changes)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, err := range errs {
		if err == nil || errors.Is(err, catalog.ErrNoEffect) {
			c.n[changes[i].Index]++
		}
	}
	return errs
}

// TestFollow plays two replicas: two Sequencers over one catalog and one
// log, each submitting only the entries it appended (interleaved, so every
// entry of one is a gap for the other). Following the catalog's
// watermark, each skips what the other applied: every entry applies once,
// in order, and neither reads the log. A third replica that appended an
// entry and died leaves a gap that the next entry's Sequencer reads from
// the log after GapWait.
func TestFollow(t *testing.T) {
	ctx := t.Context()
	k, _ := identity.Generate()
	log := &memLog{}
	cat := newCatalog(t)
	counted := &countingApplier{Applier: cat, n: map[uint64]int{}}
	watermark := func(ctx context.Context) (uint64, error) {
		next, _, err := cat.Applied(ctx)
		return next, err
	}
	r := New(Config{Operator: k.DID(), Logger: quiet()})
	var qs [2]*Sequencer
	var readers [2]*countingReader
	for i := range qs {
		readers[i] = &countingReader{Reader: log}
		qs[i] = r.NewSequencer(ctx, counted, readers[i], nil)
		qs[i].Follow(watermark)
		qs[i].Start(0)
		defer qs[i].Stop()
	}
	const n = 40
	var wg sync.WaitGroup
	var appendMu sync.Mutex // appends interleave: replica i%2 appends entry i
	turn := make([]chan struct{}, n+1)
	for i := range turn {
		turn[i] = make(chan struct{})
	}
	close(turn[0])
	for rep := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := rep; i < n; i += 2 {
				<-turn[i]
				e, _ := registration(t, k, fmt.Sprintf("asset-%03d", i))
				appendMu.Lock()
				idx := log.append(e)
				appendMu.Unlock()
				close(turn[i+1])
				if err := qs[rep].Wait(ctx, idx, e); err != nil {
					t.Errorf("entry %d: %v", idx, err)
				}
			}
		}()
	}
	wg.Wait()
	if next, above, err := cat.Applied(ctx); err != nil || next != n || len(above) != 0 {
		t.Fatalf("Applied = %d, %v, %v; want %d", next, above, err, n)
	}
	for i := range uint64(n) {
		if c := counted.n[i]; c != 1 {
			t.Errorf("entry %d applied %d times", i, c)
		}
	}
	for i, rd := range readers {
		if c := rd.reads.Load(); c != 0 {
			t.Errorf("replica %d read the log %d times; it should have waited for the other to apply", i, c)
		}
	}

	// Entry n is appended by a replica that dies before applying it.
	dead, _ := registration(t, k, "orphan")
	log.append(dead)
	next, _ := registration(t, k, "after-orphan")
	idx := log.append(next)
	if err := qs[0].Wait(ctx, idx, next); err != nil {
		t.Fatal(err)
	}
	if c := readers[0].reads.Load(); c == 0 {
		t.Error("the orphaned entry was applied without reading the log")
	}
	if counted.n[n] != 1 || counted.n[n+1] != 1 {
		t.Errorf("orphan applied %d times, the entry after it %d", counted.n[n], counted.n[n+1])
	}
}
