package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/credential"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

// The checks of one read request of the S3 and Hugging Face front ends
// ask the catalog the same questions more than once: which assets govern
// the content (for MayRead's listing check and again for ReadUnder's),
// the licensee's grants on them, the object's record and kind. A readMemo
// in the request's context answers the repeats from the first answer.
// It lives for one request only, so it changes nothing a later request
// sees: a grant revoked, or content claimed, stops or governs the next
// request as without it. Only answers without error are kept.
type readMemo struct {
	mu       sync.Mutex
	licensed map[content.ID][]string
	grants   map[memoGrantKey]*grant.Grant // nil: no live grant
	objects  map[content.ID]catalog.Object
	kinds    map[content.ID]catalog.Kind
}

type memoGrantKey struct {
	who   identity.DID
	asset string
}

type readMemoKey struct{}

// withReadMemo returns r with a fresh readMemo in its context.
func withReadMemo(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), readMemoKey{}, &readMemo{}))
}

func memoOf(ctx context.Context) *readMemo {
	m, _ := ctx.Value(readMemoKey{}).(*readMemo)
	return m
}

// memoized answers from the request's memo (when it has one) what get
// answered before in the same request, else calls get and keeps its
// answer unless it failed.
func memoized[K comparable, V any](ctx context.Context, field func(*readMemo) *map[K]V, k K, get func() (V, error)) (V, error) {
	m := memoOf(ctx)
	if m == nil {
		return get()
	}
	m.mu.Lock()
	v, ok := (*field(m))[k]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := get()
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if *field(m) == nil {
		*field(m) = map[K]V{}
	}
	(*field(m))[k] = v
	m.mu.Unlock()
	return v, nil
}

// credCache holds read credentials (and their secrets) by access key id
// on a single server, so a request does not read the credential's record:
// the S3 front end verifies every request's signature with it. Revocation
// (revokeCredential, the only writer of a live record's state on a single
// server) bumps gen and empties the cache after the catalog has the
// revocation, and a record read while gen moved is not kept, so a revoked
// credential stops the next request (TestCredentialCacheRevocation).
// Expiry is checked on every use. Replicas do not cache: another replica's
// revocation reaches this one only through the catalog.
type credCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedCred
}

type cachedCred struct {
	c      *credential.Credential
	secret string
}

// credCacheSize bounds the cache; it is emptied when full (live
// credentials are bounded per key: credential.MaxLive).
const credCacheSize = 4096

func (cc *credCache) get(id string) (cachedCred, bool, uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	v, ok := cc.m[id]
	return v, ok, cc.gen
}

func (cc *credCache) put(id string, v cachedCred, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.gen != gen {
		return // revoked meanwhile: the record may be stale
	}
	if cc.m == nil || len(cc.m) >= credCacheSize {
		cc.m = map[string]cachedCred{}
	}
	cc.m[id] = v
}

// forget empties the cache; call it after the catalog has a revocation.
func (cc *credCache) forget() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	cc.m = nil
}

// cachedCredential is Credential's cache look-up: a copy of the cached
// credential when it is still unexpired.
func (s *Server) cachedCredential(id string) (*credential.Credential, string, bool, uint64) {
	v, ok, gen := s.creds.get(id)
	if !ok || v.c.Check(time.Now()) != nil {
		return nil, "", false, gen
	}
	c := *v.c
	return &c, v.secret, true, gen
}

// govCache holds, on a single server and for the S3 and Hugging Face
// front ends, the answers of licensedBy (which assets govern content) and
// the live grants grantOn found, across requests. Both change only when a
// log entry is applied (registrations, index lists, grants, revocations:
// registry), and every applied run of entries empties the cache before
// its writers return (Sequencer.OnApplied; forgetAssets after replays),
// so a revoked grant stops the next request. A grant's validity period is
// checked on every use; a refusal (no live grant) is not kept. A value
// read while gen moved is not kept. Replicas do not use it: other
// replicas apply entries this process does not see.
type govCache struct {
	mu       sync.Mutex
	gen      uint64
	licensed map[content.ID][]string
	grants   map[memoGrantKey]*grant.Grant
}

// govCacheSize bounds each map; a full one is emptied.
const govCacheSize = 4096

func (gc *govCache) generation() uint64 {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.gen
}

func (gc *govCache) forget() {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	gc.gen++
	gc.licensed, gc.grants = nil, nil
}

func (gc *govCache) getLicensed(id content.ID) ([]string, bool, uint64) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	v, ok := gc.licensed[id]
	return v, ok, gc.gen
}

func (gc *govCache) putLicensed(id content.ID, v []string, gen uint64) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.gen != gen {
		return
	}
	if gc.licensed == nil || len(gc.licensed) >= govCacheSize {
		gc.licensed = map[content.ID][]string{}
	}
	gc.licensed[id] = v
}

func (gc *govCache) getGrant(k memoGrantKey) (*grant.Grant, bool) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	g, ok := gc.grants[k]
	return g, ok
}

func (gc *govCache) putGrant(k memoGrantKey, g *grant.Grant, gen uint64) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.gen != gen {
		return
	}
	if gc.grants == nil || len(gc.grants) >= govCacheSize {
		gc.grants = map[memoGrantKey]*grant.Grant{}
	}
	gc.grants[k] = g
}
