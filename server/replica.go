package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/lease"
	"github.com/charter-dev/charter/registry"
)

// Replica makes a server one of several that share their stores
// (docs/operations.md, "Replicas"; docs/design/decisions.md, "Replicas"):
// the catalog (Deps.Catalog, PostgreSQL), the ledger (Deps.Ledger,
// PostgreSQL), the log (Deps.Log, tessera's MySQL driver), the blobs
// (Deps.Blobs, S3) and the leases (Lease, PostgreSQL). Each replica applies
// the log entries it appends and follows the entries the others append;
// background work runs on the replica holding the "background" lease; every
// replica signs with the same keys (Deps.Key and the log's key).
type Replica struct {
	// ID names this replica in leases and logs; default host:pid.
	ID string
	// Lease decides which replica runs background work and settlement.
	Lease lease.Store
	// LeaseTTL is how long a lease lasts unless renewed: how long the
	// background work may pause when its replica dies. Zero means
	// DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Sweep, when set, removes what writers that died left in the blob
	// store (blob/s3's Sweep); it runs with the background work.
	Sweep func(ctx context.Context) error
}

// DefaultLeaseTTL is the lease time of a replica's background work.
const DefaultLeaseTTL = 15 * time.Second

// Lease names.
const (
	leaseBackground = "background" // the periodic loops
	leaseSettle     = "settle"     // one settlement run
)

// replicaState is what a replica keeps beyond a single server.
type replicaState struct {
	Replica
	// assets caches asset records by the catalog generation they were
	// read at (sharedAsset).
	assets sync.Map
	// gen reads the catalog generation: the applied watermark.
	gen func(ctx context.Context) (uint64, error)
	// watched is the watermark as announced (followWatermark), for
	// callers a lagging watermark only delays: the ordered applier and
	// the follower.
	watched func(ctx context.Context) (uint64, error)
	// sealedBefore holds the sealed receipts (grant session part) the
	// last idle pass found (finishDead; the session loop's goroutine).
	sealedBefore map[string]bool
	// running counts the background runs under way on this replica (at
	// most one; tests check it).
	running atomic.Int32
}

// shared reports whether the server is one of several replicas.
func (s *Server) shared() bool { return s.rep != nil }

// newReplicaState checks a replica's configuration.
func newReplicaState(r Replica, cat catalog.Catalog) (*replicaState, error) {
	if r.Lease == nil {
		return nil, errors.New("server: a replica needs a lease store (Replica.Lease)\nhint: pass the PostgreSQL URL the catalog uses")
	}
	if r.ID == "" {
		host, _ := os.Hostname()
		r.ID = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if r.LeaseTTL <= 0 {
		r.LeaseTTL = DefaultLeaseTTL
	}
	rs := &replicaState{Replica: r}
	read := func(ctx context.Context) (uint64, error) {
		next, _, err := cat.Applied(ctx)
		return next, err
	}
	if w, ok := cat.(interface {
		Watermark(context.Context) (uint64, error)
	}); ok {
		read = w.Watermark
	}
	rs.gen = (&sharedRead{read: read}).get
	return rs, nil
}

// sharedRead lets concurrent requests share reads of the catalog's
// generation without reading one older than their arrival: a caller waits
// for a read that starts after it arrived (the next one), and every caller
// that arrived while one read was under way shares the read after it. At
// most one read is under way; under load a request costs a fraction of a
// round trip instead of one.
type sharedRead struct {
	read func(context.Context) (uint64, error)

	mu      sync.Mutex
	next    *readRound // the round callers join; not started
	reading bool
}

type readRound struct {
	done chan struct{}
	v    uint64
	err  error
}

func (g *sharedRead) get(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &readRound{done: make(chan struct{})}
		g.next = r
	}
	if !g.reading {
		g.reading = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// run reads for the waiting round, and again while callers arrived
// meanwhile. The read is not cancelled with any one caller.
func (g *sharedRead) run() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.reading = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r.v, r.err = g.read(ctx)
		cancel()
		close(r.done)
	}
}

// followWatermark is the watermark the replica's ordered applier follows
// (registry.Sequencer.Follow): announced by the catalog when it can
// (catalog/postgres's WatchWatermark: no query per probe while the
// applier waits on an entry another replica appended), read otherwise. A
// watermark announced late only makes the applier wait longer; caches
// keep reading the stored one (gen).
func (r *replicaState) followWatermark(ctx context.Context, cat catalog.Catalog) func(context.Context) (uint64, error) {
	r.watched = r.gen
	if w, ok := cat.(interface {
		WatchWatermark(context.Context) func(context.Context) (uint64, error)
	}); ok {
		r.watched = w.WatchWatermark(ctx)
	}
	return r.watched
}

