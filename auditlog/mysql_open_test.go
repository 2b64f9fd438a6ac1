package auditlog

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestMySQLOpenTogether opens one new MySQL log from several processes'
// worth of handles at once, as replicas starting together do: each open
// succeeds (tessera's first write of the tree state deadlocks without the
// open lock) with a checkpoint to read, and every handle appends to the
// one log.
func TestMySQLOpenTogether(t *testing.T) {
	loc := newMySQLLog(t)
	s := newSigner(t, DefaultOrigin)
	const n = 4
	logs := make([]*Log, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i], errs[i] = OpenURL(context.Background(), loc, s, Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d of %d: %v", i, n, err)
		}
	}
	// A log whose open returned has a checkpoint to read (a replica
	// replays from it at once).
	for i, l := range logs {
		if _, err := l.Checkpoint(context.Background()); err != nil {
			t.Fatalf("log %d: checkpoint right after open: %v", i, err)
		}
	}
	seen := map[uint64]bool{}
	for i, l := range logs {
		idx, err := l.Append(context.Background(), TypeDecision, fmt.Appendf(nil, `{"n":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		if seen[idx] {
			t.Fatalf("two appends got index %d", idx)
		}
		seen[idx] = true
	}
	for _, l := range logs {
		l.Close(context.Background())
	}
}

// TestMySQLNewLogHasCheckpoint: a new log has a checkpoint as soon as
// OpenURL returns (tessera's MySQL driver publishes its first one up to a
// second later; a reader must never find none).
func TestMySQLNewLogHasCheckpoint(t *testing.T) {
	l, err := OpenURL(context.Background(), newMySQLLog(t), newSigner(t, DefaultOrigin), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}
