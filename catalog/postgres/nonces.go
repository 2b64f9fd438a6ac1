package postgres

import (
	"context"
	"fmt"
	"github.com/charter-dev/charter/catalog"
	"sync"
	"time"

	"github.com/charter-dev/charter/httpsig"
)

// NonceStore is an httpsig.NonceStore kept in the catalog database, so a
// captured request cannot be replayed after a restart, nor at another
// replica sharing the database. Each key id may hold at most a fixed
// number of live nonces: a key at its limit has new nonces refused with
// httpsig.ErrNonceStoreFull and no other key is affected.
type NonceStore struct {
	c     *Catalog
	limit int
	now   func() time.Time

	mu        sync.Mutex
	lastPrune time.Time
}

// Nonces returns the catalog's nonce store, holding at most limit live
// nonces per key id (httpsig.DefaultNonceLimit if limit <= 0). now is its clock,
// time.Now if nil.
func (c *Catalog) Nonces(limit int, now func() time.Time) catalog.NonceStore {
	if limit <= 0 {
		limit = httpsig.DefaultNonceLimit
	}
	if now == nil {
		now = time.Now
	}
	return &NonceStore{c: c, limit: limit, now: now}
}

// pruneEvery is how often Seen deletes expired nonces of every key.
const pruneEvery = 10 * time.Second

// Seen implements httpsig.NonceStore: it records (keyID, nonce) until
// until and reports whether it was live already, in one statement, so two
// concurrent requests with the same nonce cannot both see false.
func (s *NonceStore) Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	now := s.now()
	s.mu.Lock()
	prune := now.Sub(s.lastPrune) >= pruneEvery
	if prune {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if prune {
		if _, err := s.c.ops.Exec(ctx, `DELETE FROM nonces WHERE until <= $1`, now.UnixNano()); err != nil {
			return false, fmt.Errorf("catalog: pruning nonces: %w", err)
		}
	}
	// One statement, one round trip: the key's live nonces are counted in
	// the statement's snapshot, before its insert (concurrent requests of
	// one key may pass the count together, so the bound is exceeded by at
	// most the requests that key has in flight), and a row whose time
	// passed is taken over by the new use.
	var live, inserted int
	err := s.c.ops.QueryRow(ctx, `WITH ins AS (
			INSERT INTO nonces(keyid, nonce, until) VALUES($1, $2, $3)
			ON CONFLICT(keyid, nonce) DO UPDATE SET until = excluded.until WHERE nonces.until <= $4
			RETURNING 1)
		SELECT (SELECT count(*) FROM nonces WHERE keyid = $1 AND until > $4), (SELECT count(*) FROM ins)`,
		keyID, nonce, until.UnixNano(), now.UnixNano()).Scan(&live, &inserted)
	if err != nil {
		return false, fmt.Errorf("catalog: recording nonce: %w", err)
	}
	if inserted == 0 {
		return true, nil
	}
	if live >= s.limit {
		// Over the bound: take the nonce back (it must stay refused only
		// if it was recorded, and it was not accepted).
		if _, err := s.c.ops.Exec(ctx, `DELETE FROM nonces WHERE keyid = $1 AND nonce = $2`, keyID, nonce); err != nil {
			return false, fmt.Errorf("catalog: recording nonce: %w", err)
		}
		return false, fmt.Errorf("%w: key %s holds %d live nonces\nhint: retry shortly; each signed request holds a nonce for the signature's validity", httpsig.ErrNonceStoreFull, keyID, live)
	}
	return false, nil
}

var _ httpsig.NonceStore = (*NonceStore)(nil)
