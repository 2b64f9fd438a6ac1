package auditlog

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPublicationQuiet follows checkpoints another process publishes at
// most every interval (tessera's MySQL driver) while callers keep arriving
// to wait for them: every caller gets a checkpoint covering its size within
// about a poll of its publication, and the checkpoint is read a few times
// per publication, not every poll interval (nor at every new caller).
func TestPublicationQuiet(t *testing.T) {
	const (
		every    = 10 * time.Millisecond
		interval = 200 * time.Millisecond
		rounds   = 6
	)
	var size atomic.Uint64 // the stored checkpoint's size
	var published sync.Map // size -> when it was published
	var reads atomic.Int64
	read := func(context.Context) (Checkpoint, error) {
		reads.Add(1)
		n := size.Load()
		return Checkpoint{Size: n, Raw: []byte(strconv.FormatUint(n, 10))}, nil
	}
	p := newPublication(read, every)
	p.quiet = interval
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.follow(ctx)
	size.Store(1)
	published.Store(uint64(1), time.Now())
	p.wake()
	// Another process publishes every interval, starting at a phase this
	// one does not know.
	go func() {
		time.Sleep(interval / 3)
		for n := uint64(2); n <= rounds+1; n++ {
			published.Store(n, time.Now())
			size.Store(n)
			time.Sleep(interval)
		}
	}()
	var wg sync.WaitGroup
	late := make(chan string, 1000)
	start := time.Now()
	for time.Since(start) < rounds*interval {
		want := size.Load() + 1
		if want > rounds+1 {
			break
		}
		wg.Go(func() {
			cp, err := p.await(ctx, want)
			if err != nil || cp.Size < want {
				late <- "await failed"
				return
			}
			at, _ := published.Load(want)
			if d := time.Since(at.(time.Time)); d > interval {
				late <- "a caller got its checkpoint " + d.String() + " after it was published"
			}
		})
		time.Sleep(2 * time.Millisecond) // callers keep arriving
	}
	wg.Wait()
	close(late)
	for msg := range late {
		t.Error(msg)
	}
	// Polling every 10 ms would read ~120 times; each publication now
	// costs its first sighting plus the polls after the quiet time.
	if n := reads.Load(); n > 8*rounds {
		t.Errorf("%d reads of the checkpoint for %d publications; want at most %d", n, rounds, 8*rounds)
	}
	t.Logf("%d reads for %d publications", reads.Load(), rounds)
}
