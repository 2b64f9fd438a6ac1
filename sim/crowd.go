package sim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

// The crowd of fresh keys (Config.Crowd): the adversary makes dozens of
// keys at once and sends uploads, registrations, grant requests and signed
// reads from each. The in-process server runs with a small pool for keys
// without standing (crowdLimits); the operator gave the honest parties
// standing (a deposit each, made at setup), so the invariants say: the
// crowd together gets no more than the pool (InvCrowd), and no honest step
// fails (InvHonestBlocked, as everywhere).

// InvCrowd: keys without standing together were served more than the pool
// of keys without standing allows.
const InvCrowd Invariant = "crowd-bounded"

// crowdLimits is the pool of the simulation's server in crowd mode: small,
// so that a few crowd steps draw it down.
var crowdLimits = crowd.Limits{UploadBytesDay: 24 * crowd.UploadUnit, GrantRequestsDay: 24, StatementsDay: 24, Nonces: 48}

// crowdServed counts what the crowd was served, by resource.
type crowdServed struct {
	uploads, registrations, grantRequests, reads atomic.Int64
	firstDay                                     string
}

// crowdConfig is the server configuration of crowd mode.
func crowdConfig(cfg server.Config) server.Config {
	cfg.Crowd = crowdLimits
	return cfg
}

// setupCrowd gives the honest owners and the contributor standing, as an
// operator approving them would: a deposit each.
func (w *world) setupCrowd(ctx context.Context) {
	w.crowd = &crowdServed{firstDay: time.Now().UTC().Format(time.DateOnly)}
	for _, a := range append(append([]*actor{}, w.owners...), w.contributor) {
		w.fund(ctx, a, 1)
	}
}

// planAdvCrowd: 20 to 60 fresh keys, each uploading, registering what it
// stored, asking for a grant on an honest asset and reading its own
// earnings with a signed request, eight keys at a time.
func (w *world) planAdvCrowd(ctx context.Context) func() {
	p := w.pickPub(func(*pub) bool { return true })
	if p == nil {
		return nil
	}
	n := 20 + w.rng.IntN(41)
	keys := make([]*identity.Key, n)
	blobs := make([][]byte, n)
	for i := range keys {
		keys[i] = w.newKey()
		blobs[i] = fmt.Appendf(nil, "crowd %d/%d %x", w.step, i, w.rng.Uint64())
	}
	return func() {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					w.crowdMember(ctx, keys[i], blobs[i], p)
				}
			}()
		}
		wg.Wait()
	}
}

// crowdMember is what one crowd key does; refusals are expected.
func (w *world) crowdMember(ctx context.Context, k *identity.Key, b []byte, p *pub) {
	c := w.adv.c.WithKey(k)
	id, err := put(ctx, c, b, client.PutOptions{})
	if err == nil {
		w.crowd.uploads.Add(1)
		if env, err := w.advManifest(k, id, "application/octet-stream", termsOpen).Sign(k); err == nil {
			if _, err := c.Register(ctx, env); err == nil {
				w.crowd.registrations.Add(1)
			}
		}
	}
	if _, err := c.RequestGrant(ctx, k, p.asset, "research", client.GrantOptions{}); err == nil {
		w.crowd.grantRequests.Add(1)
	}
	if _, err := c.Earnings(ctx, client.EarningsQuery{DID: k.DID().String()}); err == nil {
		w.crowd.reads.Add(1)
	}
}

// checkCrowd: what the crowd was served fits the pool (twice over when the
// run crossed a UTC midnight).
func (w *world) checkCrowd() {
	if w.crowd == nil {
		return
	}
	days := int64(1)
	if time.Now().UTC().Format(time.DateOnly) != w.crowd.firstDay {
		days = 2
	}
	for _, c := range []struct {
		what  string
		got   int64
		limit int64
	}{
		{"uploads", w.crowd.uploads.Load(), crowdLimits.UploadBytesDay / crowd.UploadUnit},
		{"registrations", w.crowd.registrations.Load(), crowdLimits.StatementsDay},
		{"grant requests", w.crowd.grantRequests.Load(), crowdLimits.GrantRequestsDay},
	} {
		if c.got > days*c.limit {
			w.violate(InvCrowd, "fresh keys were served %d %s; the pool of keys without standing allows %d a day", c.got, c.what, c.limit)
		}
	}
}
