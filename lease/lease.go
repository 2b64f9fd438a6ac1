// Package lease decides which replica runs the background work that must
// run in one place at a time (settlement, scrub, sealing idle download
// sessions, blob sweeps): a named lease is held by one holder until it
// expires, its holder renews it while alive, and another takes it over once
// it has expired, so the work moves when its replica dies.
//
// A Store is the lease role; Local keeps leases in memory for a single
// process (the embedded, one-folder server), and lease/postgres keeps them
// in PostgreSQL for replicas that share a database. leasetest checks any
// Store. Hold runs a function for as long as its lease is held.
//
// Every change of holder increases the lease's Epoch (a fencing token):
// work that writes to shared state under a lease can carry the epoch it
// started under and be refused once a newer holder exists.
package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Lease is the state of one named lease.
type Lease struct {
	Name   string
	Holder string
	// Epoch increases every time the lease passes to another holder (or
	// is taken again after it was released or expired).
	Epoch uint64
	// Expires is when the lease ends unless renewed, on the store's
	// clock.
	Expires time.Time
}

// Store holds named leases.
type Store interface {
	// Acquire takes lease name for holder for ttl when it is free,
	// expired, or held by holder already (then it is renewed and keeps
	// its epoch). It reports whether holder holds the lease now, and the
	// lease as it stands: the holder's, or the other holder's.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error)
	// Release gives up lease name if holder holds it; otherwise it does
	// nothing.
	Release(ctx context.Context, name, holder string) error
}

// ErrBadTTL: a lease must last a positive time.
var ErrBadTTL = errors.New("lease: the time to live must be positive")

// Check validates the arguments of Acquire; backends call it first.
func Check(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" {
		return errors.New("lease: a lease needs a name and a holder")
	}
	if ttl <= 0 {
		return ErrBadTTL
	}
	return nil
}

// Local is a Store in memory, for one process. Its zero value is ready.
type Local struct {
	mu sync.Mutex
	m  map[string]*Lease
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Acquire implements Store.
func (l *Local) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	if err := Check(name, holder, ttl); err != nil {
		return Lease{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Lease{}, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*Lease{}
	}
	now := l.now()
	cur := l.m[name]
	if cur == nil {
		cur = &Lease{Name: name}
		l.m[name] = cur
	}
	switch {
	case cur.Holder == holder && now.Before(cur.Expires):
	case cur.Holder != "" && now.Before(cur.Expires):
		return *cur, false, nil
	default:
		cur.Holder = holder
		cur.Epoch++
	}
	cur.Expires = now.Add(ttl)
	return *cur, true, nil
}

// Release implements Store.
func (l *Local) Release(ctx context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur := l.m[name]; cur != nil && cur.Holder == holder {
		cur.Holder, cur.Expires = "", time.Time{}
	}
	return nil
}

// Hold runs fn whenever holder holds lease name, until ctx ends: it tries
// to acquire the lease every ttl/3, runs fn once it holds it, renews it
// every ttl/3 while fn runs, and cancels fn's context as soon as a renewal
// fails or finds the lease lost, or when less than ttl/3 of the lease is
// left unconfirmed (a store that cannot be reached is a lost lease). When
// fn returns on its own, the lease is released and Hold tries again after
// ttl/3. The epoch fn runs under is in its context (EpochFrom).
//
// A replica that dies stops renewing; its lease expires after at most ttl
// and another replica's Hold takes it over then.
func Hold(ctx context.Context, s Store, name, holder string, ttl time.Duration, fn func(context.Context)) error {
	if err := Check(name, holder, ttl); err != nil {
		return err
	}
	every := ttl / 3
	for {
		l, ok, err := s.Acquire(ctx, name, holder, ttl)
		if err == nil && ok {
			held(ctx, s, l, holder, ttl, fn)
		}
		if ctx.Err() != nil {
			// Hand the lease over at once instead of letting it expire.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			s.Release(rctx, name, holder)
			cancel()
			return ctx.Err()
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// held runs fn under lease l, renewing it, until fn returns or the lease
// is lost.
func held(ctx context.Context, s Store, l Lease, holder string, ttl time.Duration, fn func(context.Context)) {
	every := ttl / 3
	fctx, cancel := context.WithCancel(context.WithValue(ctx, epochKey{}, l.Epoch))
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(fctx)
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	confirmed := time.Now() // the lease is ours until at least confirmed+ttl
	for {
		select {
		case <-done:
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			s.Release(rctx, l.Name, holder)
			rcancel()
			return
		case <-ctx.Done():
			cancel()
			<-done
			return
		case <-t.C:
			// A renewal that fails or answers late is tried again at the
			// next tick while a third of the lease is left; a lease found
			// taken, or not confirmed for two thirds of its time, is lost.
			start := time.Now()
			rctx, rcancel := context.WithTimeout(ctx, every)
			nl, ok, err := s.Acquire(rctx, l.Name, holder, ttl)
			rcancel()
			switch {
			case err == nil && ok && nl.Epoch == l.Epoch:
				confirmed = start
				continue
			case err == nil: // taken by another, or lost and taken again
			case time.Since(confirmed) < 2*every:
				continue
			}
			cancel()
			<-done
			return
		}
	}
}

// Take acquires lease name for one piece of work: it returns a context
// that ends when ctx does or the lease is lost (renewed every ttl/3
// meanwhile), and the release to call when the work is done. A lease held
// by another holder gives a *HeldError.
func Take(ctx context.Context, s Store, name, holder string, ttl time.Duration) (context.Context, func(), error) {
	l, ok, err := s.Acquire(ctx, name, holder, ttl)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, &HeldError{Lease: l}
	}
	wctx, cancel := context.WithCancel(context.WithValue(ctx, epochKey{}, l.Epoch))
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		held(ctx, s, l, holder, ttl, func(fctx context.Context) {
			select {
			case <-done:
			case <-fctx.Done():
			}
		})
		cancel() // lost, or released
	}()
	var once sync.Once
	return wctx, func() {
		once.Do(func() {
			close(done)
			<-stopped
			// held released it unless ctx ended first; releasing twice
			// is harmless, and a lease lost to another holder stays his.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), ttl/3)
			s.Release(rctx, name, holder)
			rcancel()
		})
	}, nil
}

type epochKey struct{}

// EpochFrom returns the epoch of the lease a context given to Hold's fn
// runs under.
func EpochFrom(ctx context.Context) (uint64, bool) {
	e, ok := ctx.Value(epochKey{}).(uint64)
	return e, ok
}

// HeldError reports a lease held by another holder.
type HeldError struct{ Lease Lease }

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease %s is held by %s until %s", e.Lease.Name, e.Lease.Holder, e.Lease.Expires.UTC().Format(time.RFC3339))
}
