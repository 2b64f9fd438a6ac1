package asset

import (
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"lukechampine.com/blake3"
)

// key returns the identity test key with seed 31 zero bytes then n (the
// W3C did:key vector seeds for n <= 4).
func key(t testing.TB, n byte) *identity.Key {
	t.Helper()
	seed := make([]byte, 32)
	seed[31] = n
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func contentOf(s string) content.ID { return content.IDFromDigest(blake3.Sum256([]byte(s))) }

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// manifest returns a valid manifest owned by keys 0 and 1 (weights 1, 1,
// threshold 2) with one contributor, key 0.
func manifest(t testing.TB, name string) *Manifest {
	return &Manifest{
		Content:      contentOf(name),
		Name:         name,
		Description:  "test asset " + name,
		MediaType:    "text/plain",
		Owners:       []Owner{{key(t, 0).DID(), 1}, {key(t, 1).DID(), 1}},
		Threshold:    2,
		Contributors: []Contributor{{key(t, 0).DID(), Whole}},
		Created:      NewTime(t0),
	}
}

// registry is an in-memory Lookup.
type registry map[ID]*State

func (r registry) lookup(id ID) (*State, error) { return r[id], nil }

func (r registry) add(t testing.TB, m *Manifest) *State {
	t.Helper()
	s, err := NewState(m)
	if err != nil {
		t.Fatal(err)
	}
	r[s.Asset] = s
	return s
}
