// Package leasetest checks a lease.Store: Test runs the same cases against
// every backend (lease.Local in plain go test, lease/postgres against a
// real server).
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/lease"
)

// Test runs the suite. open returns a store; stores returned by calls of
// open within one test must share their leases (two processes opening one
// database), so that the cases can play several replicas.
func Test(t *testing.T, open func(t *testing.T) lease.Store) {
	t.Run("AcquireRenewRelease", func(t *testing.T) { testAcquire(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open(t)) })
	t.Run("OneWinner", func(t *testing.T) { testOneWinner(t, open) })
	t.Run("BadArguments", func(t *testing.T) { testBad(t, open(t)) })
	t.Run("HoldMovesWhenHolderDies", func(t *testing.T) { testHoldMoves(t, open) })
	t.Run("HoldNeverOverlaps", func(t *testing.T) { testHoldNoOverlap(t, open) })
	t.Run("Take", func(t *testing.T) { testTake(t, open) })
}

// testTake holds a lease for one piece of work: a second taker is refused
// with the holder's name, the release hands it over, and work whose lease
// is lost sees its context end.
func testTake(t *testing.T, open func(t *testing.T) lease.Store) {
	ctx := context.Background()
	n := name(t)
	a, b := open(t), open(t)
	actx, release, err := lease.Take(ctx, a, n, "a", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // renewed meanwhile
	var held *lease.HeldError
	if _, _, err := lease.Take(ctx, b, n, "b", time.Second); !errors.As(err, &held) || held.Lease.Holder != "a" {
		t.Fatalf("second Take: %v, want a HeldError naming a", err)
	}
	if actx.Err() != nil {
		t.Fatal("the work's context ended while its lease was renewed")
	}
	release()
	release() // twice is harmless
	if actx.Err() == nil {
		t.Error("the work's context outlived its release")
	}
	bctx, brelease, err := lease.Take(ctx, b, n, "b", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("Take after release: %v", err)
	}
	defer brelease()
	// Released behind the holder's back (as if it had expired and been
	// taken over): the next renewal finds a new epoch.
	if err := b.Release(ctx, n, "b"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("work whose lease was lost kept its context")
	}
}

// name returns a lease name of its own for one test, so that backends
// shared between tests do not see each other's leases.
func name(t *testing.T) string { return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()) }

func testAcquire(t *testing.T, s lease.Store) {
	ctx := context.Background()
	n := name(t)
	l, ok, err := s.Acquire(ctx, n, "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first acquire: ok=%v err=%v", ok, err)
	}
	if l.Holder != "a" || l.Name != n || l.Epoch == 0 || time.Until(l.Expires) < 30*time.Second {
		t.Fatalf("first acquire returned %+v", l)
	}
	l2, ok, err := s.Acquire(ctx, n, "a", time.Minute)
	if err != nil || !ok || l2.Epoch != l.Epoch {
		t.Fatalf("renewal: ok=%v err=%v lease %+v, want epoch %d", ok, err, l2, l.Epoch)
	}
	l3, ok, err := s.Acquire(ctx, n, "b", time.Minute)
	if err != nil || ok {
		t.Fatalf("second holder acquired a held lease: ok=%v err=%v", ok, err)
	}
	if l3.Holder != "a" || l3.Epoch != l.Epoch {
		t.Fatalf("a refused acquire reports %+v, want holder a epoch %d", l3, l.Epoch)
	}
	if err := s.Release(ctx, n, "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Acquire(ctx, n, "b", time.Minute); ok {
		t.Fatal("release by a non-holder freed the lease")
	}
	if err := s.Release(ctx, n, "a"); err != nil {
		t.Fatal(err)
	}
	l4, ok, err := s.Acquire(ctx, n, "b", time.Minute)
	if err != nil || !ok || l4.Holder != "b" || l4.Epoch <= l.Epoch {
		t.Fatalf("acquire after release: ok=%v err=%v %+v (epoch must pass %d)", ok, err, l4, l.Epoch)
	}
	if err := s.Release(ctx, "never-taken-"+n, "x"); err != nil {
		t.Fatalf("releasing a lease never taken: %v", err)
	}
}

func testExpiry(t *testing.T, s lease.Store) {
	ctx := context.Background()
	n := name(t)
	l, ok, err := s.Acquire(ctx, n, "a", 200*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("acquire: ok=%v err=%v", ok, err)
	}
	if _, ok, _ := s.Acquire(ctx, n, "b", time.Minute); ok {
		t.Fatal("b took a lease that had not expired")
	}
	time.Sleep(400 * time.Millisecond)
	l2, ok, err := s.Acquire(ctx, n, "b", time.Minute)
	if err != nil || !ok || l2.Holder != "b" || l2.Epoch <= l.Epoch {
		t.Fatalf("acquire after expiry: ok=%v err=%v %+v", ok, err, l2)
	}
	// The old holder coming back finds it taken.
	if _, ok, _ := s.Acquire(ctx, n, "a", time.Minute); ok {
		t.Fatal("the expired holder renewed a lease another holder took over")
	}
}

