package catalogtest

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/charter-dev/charter/catalog"
)

func grantIDs(gs []*catalog.GrantRecord) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// testGrants: grants, their filters and revocation.
func testGrants(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 3, func(tx catalog.Tx) error { return tx.PutGrant("g1", "A", "L1", []byte("env 1"), 3) })
	apply(t, c, 5, func(tx catalog.Tx) error { return tx.PutGrant("g2", "A", "L2", []byte("env 2"), 5) })
	apply(t, c, 7, func(tx catalog.Tx) error {
		if err := tx.PutGrant("g3", "B", "L1", []byte("env 3"), 7); err != nil {
			return err
		}
		return tx.PutGrant("g1", "B", "L2", []byte("other"), 7) // kept as first recorded
	})
	g, err := c.Grant(ctx, "g1")
	must(t, err)
	if g.ID != "g1" || g.Asset != "A" || g.Licensee != "L1" || string(g.Envelope) != "env 1" || g.Revoked || g.LogIndex != 3 || g.Bytes != 0 || g.Requests != 0 {
		t.Fatalf("grant read back as %+v", g)
	}
	_, err = c.Grant(ctx, "none")
	notFound(t, "Grant of an unknown id", err)
	for _, q := range []struct {
		asset, licensee string
		want            []string
	}{
		{"", "", []string{"g3", "g2", "g1"}},
		{"A", "", []string{"g2", "g1"}},
		{"", "L1", []string{"g3", "g1"}},
		{"A", "L1", []string{"g1"}},
		{"C", "", nil},
	} {
		gs, err := c.Grants(ctx, q.asset, q.licensee)
		must(t, err)
		if got := grantIDs(gs); !slices.Equal(got, q.want) {
			t.Fatalf("Grants(%q, %q): %v, want %v (newest first)", q.asset, q.licensee, got, q.want)
		}
	}
	apply(t, c, 8, func(tx catalog.Tx) error {
		g, err := tx.Grant("g1")
		if err != nil {
			return err
		}
		if g.Licensee != "L1" {
			t.Errorf("tx.Grant: %+v", g)
		}
		if _, err := tx.Grant("none"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("tx.Grant of an unknown id: %v, want catalog.ErrNotFound", err)
		}
		for _, q := range []struct {
			asset, licensee string
			want            bool
		}{{"A", "L1", true}, {"B", "L1", true}, {"B", "L2", false}, {"C", "L1", false}} {
			if ok, err := tx.HasGrant(q.asset, q.licensee); err != nil || ok != q.want {
				t.Errorf("HasGrant(%q, %q): %v, %v, want %v", q.asset, q.licensee, ok, err, q.want)
			}
		}
		return tx.RevokeGrant("g1")
	})
	g, err = c.Grant(ctx, "g1")
	must(t, err)
	if !g.Revoked {
		t.Fatal("a revoked grant reads as not revoked")
	}
	apply(t, c, 9, func(tx catalog.Tx) error {
		if ok, err := tx.HasGrant("A", "L1"); err != nil || !ok {
			t.Errorf("HasGrant of a revoked grant's licensee: %v, %v, want true (held)", ok, err)
		}
		return nil
	})
}

