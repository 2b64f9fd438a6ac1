package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/httpsig"
)

// TestNonceStorePersists: a nonce recorded before the catalog is closed is
// still refused after it is opened again; the bound is per key; a nonce
// whose time passed may be used again.
func TestNonceStorePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	clock := func() time.Time { return now }
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Nonces(2, clock)
	seen := func(s catalog.NonceStore, k, n string, until time.Time) bool {
		t.Helper()
		ok, err := s.Seen(ctx, k, n, until)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen(s, "k", "n1", t0.Add(time.Minute)) {
		t.Fatal("fresh nonce seen")
	}
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s = c.Nonces(2, clock)
	if !seen(s, "k", "n1", t0.Add(time.Minute)) {
		t.Fatal("nonce forgotten across a reopen: replay accepted")
	}
	if seen(s, "k", "n2", t0.Add(time.Minute)) {
		t.Fatal("n2 seen")
	}
	if _, err := s.Seen(ctx, "k", "n3", t0.Add(time.Minute)); !errors.Is(err, httpsig.ErrNonceStoreFull) {
		t.Fatalf("key over its bound: %v", err)
	}
	if seen(s, "other", "n3", t0.Add(time.Minute)) {
		t.Fatal("another key was affected by k's bound")
	}
	if !seen(s, "k", "n2", t0.Add(time.Minute)) {
		t.Fatal("replay accepted while the key is full")
	}
	now = t0.Add(time.Minute)
	if seen(s, "k", "n1", t0.Add(2*time.Minute)) || seen(s, "k", "n3", t0.Add(2*time.Minute)) {
		t.Fatal("expired nonces still count")
	}
	var rows int
	c.db.QueryRow(`SELECT count(*) FROM nonces WHERE until <= ?`, now.UnixNano()).Scan(&rows)
	if rows != 0 {
		t.Fatalf("%d expired rows kept after a prune", rows)
	}
}
