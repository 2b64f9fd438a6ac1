package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedReadIsFresh: callers sharing reads of the generation each get
// one read after they arrived (a commit made before a call is seen by
// it), and concurrent callers share reads.
func TestSharedReadIsFresh(t *testing.T) {
	var stored, reads atomic.Uint64
	g := &sharedRead{read: func(context.Context) (uint64, error) {
		reads.Add(1)
		v := stored.Load()
		time.Sleep(time.Millisecond) // a round trip
		return v, nil
	}}
	const callers = 64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				committed := stored.Add(1) // a commit this caller saw end
				got, err := g.get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if got < committed {
					t.Errorf("read generation %d, older than %d committed before the call", got, committed)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := reads.Load(); n >= callers*20 {
		t.Errorf("%d reads for %d calls: none shared", n, callers*20)
	}
	t.Logf("%d reads for %d calls", reads.Load(), callers*20)
	// A caller giving up does not stop the read the others wait for.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.get(ctx)
	if _, err := g.get(context.Background()); err != nil {
		t.Error(err)
	}
}
