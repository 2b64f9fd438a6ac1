// Package crowd bounds what keys without standing get, all together.
//
// Keys cost nothing: every per-key bound (upload quotas, grant requests,
// signed-request nonces, statements) multiplies by the number of keys an
// attacker makes. So Charter splits keys in two. A key with standing has
// something that cost someone else, or the operator, something: the
// operator's own key, a key the operator listed, an account the operator
// opened or funded, earnings someone paid, or an asset a key with standing
// licensed. Such keys get the per-key bounds. Every other key is unproven,
// and all unproven keys draw from one small operator-wide pool per
// resource: a million fresh keys get in total what the pool allows, and a
// key with standing never waits for the pool.
//
// This package holds the rule and the pool's arithmetic, no I/O; the
// server keeps the counters in its catalog (so a restart does not reset
// them) and answers a drawn-down pool with 429 `unproven-pool`.
// docs/design/threat-model.md has the reasoning.
package crowd

import (
	"fmt"
	"time"
)

// Resource is one thing the pool bounds.
type Resource string

// The pooled resources.
const (
	// Uploads: bytes stored per UTC day; each upload is charged at least
	// UploadUnit, so tiny uploads cannot make rows for free.
	Uploads Resource = "uploads"
	// GrantRequests: grant requests evaluated (each logs a decision) per
	// UTC day.
	GrantRequests Resource = "grant-requests"
	// Statements: other signed statements logged per UTC day
	// (registrations, proposals, approvals, votes, usage reports,
	// disputes).
	Statements Resource = "statements"
	// Nonces: live signed-request nonces (each lives for the signature's
	// validity, 90 s).
	Nonces Resource = "nonces"
)

// Limits are the pool's sizes. Zero means the default; negative means no
// pool for that resource (unproven keys then have the per-key bounds only).
type Limits struct {
	UploadBytesDay   int64
	GrantRequestsDay int64
	StatementsDay    int64
	Nonces           int64
}

// Defaults: sized so a fresh user can try a server (publish a few files,
// ask for a few grants) while a crowd of keys cannot fill it.
const (
	DefaultUploadBytesDay   = 1 << 30 // 1 GiB, at most 16,384 uploads
	DefaultGrantRequestsDay = 1000
	DefaultStatementsDay    = 1000
	DefaultNonces           = 4096 // ~45 signed requests a second, in all
)

// UploadUnit is the least an upload is charged to the pool.
const UploadUnit = 64 << 10

// Resolved returns l with zeros replaced by the defaults and negatives by
// 0 (no pool).
func (l Limits) Resolved() Limits {
	pick := func(v, def int64) int64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return Limits{
		UploadBytesDay:   pick(l.UploadBytesDay, DefaultUploadBytesDay),
		GrantRequestsDay: pick(l.GrantRequestsDay, DefaultGrantRequestsDay),
		StatementsDay:    pick(l.StatementsDay, DefaultStatementsDay),
		Nonces:           pick(l.Nonces, DefaultNonces),
	}
}

// Limit is the pool's size for r in resolved limits (0: no pool).
func (l Limits) Limit(r Resource) int64 {
	switch r {
	case Uploads:
		return l.UploadBytesDay
	case GrantRequests:
		return l.GrantRequestsDay
	case Statements:
		return l.StatementsDay
	case Nonces:
		return l.Nonces
	}
	return 0
}

// Charge is what one use of n units of r costs the pool.
func Charge(r Resource, n int64) int64 {
	if r == Uploads {
		return max(n, UploadUnit)
	}
	return n
}

// CounterKey names the pool's counter of r. Per-key counters are named by
// a DID ("did:key:...") or a word and a DID ("grant-requests did:key:..."),
// so the pool's names cannot collide with them.
func CounterKey(r Resource) string { return "unproven-pool " + string(r) }

// StandingKey names the counter that records a key's vouched standing.
func StandingKey(did string) string { return "standing " + did }

// NonceKeyID is the key id the pool's nonces are kept under;
// NonceOf(keyID, nonce) is the nonce recorded for one of an unproven key's
// requests, so replays stay refused per key.
const NonceKeyID = "unproven-pool"

// NonceOf is the pooled nonce of an unproven key's signed request.
func NonceOf(keyID, nonce string) string { return keyID + " " + nonce }

// Facts are what the server knows about a key.
type Facts struct {
	// Operator: the server's own key.
	Operator bool
	// Listed: the operator listed the key (`charter serve --proven-keys`).
	Listed bool
	// Account: the operator funded an account for the key or opened a
	// credit line for it (POST /v1/funds, of any amount).
	Account bool
	// Earned: the key holds earnings someone paid (a contributor account
	// with credits posted).
	Earned bool
	// Vouched: a key with standing, not among the asset's owners, was
	// granted an asset the key owns.
	Vouched bool
}

// Proven reports whether a key with these facts has standing.
func (f Facts) Proven() bool {
	return f.Operator || f.Listed || f.Account || f.Earned || f.Vouched
}

// Vouches returns the owners a grant gives standing to: every owner of
// the asset, when the licensee has standing and is not an owner itself (a
// key cannot vouch for itself, and a crowd key's grant vouches for none).
func Vouches(licensee string, licenseeProven bool, owners []string) []string {
	if !licenseeProven {
		return nil
	}
	for _, o := range owners {
		if o == licensee {
			return nil
		}
	}
	return owners
}

// Exhausted reports a pool drawn down for the day (or, for nonces, for
// the next seconds).
type Exhausted struct {
	Resource   Resource
	Used       int64
	Limit      int64
	Want       int64
	RetryAfter time.Duration
}

func (e *Exhausted) Error() string {
	return fmt.Sprintf("keys without standing have used %d of their shared %s allowance (%d); this request needs %d", e.Used, e.Resource, e.Limit, e.Want)
}

// NonceLife is how long a pooled nonce is held: the validity of a
// Charter request signature.
const NonceLife = 90 * time.Second

// RetryAfter is when r's pool has room again: the next UTC midnight for
// the daily pools, a nonce's life for nonces.
func RetryAfter(r Resource, now time.Time) time.Duration {
	if r == Nonces {
		return NonceLife
	}
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return next.Sub(now).Truncate(time.Second) + time.Second
}