// testGrantRequests: queued requests with the owners' votes, the first
// vote of each owner kept.
func testGrantRequests(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 9, func(tx catalog.Tx) error { return tx.PutGrantRequest("r1", "A", []byte("req 1"), 8, 9) })
	apply(t, c, 10, func(tx catalog.Tx) error {
		if err := tx.PutGrantRequest("r2", "B", []byte("req 2"), 10, 10); err != nil {
			return err
		}
		if err := tx.PutGrantRequest("r1", "B", []byte("other"), 10, 10); err != nil { // kept as first recorded
			return err
		}
		return tx.AddGrantApproval("r1", "o1", true, []byte("vote 1"), 10)
	})
	apply(t, c, 11, func(tx catalog.Tx) error {
		if err := tx.AddGrantApproval("r1", "o2", false, []byte("vote 2"), 11); err != nil {
			return err
		}
		if err := tx.AddGrantApproval("r1", "o1", false, []byte("vote 1 again"), 11); err != nil {
			return err
		}
		r, err := tx.GrantRequest("r1")
		if err != nil {
			return err
		}
		if len(r.Votes) != 2 {
			t.Errorf("tx.GrantRequest votes %v", r.Votes)
		}
		if _, err := tx.GrantRequest("none"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("tx.GrantRequest of an unknown id: %v, want catalog.ErrNotFound", err)
		}
		return tx.SetGrantRequestStatus("r1", "approved")
	})
	r, err := c.GrantRequest(ctx, "r1")
	must(t, err)
	if r.ID != "r1" || r.Asset != "A" || string(r.Envelope) != "req 1" || r.Decision != 8 || r.Status != "approved" || r.LogIndex != 9 ||
		!maps.Equal(r.Votes, map[string]bool{"o1": true, "o2": false}) {
		t.Fatalf("request read back as %+v", r)
	}
	r, err = c.GrantRequest(ctx, "r2")
	must(t, err)
	if r.Status != "pending" || len(r.Votes) != 0 {
		t.Fatalf("a new request: %+v, want pending without votes", r)
	}
	_, err = c.GrantRequest(ctx, "none")
	notFound(t, "GrantRequest of an unknown id", err)
	for _, q := range []struct {
		asset, status string
		want          []string
	}{
		{"", "", []string{"r1", "r2"}},
		{"", "pending", []string{"r2"}},
		{"A", "", []string{"r1"}},
		{"A", "pending", nil},
		{"B", "pending", []string{"r2"}},
	} {
		rs, err := c.GrantRequests(ctx, q.asset, q.status)
		must(t, err)
		var got []string
		for _, r := range rs {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, q.want) {
			t.Fatalf("GrantRequests(%q, %q): %v, want %v (log order)", q.asset, q.status, got, q.want)
		}
	}
}

// testCounters: daily and total upload counters, and the daily count of
// grant requests, each key on its own.
func testCounters(t *testing.T, open Opener) {
	c := open(t)
	charge := func(key, day string, n, maxDay, maxTotal int64, wantOK bool, wantDay, wantTotal int64) {
		t.Helper()
		ok, d, tot, err := c.ChargeUpload(ctx, key, day, n, maxDay, maxTotal)
		must(t, err)
		if ok != wantOK || d != wantDay || tot != wantTotal {
			t.Fatalf("ChargeUpload(%s, %s, %d): %v %d %d, want %v %d %d", key, day, n, ok, d, tot, wantOK, wantDay, wantTotal)
		}
	}
	charge("k", "2027-01-01", 60, 100, 150, true, 60, 60)
	charge("k", "2027-01-01", 50, 100, 150, false, 60, 60) // over the day
	charge("k", "2027-01-02", 50, 100, 150, true, 50, 110)
	charge("k", "2027-01-03", 50, 100, 150, false, 0, 110) // over the total
	charge("k", "2027-01-03", 40, 100, 150, true, 40, 150) // exactly the total
	charge("other", "2027-01-01", 100, 100, 0, true, 100, 100)
	charge("other", "2027-01-01", 1000, 0, 0, true, 1100, 1100) // no limits

	req := func(lic, day string, wantOK bool, want int64) {
		t.Helper()
		ok, n, err := c.ChargeGrantRequest(ctx, lic, day, 2)
		must(t, err)
		if ok != wantOK || n != want {
			t.Fatalf("ChargeGrantRequest(%s, %s): %v %d, want %v %d", lic, day, ok, n, wantOK, want)
		}
	}
	req("l", "2027-01-01", true, 1)
	req("l", "2027-01-01", true, 2)
	req("l", "2027-01-01", false, 2)
	req("l", "2027-01-02", true, 1)
	req("m", "2027-01-01", true, 1)
	// Upload and grant request counters of one name are apart.
	charge("l", "2027-01-01", 5, 5, 0, true, 5, 5)

	// Counted reads a counter and writes nothing.
	counted := func(key, day string, want int64) {
		t.Helper()
		n, err := c.Counted(ctx, key, day)
		must(t, err)
		if n != want {
			t.Fatalf("Counted(%s, %s) = %d, want %d", key, day, n, want)
		}
	}
	counted("k", "2027-01-02", 50)
	counted("k", "total", 150)
	counted("grant-requests l", "2027-01-01", 2)
	counted("nobody", "total", 0)
	counted("nobody", "total", 0)
	charge("nobody", "2027-01-01", 0, 1, 0, true, 0, 0) // Counted made no row the charge would see
}
