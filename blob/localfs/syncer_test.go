package localfs

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSyncerJoins: callers that arrive while a flush runs share the next
// one, and each returns only after a flush that began after it called.
func TestSyncerJoins(t *testing.T) {
	var y syncer
	var runs atomic.Int64
	var clock atomic.Int64 // bumped at each flush's start
	release := make(chan struct{})
	first := make(chan struct{})
	go y.do(func() error { // holds the first flush until released
		runs.Add(1)
		clock.Add(1)
		close(first)
		<-release
		return nil
	})
	<-first
	const n = 8
	var wg sync.WaitGroup
	starts := make([]int64, n)
	for i := range n {
		wg.Go(func() {
			called := clock.Load()
			if err := y.do(func() error {
				runs.Add(1)
				clock.Add(1)
				time.Sleep(time.Millisecond)
				return nil
			}); err != nil {
				t.Error(err)
			}
			starts[i] = called
		})
	}
	time.Sleep(200 * time.Millisecond) // let the eight join (a late one may begin a third)
	close(release)
	wg.Wait()
	if got := runs.Load(); got > 3 {
		t.Errorf("%d flushes for one under way and eight callers that joined the next; want 2", got)
	}
	if clock.Load() <= starts[0] {
		t.Errorf("a caller returned before a flush began after it called")
	}
}

// TestSyncerError: everyone who shared a failed flush gets its error; the
// next flush runs again.
func TestSyncerError(t *testing.T) {
	var y syncer
	bad := errors.New("disk gone")
	if err := y.do(func() error { return bad }); !errors.Is(err, bad) {
		t.Fatalf("got %v, want %v", err, bad)
	}
	if err := y.do(func() error { return nil }); err != nil {
		t.Fatalf("the next flush: %v", err)
	}
}
