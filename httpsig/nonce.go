package httpsig

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// NonceStore remembers the nonces of accepted signatures so that a signed
// request cannot be replayed. Seen records (keyID, nonce) until the given
// time and reports whether it was already recorded; it must do both
// atomically, so that two concurrent requests with the same nonce cannot
// both see false. A store shared by several server replicas (a database
// table with a unique key) makes replay protection hold across them.
type NonceStore interface {
	Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error)
}

// MemoryNonceStore is a NonceStore for one process (tests, examples, single
// process tools; a server keeps its nonces in its database so that replay
// protection survives restarts). It forgets an entry once its time has
// passed and holds at most a fixed number of live entries per key id: a key
// at its limit has its new nonces refused with ErrNonceStoreFull rather
// than one forgotten early (which would let that request be replayed), and
// no other key is affected. An entry costs about 200 bytes.
type MemoryNonceStore struct {
	now   func() time.Time
	limit int

	mu      sync.Mutex
	entries map[string]time.Time
	perKey  map[string]int
	expiry  expiryHeap
}

// DefaultNonceLimit is the per-key capacity NewMemoryNonceStore uses when
// given 0: with the default 90-second life of a nonce it sustains about 700
// signed requests a second from one key.
const DefaultNonceLimit = 1 << 16

// NewMemoryNonceStore returns an empty store holding at most limit nonces
// per key id (DefaultNonceLimit if limit <= 0). now is its clock, time.Now
// if nil; pass the same clock that gives Verify its now.
func NewMemoryNonceStore(limit int, now func() time.Time) *MemoryNonceStore {
	if limit <= 0 {
		limit = DefaultNonceLimit
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryNonceStore{now: now, limit: limit, entries: make(map[string]time.Time), perKey: make(map[string]int)}
}

// Seen implements NonceStore.
func (s *MemoryNonceStore) Seen(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	k := keyID + " " + nonce
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.expiry) > 0 && !s.expiry[0].until.After(now) {
		e := heap.Pop(&s.expiry).(expiryEntry)
		if t, ok := s.entries[e.key]; ok && t.Equal(e.until) {
			delete(s.entries, e.key)
			if s.perKey[e.keyID]--; s.perKey[e.keyID] <= 0 {
				delete(s.perKey, e.keyID)
			}
		}
	}
	if t, ok := s.entries[k]; ok && t.After(now) {
		return true, nil
	}
	if s.perKey[keyID] >= s.limit {
		return false, fmt.Errorf("%w: key %s holds %d live nonces\nhint: retry shortly; each signed request uses a nonce for the signature's validity", ErrNonceStoreFull, keyID, s.perKey[keyID])
	}
	s.entries[k] = until
	s.perKey[keyID]++
	heap.Push(&s.expiry, expiryEntry{until: until, key: k, keyID: keyID})
	return false, nil
}

// Len returns the number of nonces held, expired ones included until the
// next call to Seen forgets them.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

type expiryEntry struct {
	until time.Time
	key   string
	keyID string
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
