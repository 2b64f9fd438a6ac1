package catalogtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
)

// testCredentials: records round-trip with no secret; the per-licensee
// bound holds (also under concurrent requests); revoked and expired
// records free room and are not listed; revocation is the licensee's only.
func testCredentials(t *testing.T, open Opener) {
	c := open(t)
	now := time.Unix(1_800_000_000, 0)
	rec := func(id, who string, exp time.Duration) catalog.CredentialRecord {
		return catalog.CredentialRecord{ID: id, Licensee: who, Assets: []string{"a1", "a2"}, Created: now, Expires: now.Add(exp)}
	}
	if _, err := c.Credential(ctx, "CHKNONE"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown credential: %v", err)
	}
	ok, err := c.PutCredential(ctx, rec("CHK1", "alice", time.Hour), 2, now)
	if err != nil || !ok {
		t.Fatalf("PutCredential = %v, %v", ok, err)
	}
	got, err := c.Credential(ctx, "CHK1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Licensee != "alice" || !slices.Equal(got.Assets, []string{"a1", "a2"}) || !got.Expires.Equal(now.Add(time.Hour)) || !got.Created.Equal(now) || got.Revoked {
		t.Fatalf("record read back as %+v", got)
	}
	if ok, _ := c.PutCredential(ctx, catalog.CredentialRecord{ID: "CHKALL", Licensee: "carol", Created: now, Expires: now.Add(time.Hour)}, 2, now); !ok {
		t.Fatal("a credential with no assets was refused")
	}
	if r, _ := c.Credential(ctx, "CHKALL"); r == nil || len(r.Assets) != 0 {
		t.Fatalf("no assets read back as %+v", r)
	}
	if ok, _ := c.PutCredential(ctx, rec("CHK2", "alice", time.Minute), 2, now); !ok {
		t.Fatal("second credential refused")
	}
	if ok, _ := c.PutCredential(ctx, rec("CHK3", "alice", time.Hour), 2, now); ok {
		t.Fatal("a third live credential passed a bound of 2")
	}
	if ok, _ := c.PutCredential(ctx, rec("CHKB", "bob", time.Hour), 2, now); !ok {
		t.Fatal("another licensee is held by alice's bound")
	}
	if err := c.RevokeCredential(ctx, "CHK1", "bob"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("bob revoked alice's credential: %v", err)
	}
	if err := c.RevokeCredential(ctx, "CHK1", "alice"); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Credential(ctx, "CHK1"); r != nil && !r.Revoked {
		t.Fatal("revoked credential reads as live")
	}
	live, err := c.LiveCredentials(ctx, "alice", now)
	if err != nil || len(live) != 1 || live[0].ID != "CHK2" {
		t.Fatalf("live after revoking = %v, %v", credIDs(live), err)
	}
	// A minute later CHK2 has expired: with CHK1 revoked, two fit again.
	later := now.Add(2 * time.Minute)
	if live, _ := c.LiveCredentials(ctx, "alice", later); len(live) != 0 {
		t.Fatalf("expired credential listed: %v", credIDs(live))
	}
	for _, id := range []string{"CHK3", "CHK4"} {
		if ok, err := c.PutCredential(ctx, rec(id, "alice", time.Hour), 2, later); !ok || err != nil {
			t.Fatalf("%s refused after the others expired or were revoked: %v", id, err)
		}
	}
	if _, err := c.Credential(ctx, "CHK1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("revoked record kept after a new one: %v", err)
	}

	// Concurrent requests of one licensee: never more than the bound.
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.PutCredential(ctx, rec(fmt.Sprintf("CHKC%d", i), "dave", time.Hour), 3, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n != 3 {
		t.Fatalf("%d of 8 concurrent credentials recorded under a bound of 3", n)
	}
}

func credIDs(rs []*catalog.CredentialRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
