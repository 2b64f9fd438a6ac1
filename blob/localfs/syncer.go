package localfs

import "sync"

// syncer shares flushes of the file system between the groups committing
// at the same time (group commit). A caller needs a flush that begins
// after its own writes: it joins the next flush, which waits for the one
// under way to end and then runs once for everyone who joined it. Four
// batch uploads committing together pay for two or three syncfs(2) calls
// rather than eight, and no caller returns before a flush that began
// after it asked has ended.
type syncer struct {
	mu      sync.Mutex
	running *flushRun // the flush under way, or nil
	next    *flushRun // the flush that begins when it ends, or nil
}

type flushRun struct {
	done chan struct{} // closed when fn returned
	err  error
}

// do runs fn, or waits for a run of fn that begins after do was called,
// and returns that run's error.
func (y *syncer) do(fn func() error) error {
	y.mu.Lock()
	if y.next == nil {
		y.next = &flushRun{done: make(chan struct{})}
	}
	r := y.next
	for y.running != nil && y.next == r {
		cur := y.running
		y.mu.Unlock()
		<-cur.done
		y.mu.Lock()
	}
	if y.next != r { // another caller of r began it
		y.mu.Unlock()
		<-r.done
		return r.err
	}
	y.next, y.running = nil, r
	y.mu.Unlock()
	r.err = fn()
	y.mu.Lock()
	y.running = nil
	y.mu.Unlock()
	close(r.done)
	return r.err
}
