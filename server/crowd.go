package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
)

// The crowd bound (package crowd, docs/design/threat-model.md): keys
// without standing share one operator-wide pool per resource; keys with
// standing have their per-key bounds only and never wait for the pool.

// standingCache remembers keys found to have standing (standing is never
// lost), up to a bound so the cache cannot grow without end.
type standingCache struct {
	m sync.Map
	n atomic.Int64
}

const standingCacheMax = 1 << 16

func (c *standingCache) has(d identity.DID) bool { _, ok := c.m.Load(d); return ok }

func (c *standingCache) add(d identity.DID) {
	if c.n.Load() < standingCacheMax {
		if _, loaded := c.m.LoadOrStore(d, true); !loaded {
			c.n.Add(1)
		}
	}
}

// crowdLimits are the pool's sizes in force.
func (s *Server) crowdLimits() crowd.Limits { return s.cfg.Crowd.Resolved() }

// proven reports whether d has standing (crowd.Facts).
func (s *Server) proven(ctx context.Context, d identity.DID) (bool, error) {
	if d == s.key.DID() || s.listed[d] || s.standing.has(d) {
		return true, nil
	}
	f := crowd.Facts{}
	n, err := s.cat.Counted(ctx, crowd.StandingKey(d.String()), "total")
	if err != nil {
		return false, err
	}
	f.Vouched = n > 0
	if !f.Vouched {
		// The operator opened or funded an account (accounts are named
		// ROLE:DID@CURRENCY), or someone paid the key earnings.
		lic, err := s.ledger.Accounts(ctx, ledger.LicenseeAccount(d.String()+"@"))
		if err != nil {
			return false, err
		}
		f.Account = len(lic) > 0
	}
	if !f.Proven() {
		con, err := s.ledger.Accounts(ctx, ledger.ContributorAccount(d.String()+"@"))
		if err != nil {
			return false, err
		}
		for _, a := range con {
			f.Earned = f.Earned || a.CreditsPosted > 0
		}
	}
	if f.Proven() {
		s.standing.add(d)
	}
	return f.Proven(), nil
}

// anyProven reports whether one of ds has standing.
func (s *Server) anyProven(ctx context.Context, ds []identity.DID) (bool, error) {
	for _, d := range ds {
		ok, err := s.proven(ctx, d)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// drawPool charges n units of r to the pool of unproven keys, unless one
// of who has standing (then it charges nothing). It is called before any
// per-key counter is charged, so a refused crowd key leaves no row.
func (s *Server) drawPool(ctx context.Context, r crowd.Resource, n int64, who ...identity.DID) error {
	lim := s.crowdLimits().Limit(r)
	if lim == 0 {
		return nil
	}
	ok, err := s.anyProven(ctx, who)
	if ok || err != nil {
		return err
	}
	now := time.Now().UTC()
	want := crowd.Charge(r, n)
	ok, used, _, err := s.cat.ChargeUpload(ctx, crowd.CounterKey(r), now.Format(time.DateOnly), want, lim, 0)
	if err != nil {
		return err
	}
	if !ok {
		return poolProblem(&crowd.Exhausted{Resource: r, Used: used, Limit: lim, Want: want, RetryAfter: crowd.RetryAfter(r, now)})
	}
	return nil
}

// poolProblem is the answer to a request an unproven pool cannot take.
func poolProblem(e *crowd.Exhausted) error {
	return &httpError{status: http.StatusTooManyRequests, kind: "unproven-pool", title: "Keys without standing are over their shared allowance",
		detail: e.Error(),
		hint:   "keys with standing are not limited by this pool: ask the operator to list your key (`charter serve --proven-keys`) or to open an account for it (`charter fund`), or retry after the time in Retry-After",
		retry:  e.RetryAfter, err: e}
}

// vouch gives standing to the owners of an asset granted to a licensee
// with standing who is not one of them (crowd.Vouches). Failures are
// logged: the grant stands either way.
func (s *Server) vouch(ctx context.Context, licensee identity.DID, owners []identity.DID) {
	if s.crowdLimits() == (crowd.Limits{}) {
		return // no pool: standing changes nothing
	}
	ok, err := s.proven(ctx, licensee)
	if err != nil || !ok {
		return
	}
	names := make([]string, len(owners))
	for i, o := range owners {
		names[i] = o.String()
	}
	for _, o := range crowd.Vouches(licensee.String(), ok, names) {
		d, err := identity.ParseDID(o)
		if err != nil {
			continue
		}
		if has, _ := s.proven(ctx, d); has {
			continue
		}
		if _, _, _, err := s.cat.ChargeUpload(ctx, crowd.StandingKey(o), time.Now().UTC().Format(time.DateOnly), 1, 0, 0); err != nil {
			s.log.Warn("recording standing", "key", o, "err", err)
			continue
		}
		s.standing.add(d)
	}
}

// crowdNonces keeps the nonces of keys with standing under their own
// per-key bound and those of unproven keys in one shared store bounded by
// the pool (crowd.NonceKeyID).
type crowdNonces struct {
	s         *Server
	own, pool catalog.NonceStore
	poolLimit int64
}

func (c crowdNonces) Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	d, err := identity.ParseDID(keyID)
	if err != nil || c.poolLimit == 0 {
		return c.own.Seen(ctx, keyID, nonce, until)
	}
	ok, err := c.s.proven(ctx, d)
	if err != nil {
		return false, err
	}
	if ok {
		return c.own.Seen(ctx, keyID, nonce, until)
	}
	// The pool first, so a refused crowd key leaves nothing under its own
	// name; then the key's own bound, which holds for every key.
	seen, err := c.pool.Seen(ctx, crowd.NonceKeyID, crowd.NonceOf(keyID, nonce), until)
	if errors.Is(err, httpsig.ErrNonceStoreFull) {
		return false, poolProblem(&crowd.Exhausted{Resource: crowd.Nonces, Used: c.poolLimit, Limit: c.poolLimit, Want: 1, RetryAfter: crowd.RetryAfter(crowd.Nonces, time.Now())})
	}
	if seen || err != nil {
		return seen, err
	}
	return c.own.Seen(ctx, keyID, nonce, until)
}

// retryAfter is the Retry-After value of d, in whole seconds (at least 1).
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}
