package catalogtest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
)

// seal seals the sessions f selects with a fixed envelope and returns
// the sessions as sign saw them.
func seal(t *testing.T, c catalog.Meter, f catalog.SessionFilter) ([]catalog.SealedReceipt, []*catalog.OpenSession) {
	t.Helper()
	var seen []*catalog.OpenSession
	sealed, err := c.SealSessions(ctx, f, func(s *catalog.OpenSession) ([]byte, error) {
		seen = append(seen, s)
		return []byte("receipt " + s.Grant), nil
	})
	must(t, err)
	return sealed, seen
}

// testMeterRanges records random served ranges and compares the sealed
// session with a bitmap of the bytes served: ranges sorted, disjoint, not
// touching, covering exactly the bytes served, the byte count the sum of
// everything recorded (repeats included), parts counting up.
func testMeterRanges(t *testing.T, open Opener) {
	c := open(t)
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1_800_000_000, 0).UTC()
	for trial := range 20 {
		const size = 512
		k := catalog.MeterKey{Grant: "g", Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
		var bits [size]bool
		var total, requests int64
		for range r.IntN(40) + 1 {
			a := r.Int64N(size)
			n := r.Int64N(min(size-a, 48) + 1)
			if ok, err := c.MeterReserve(ctx, k, n, catalog.Quota{}, t0); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if _, err := c.MeterServed(ctx, "g", "s", "c1", a, n, n, t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			total += n
			requests++
			for i := a; i < a+n; i++ {
				bits[i] = true
			}
		}
		var want []catalog.MeterRange
		for i := int64(0); i < size; i++ {
			if bits[i] && (i == 0 || !bits[i-1]) {
				want = append(want, catalog.MeterRange{Content: "c1", Start: i, End: i})
			}
			if bits[i] {
				want[len(want)-1].End = i + 1
			}
		}
		sealed, seen := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l"})
		if len(seen) != 1 || len(sealed) != 1 {
			t.Fatalf("trial %d: %d sessions signed, %d sealed, want 1", trial, len(seen), len(sealed))
		}
		got := seen[0]
		if got.MeterKey != k || got.Bytes != total || got.Requests != requests || got.Part != int64(trial+1) {
			t.Fatalf("trial %d: %+v, want %+v with %d bytes, %d requests, part %d", trial, got, k, total, requests, trial+1)
		}
		if !got.Started.Equal(t0) || !got.Last.Equal(t0.Add(time.Second)) {
			t.Fatalf("trial %d: started %v last %v, want %v and %v", trial, got.Started, got.Last, t0, t0.Add(time.Second))
		}
		if !slices.Equal(got.Ranges, want) {
			t.Fatalf("trial %d: ranges %v, want %v", trial, got.Ranges, want)
		}
		if s := sealed[0]; s.Grant != "g" || s.Session != "s" || s.Part != int64(trial+1) || string(s.Envelope) != "receipt g" {
			t.Fatalf("trial %d: sealed %+v", trial, s)
		}
	}
}

// testMeterRangesCollapse: past catalog.MaxRangesPerContent ranges of one
// content, a session's ranges become their hull, so a hostile client
// cannot grow a session without bound.
func testMeterRangesCollapse(t *testing.T, open Opener) {
	c := open(t)
	k := catalog.MeterKey{Grant: "g", Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
	var most int
	for i := range int64(catalog.MaxRangesPerContent + 1) {
		if _, err := c.MeterReserve(ctx, k, 1, catalog.Quota{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		n, err := c.MeterServed(ctx, "g", "s", "c", i*10, 1, 1, time.Now())
		must(t, err)
		most = max(most, n)
	}
	if most > catalog.MaxRangesPerContent {
		t.Fatalf("a session held %d ranges of one content, over %d", most, catalog.MaxRangesPerContent)
	}
	_, seen := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l"})
	want := []catalog.MeterRange{{Content: "c", Start: 0, End: catalog.MaxRangesPerContent*10 + 1}}
	if len(seen) != 1 || !slices.Equal(seen[0].Ranges, want) {
		t.Fatalf("ranges %v, want the hull %v", seen[0].Ranges, want)
	}
	if seen[0].Bytes != catalog.MaxRangesPerContent+1 {
		t.Fatalf("%d bytes, want %d: collapsing ranges must not change the count", seen[0].Bytes, catalog.MaxRangesPerContent+1)
	}
}

// testQuota: a quota counts logged receipts, sealed ones, open sessions
// and reservations in flight, over every grant with the same quota key;
// what a request reserved and did not send is released; a receipt's log
// entry applied twice counts once.
func testQuota(t *testing.T, open Opener) {
	c := open(t)
	q := catalog.Quota{MaxBytes: 100}
	k1 := catalog.MeterKey{Grant: "g1", Session: "s", Asset: "a", Licensee: "l", Quota: "l a t"}
	k2 := catalog.MeterKey{Grant: "g2", Session: "s", Asset: "a", Licensee: "l", Quota: "l a t"}
	reserve := func(k catalog.MeterKey, n int64) bool {
		ok, err := c.MeterReserve(ctx, k, n, q, time.Now())
		must(t, err)
		return ok
	}
	use := func(wantBytes, wantRequests int64) {
		t.Helper()
		b, r, err := c.QuotaUse(ctx, "l a t")
		must(t, err)
		if b != wantBytes || r != wantRequests {
			t.Fatalf("quota use %d bytes %d requests, want %d, %d", b, r, wantBytes, wantRequests)
		}
	}
	if reserve(k1, 101) {
		t.Fatal("a request over the quota on its own was allowed")
	}
	use(0, 0)
	if !reserve(k1, 60) {
		t.Fatal("60 of 100 refused")
	}
	if reserve(k2, 50) {
		t.Fatal("a second grant of the same licensee, asset and terms got a fresh quota")
	}
	// The client went away after 10 bytes: 50 are released.
	if _, err := c.MeterServed(ctx, "g1", "s", "c", 0, 10, 60, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !reserve(k2, 50) {
		t.Fatal("released bytes still count")
	}
	use(60, 2) // 10 served + 50 reserved
	if _, err := c.MeterServed(ctx, "g2", "s", "c", 0, 50, 50, time.Now()); err != nil {
		t.Fatal(err)
	}
	if used, err := c.InFlight(ctx, "s", "l"); err != nil || used != 0 {
		t.Fatalf("in flight after every request ended: %d, %v", used, err)
	}
	// Sealed, then logged: still counted, once.
	sealed, _ := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l"})
	if len(sealed) != 2 {
		t.Fatalf("%d sealed, want 2", len(sealed))
	}
	use(60, 2)
	if rest, err := c.SealedReceipts(ctx); err != nil || len(rest) != 2 {
		t.Fatalf("sealed receipts awaiting the log: %v, %v", rest, err)
	}
	served := map[string]int64{"g1": 10, "g2": 50}
	for i, s := range sealed {
		// The receipt's entry, and a duplicate entry of it.
		for _, idx := range []uint64{uint64(i), uint64(i) + 10} {
			apply(t, c, idx, func(tx catalog.Tx) error {
				if err := tx.ApplyReceipt("r"+s.Grant, s.Grant, s.Session, s.Part, "l a t", served[s.Grant], 1); err != nil {
					return err
				}
				return tx.PutReceipt(catalog.ReceiptRecord{ID: "r" + s.Grant, Grant: s.Grant, Asset: "a", Licensee: "l", Session: s.Session, Bytes: served[s.Grant], Requests: 1, Envelope: s.Envelope, LogIndex: idx})
			})
		}
	}
	use(60, 2)
	if rest, err := c.SealedReceipts(ctx); err != nil || len(rest) != 0 {
		t.Fatalf("%d sealed receipts left after logging (%v)", len(rest), err)
	}
	if reserve(k1, 41) || !reserve(k1, 40) {
		t.Fatal("quota edge")
	}
	if used, err := c.InFlight(ctx, "s", "l"); err != nil || used != 40 {
		t.Fatalf("in flight %d, %v, want 40", used, err)
	}
	// Requests bound too; counted per grant on the grant's record.
	k3 := catalog.MeterKey{Grant: "g3", Session: "s", Asset: "a", Licensee: "l", Quota: "other"}
	for i := range 3 {
		ok, err := c.MeterReserve(ctx, k3, 0, catalog.Quota{MaxRequests: 2}, time.Now())
		must(t, err)
		if ok != (i < 2) {
			t.Fatalf("request %d under a quota of 2 requests: allowed %v", i+1, ok)
		}
	}
	apply(t, c, 20, func(tx catalog.Tx) error { return tx.PutGrant("g1", "a", "l", []byte("env"), 20) })
	g, err := c.Grant(ctx, "g1")
	must(t, err)
	if g.Bytes != 10 || g.Requests != 2 {
		t.Fatalf("grant g1 served %d bytes %d requests, want 10, 2", g.Bytes, g.Requests)
	}
}

// testSealIsolated: a session whose receipt cannot be made stays open and
// does not stop the others from being sealed.
func testSealIsolated(t *testing.T, open Opener) {
	c := open(t)
	for _, g := range []string{"bad", "good"} {
		k := catalog.MeterKey{Grant: g, Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
		if _, err := c.MeterReserve(ctx, k, 5, catalog.Quota{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MeterServed(ctx, g, "s", "c", 0, 5, 5, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	cannot := errors.New("cannot sign")
	sealed, err := c.SealSessions(ctx, catalog.SessionFilter{Session: "s", Licensee: "l"}, func(s *catalog.OpenSession) ([]byte, error) {
		if s.Grant == "bad" {
			return nil, cannot
		}
		return []byte("env"), nil
	})
	if !errors.Is(err, cannot) || len(sealed) != 1 || sealed[0].Grant != "good" {
		t.Fatalf("sealed %+v, err %v", sealed, err)
	}
	if ok, err := c.HasSession(ctx, "s", "l"); err != nil || !ok {
		t.Fatalf("the failed session was lost: %v, %v", ok, err)
	}
	// Sealing again seals the one left, with only the grant asked for.
	sealed, seen := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l", Grant: "bad"})
	if len(sealed) != 1 || sealed[0].Grant != "bad" || seen[0].Bytes != 5 {
		t.Fatalf("sealed %+v", sealed)
	}
	if ok, err := c.HasSession(ctx, "s", "l"); err != nil || ok {
		t.Fatalf("HasSession after every session was sealed: %v, %v", ok, err)
	}
}

// testReservations: what is in flight, sessions selected by idleness and
// by licensee, reservations forgotten on start.
func testReservations(t *testing.T, open Opener) {
	c := open(t)
	t0 := time.Unix(1_800_000_000, 0)
	old := catalog.MeterKey{Grant: "g", Session: "old", Asset: "a", Licensee: "l", Quota: "q"}
	fresh := catalog.MeterKey{Grant: "g", Session: "fresh", Asset: "a", Licensee: "l", Quota: "q"}
	other := catalog.MeterKey{Grant: "h", Session: "fresh", Asset: "a", Licensee: "m", Quota: "q2"}
	for _, k := range []catalog.MeterKey{old, fresh, other} {
		at := t0.Add(time.Hour)
		if k == old {
			at = t0
		}
		if ok, err := c.MeterReserve(ctx, k, 30, catalog.Quota{}, at); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if _, err := c.MeterServed(ctx, k.Grant, k.Session, "c", 0, 10, 10, at); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.InFlight(ctx, "fresh", "l"); err != nil || n != 20 {
		t.Fatalf("InFlight: %d, %v, want 20", n, err)
	}
	if ok, err := c.HasSession(ctx, "fresh", "m"); err != nil || !ok {
		t.Fatalf("HasSession of another licensee's session: %v, %v", ok, err)
	}
	if ok, err := c.HasSession(ctx, "old", "m"); err != nil || ok {
		t.Fatalf("HasSession of a session the licensee does not have: %v, %v", ok, err)
	}
	sealed, _ := seal(t, c, catalog.SessionFilter{IdleBefore: t0.Add(time.Minute)})
	if len(sealed) != 1 || sealed[0].Session != "old" {
		t.Fatalf("idle sessions sealed: %+v, want the old one", sealed)
	}
	must(t, c.ReleaseReservations(ctx))
	if n, err := c.InFlight(ctx, "fresh", "l"); err != nil || n != 0 {
		t.Fatalf("InFlight after ReleaseReservations: %d, %v", n, err)
	}
	if b, _, err := c.QuotaUse(ctx, "q"); err != nil || b != 20 {
		t.Fatalf("quota use after ReleaseReservations: %d, %v, want the 20 bytes served", b, err)
	}
	// The session still holds what it served; sealing it keeps the
	// next part number.
	sealed, seen := seal(t, c, catalog.SessionFilter{Session: "fresh", Licensee: "l"})
	if len(sealed) != 1 || seen[0].Bytes != 10 || seen[0].Part != 1 {
		t.Fatalf("sealed %+v (%+v)", sealed, seen)
	}
	all, err := c.SealedReceipts(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Session != "old" || all[1].Session != "fresh" {
		t.Fatalf("SealedReceipts: %+v, want old then fresh (sealing order)", all)
	}
}

// testReceiptAheadOfSession: a catalog copied while a session was open (a
// live backup's catalog, whose log copy runs ahead) applies the receipt
// that sealed the session after the copy. What the copy holds as served
// is in that receipt: the session starts over at the receipt's part (it
// is not sealed into a second receipt), the quota counts the receipt
// once, and the grant's counter gets what the copy lacked. A receipt of
// a session the copy never saw counts in full against the quota.
func testReceiptAheadOfSession(t *testing.T, open Opener) {
	c := open(t)
	k := catalog.MeterKey{Grant: "g", Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
	if ok, err := c.MeterReserve(ctx, k, 10, catalog.Quota{}, time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := c.MeterServed(ctx, "g", "s", "c", 0, 10, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The log: part 1 of s sealed 25 bytes in 2 requests (10 of them the
	// copy's), then part 1 of session t, which the copy never saw.
	receipt := func(idx uint64, id, session string, part, bytes, requests int64) {
		apply(t, c, idx, func(tx catalog.Tx) error {
			if err := tx.ApplyReceipt(id, "g", session, part, "q", bytes, requests); err != nil {
				return err
			}
			return tx.PutReceipt(catalog.ReceiptRecord{ID: id, Grant: "g", Asset: "a", Licensee: "l", Session: session, Bytes: bytes, Requests: requests, Envelope: []byte("env"), LogIndex: idx})
		})
	}
	receipt(1, "r1", "s", 1, 25, 2)
	receipt(2, "r2", "t", 1, 7, 1)
	receipt(3, "r1", "s", 1, 25, 2) // a duplicate entry: no effect
	if b, r, err := c.QuotaUse(ctx, "q"); err != nil || b != 32 || r != 3 {
		t.Fatalf("quota use %d bytes, %d requests, %v; the receipts show 32 bytes, 3 requests", b, r, err)
	}
	if sealed, _ := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l"}); len(sealed) != 0 {
		t.Fatalf("the copy's open bytes sealed again: %+v", sealed)
	}
	apply(t, c, 4, func(tx catalog.Tx) error { return tx.PutGrant("g", "a", "l", []byte("env"), 4) })
	// The grant's counter: s in full; t, which the catalog never saw, is
	// left to whoever made the copy (a rebuild carries counters over, a
	// backup credits them).
	if g, err := c.Grant(ctx, "g"); err != nil || g.Bytes != 25 || g.Requests != 2 {
		t.Fatalf("grant counter %+v, %v; the receipts of s show 25 bytes, 2 requests", g, err)
	}
	// The session goes on under its next part.
	if ok, err := c.MeterReserve(ctx, k, 5, catalog.Quota{}, time.Now()); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := c.MeterServed(ctx, "g", "s", "c", 10, 5, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, seen := seal(t, c, catalog.SessionFilter{Session: "s", Licensee: "l"}); len(seen) != 1 || seen[0].Part != 2 || seen[0].Bytes != 5 || seen[0].Requests != 1 {
		t.Fatalf("next part of s: %+v, want part 2 of 5 bytes, 1 request", seen)
	}
}