func testOneWinner(t *testing.T, open func(t *testing.T) lease.Store) {
	ctx := context.Background()
	n := name(t)
	stores := []lease.Store{open(t), open(t)}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := stores[i%2].Acquire(ctx, n, fmt.Sprintf("h%d", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d holders acquired one lease at once, want 1", w)
	}
}

func testBad(t *testing.T, s lease.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Second}, {"x", "", time.Second}, {"x", "a", 0}, {"x", "a", -time.Second}} {
		if _, ok, err := s.Acquire(ctx, c.name, c.holder, c.ttl); err == nil || ok {
			t.Errorf("Acquire(%q, %q, %v) = ok %v, err %v; want an error", c.name, c.holder, c.ttl, ok, err)
		}
	}
}

// testHoldMoves plays two replicas running Hold; the holder's process
// dies (its Hold stops without releasing: the lease must expire), and the
// other takes over within about a lease time.
func testHoldMoves(t *testing.T, open func(t *testing.T) lease.Store) {
	n := name(t)
	ttl := 600 * time.Millisecond
	var running [2]atomic.Bool
	var ran [2]atomic.Int32
	ctxs := make([]context.Context, 2)
	kill := make([]context.CancelFunc, 2)
	dead := make([]chan struct{}, 2)
	for i := range 2 {
		ctxs[i], kill[i] = context.WithCancel(context.Background())
		dead[i] = make(chan struct{})
		s := open(t)
		if i == 0 {
			s = dieWith(s, ctxs[i]) // a killed process releases nothing
		}
		go func() {
			defer close(dead[i])
			lease.Hold(ctxs[i], s, n, fmt.Sprintf("replica-%d", i), ttl, func(ctx context.Context) {
				if e, ok := lease.EpochFrom(ctx); !ok || e == 0 {
					t.Errorf("fn runs without an epoch")
				}
				running[i].Store(true)
				ran[i].Add(1)
				<-ctx.Done()
				running[i].Store(false)
			})
		}()
		if i == 0 {
			waitFor(t, 5*time.Second, "replica-0 to hold the lease", running[0].Load)
		}
	}
	time.Sleep(ttl) // replica-1 tries and fails meanwhile
	if running[1].Load() {
		t.Fatal("both replicas run the work")
	}
	kill[0]()
	<-dead[0]
	start := time.Now()
	waitFor(t, 5*ttl, "replica-1 to take over", running[1].Load)
	if d := time.Since(start); d < ttl/3 {
		t.Errorf("replica-1 took over after %v, before the dead holder's lease (%v) could expire", d, ttl)
	}
	kill[1]()
	<-dead[1]
	if ran[0].Load() != 1 || ran[1].Load() != 1 {
		t.Errorf("runs: replica-0 %d, replica-1 %d; want 1 each", ran[0].Load(), ran[1].Load())
	}
}

// testHoldNoOverlap runs three holders over a shared lease whose work
// returns at once, many times over: the work never runs on two at once.
// A lease excludes others only while its holder is not paused for longer
// than its TTL (past that, the epoch fences its writes); the TTL here is
// 50 times the work so that a loaded machine's scheduling pauses (CI ran
// two holders at once with 150 ms at load 10) do not reach it.
func testHoldNoOverlap(t *testing.T, open func(t *testing.T) lease.Store) {
	n := name(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var inside, runs atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		s := open(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lease.Hold(ctx, s, n, fmt.Sprintf("h%d", i), time.Second, func(ctx context.Context) {
				if inside.Add(1) != 1 {
					t.Error("two holders run the work at once")
				}
				runs.Add(1)
				time.Sleep(20 * time.Millisecond)
				inside.Add(-1)
			})
		}()
	}
	wg.Wait()
	if runs.Load() < 3 {
		t.Errorf("the work ran %d times in 4s, want it to keep moving between holders", runs.Load())
	}
}

// dieWith wraps a store whose calls fail once ctx ends: a killed process
// sends nothing, in particular no Release.
func dieWith(s lease.Store, ctx context.Context) lease.Store { return dying{s, ctx} }

type dying struct {
	lease.Store
	ctx context.Context
}

func (d dying) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (lease.Lease, bool, error) {
	if d.ctx.Err() != nil {
		return lease.Lease{}, false, d.ctx.Err()
	}
	return d.Store.Acquire(ctx, name, holder, ttl)
}

func (d dying) Release(ctx context.Context, name, holder string) error {
	if d.ctx.Err() != nil {
		return d.ctx.Err()
	}
	return d.Store.Release(ctx, name, holder)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