// backgroundLoops runs the periodic work under the replica's background
// lease: on one replica at a time, moving when that replica dies. A
// replica taking the lease first finishes what a dead holder left:
// receipts it sealed but did not log, reservations of its requests.
func (s *Server) backgroundLoops(ctx context.Context, loops []func(context.Context)) {
	r := s.rep
	lease.Hold(ctx, r.Lease, leaseBackground, r.ID, r.LeaseTTL, func(ctx context.Context) {
		s.rep.running.Add(1)
		defer s.rep.running.Add(-1)
		s.log.Info("replica holds the background lease: running settlement, scrub and session sealing here", "replica", r.ID)
		if err := s.finishSessions(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("finishing download sessions", "err", err)
		}
		all := loops
		if r.Sweep != nil {
			all = append(all[:len(all):len(all)], func(ctx context.Context) { s.sweepLoop(ctx, r.Sweep) })
		}
		var wg sync.WaitGroup
		for _, loop := range all {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loop(ctx)
			}()
		}
		wg.Wait()
		if context.Cause(ctx) != nil {
			s.log.Info("replica stopped its background work (lease lost or closing)", "replica", r.ID)
		}
	})
}

// sweepLoop runs the blob store's sweep every hour.
func (s *Server) sweepLoop(ctx context.Context, sweep func(context.Context) error) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("blob sweep", "err", err)
		}
		t.Reset(time.Hour)
	}
}

// staleReservation is how long a reservation may go without its session
// serving a byte before a replica counts the request that made it as dead
// (its replica died mid-request) and releases it.
const staleReservation = 10 * time.Minute

// releaseStale releases the reservations of requests that died with their
// replica, when the catalog can tell them apart (catalog/postgres).
func (s *Server) releaseStale(ctx context.Context) error {
	if r, ok := s.cat.(interface {
		ReleaseReservationsIdleBefore(context.Context, time.Time) (int64, error)
	}); ok {
		n, err := r.ReleaseReservationsIdleBefore(ctx, time.Now().Add(-staleReservation))
		if n > 0 {
			s.log.Warn("released download reservations of requests that died with their replica", "sessions", n)
		}
		return err
	}
	return nil
}

// finishDead finishes, on the replica holding the background lease, what
// replicas that died mid-request left: reservations of their requests
// (releaseStale), and receipts they sealed but did not log. A live replica
// logs a receipt milliseconds after sealing it, so one still sealed at
// two passes of the idle loop is logged here (were it logged twice, the
// second entry would apply as a no-op).
func (s *Server) finishDead(ctx context.Context) {
	if err := s.releaseStale(ctx); err != nil {
		s.log.Error("releasing reservations of dead requests", "err", err)
	}
	sealed, err := s.cat.SealedReceipts(ctx)
	if err != nil {
		s.log.Error("listing sealed receipts", "err", err)
		return
	}
	seen := make(map[string]bool, len(sealed))
	var stale []catalog.SealedReceipt
	for _, x := range sealed {
		k := fmt.Sprintf("%s %s %d", x.Grant, x.Session, x.Part)
		seen[k] = true
		if s.rep.sealedBefore[k] {
			stale = append(stale, x)
		}
	}
	s.rep.sealedBefore = seen
	if len(stale) > 0 {
		s.log.Warn("logging receipts a dead replica sealed", "receipts", len(stale))
		if _, err := s.logSealed(ctx, stale); err != nil {
			s.log.Error("logging receipts a dead replica sealed", "err", err)
		}
	}
}

// settleLease holds the settlement lease for one run, waiting while
// another replica settles; the run's context ends if the lease is lost.
func (s *Server) settleLease(ctx context.Context) (context.Context, func(), error) {
	r := s.rep
	for {
		rctx, release, err := lease.Take(ctx, r.Lease, leaseSettle, r.ID, r.LeaseTTL)
		if err == nil {
			return rctx, release, nil
		}
		var held *lease.HeldError
		if !errors.As(err, &held) {
			return nil, nil, fmt.Errorf("server: settlement lease: %w", err)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("server: settlement runs on replica %s: %w", held.Lease.Holder, ctx.Err())
		case <-t.C:
		}
	}
}

// CheckShared is CheckCatalog for a fleet of replicas: it rebuilds a
// catalog from the shared log and blobs into a scratch SQLite catalog
// (registry.Rebuild) and compares it with the shared one, live. Nothing of
// the caller's is closed. A statement applied twice, lost or applied out
// of order shows up as a difference. Nothing may be appended meanwhile:
// run it with the replicas stopped, or idle.
func CheckShared(ctx context.Context, live catalog.Checker, log *auditlog.Log, blobs blob.Store, keysDir string, logger *slog.Logger) (*registry.CheckReport, error) {
	key, err := identity.Load(filepath.Join(keysDir, "server.key"))
	if err != nil {
		return nil, fmt.Errorf("server: server key: %w", err)
	}
	scratch, err := os.MkdirTemp("", "charter-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	built, err := catsqlite.Open(ctx, filepath.Join(scratch, "catalog.db"))
	if err != nil {
		return nil, err
	}
	defer built.Close()
	reg := registry.New(registry.Config{Operator: key.DID(), Logger: logger})
	if err := reg.Rebuild(ctx, built, log, blobs); err != nil {
		return nil, err
	}
	return registry.Check(ctx, live, built)
}
