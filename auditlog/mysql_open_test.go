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

// TestMySQLProveUnderOlderCheckpoint: on a log two processes share, one
// proves an entry under a checkpoint older than the tiles now stored
// (the other appended since). tessera's MySQL driver returns the tile as
// it is now, wider than the old tree needs; that is not tampering.
func TestMySQLProveUnderOlderCheckpoint(t *testing.T) {
	ctx := context.Background()
	loc := newMySQLLog(t)
	s := newSigner(t, DefaultOrigin)
	a, b := openAt(t, loc, s, Options{}), openAt(t, loc, s, Options{})
	var entries [][]byte
	for i := range 3 {
		e := fmt.Appendf(nil, `{"n":%d}`, i)
		if _, err := a.AppendAndProve(ctx, TypeDecision, e); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	old, err := a.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AppendAndProve(ctx, TypeDecision, []byte(`{"n":3}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AwaitCheckpoint(ctx, old.Size+1); err != nil {
		t.Fatal(err)
	}
	for i := range old.Size {
		r, err := a.ProveEntryUnder(ctx, old, i, TypeDecision, entries[i])
		if err != nil {
			t.Fatalf("entry %d under the checkpoint of size %d: %v", i, old.Size, err)
		}
		if _, _, err := VerifyReceipt(r.Entry, r.Proof, s.VerifierKey()); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}
