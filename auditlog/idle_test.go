package auditlog

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sleeping reports whether the log has stopped its appender.
func sleeping(l *Log) bool {
	l.amu.Lock()
	defer l.amu.Unlock()
	return l.run == nil
}

// TestLogSleepsWhenIdle: the appender stops IdleAfter after the last
// append, with every entry covered by a published checkpoint, and the next
// append starts it again.
func TestLogSleepsWhenIdle(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, "example.com/log")
		l, err := OpenURL(ctx, st.new(t), s, Options{IdleAfter: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(ctx)
		for round := 0; round < 3; round++ {
			rec, err := l.AppendAndProve(ctx, TypeAssetRegister, payload(round))
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if rec.Index != uint64(round) {
				t.Fatalf("round %d: index %d", round, rec.Index)
			}
			if _, _, err := VerifyReceipt(rec.Entry, rec.Proof, l.VerifierKey()); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !sleeping(l) {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: the appender still runs 5 s after the last append", round)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != uint64(round+1) {
				t.Fatalf("round %d: asleep with checkpoint size %d, want %d", round, cp.Size, round+1)
			}
		}
		if l.sleepErr != nil {
			t.Fatalf("idle shutdown: %v", l.sleepErr)
		}
	})
}

// TestAppendsAcrossSleeps appends from many goroutines in bursts separated
// by about IdleAfter, so that appends race with the appender stopping; every
// entry gets its own index and is covered.
func TestAppendsAcrossSleeps(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		l, err := OpenURL(ctx, st.new(t), newSigner(t, "example.com/log"), Options{IdleAfter: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(ctx)
		var (
			mu   sync.Mutex
			seen = map[uint64]bool{}
			wg   sync.WaitGroup
		)
		const workers, each = 8, 6
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					rec, err := l.AppendAndProve(ctx, TypeAssetRegister, payload(w*100+i))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[rec.Index] = true
					mu.Unlock()
					time.Sleep(time.Duration(w) * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if len(seen) != workers*each {
			t.Fatalf("%d distinct indexes, want %d", len(seen), workers*each)
		}
		cp, err := l.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != workers*each {
			t.Fatalf("checkpoint size %d, want %d", cp.Size, workers*each)
		}
	})
}
