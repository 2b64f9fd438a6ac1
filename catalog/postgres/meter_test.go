package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// TestMeterRangesMatchBitmap records random served ranges and compares the
// sealed session with a bitmap of the bytes served: ranges sorted,
// disjoint, not touching, covering exactly the bytes served, and the byte
// count the sum of everything recorded (repeats included).
func TestMeterRangesMatchBitmap(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		const size = 512
		k := MeterKey{Grant: "g", Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
		var bits [size]bool
		var total int64
		for range r.IntN(40) + 1 {
			a := r.Int64N(size)
			n := r.Int64N(min(size-a, 48) + 1)
			if ok, err := c.MeterReserve(ctx, k, n, Quota{}, time.Now()); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if _, err := c.MeterServed(ctx, "g", "s", "c1", a, n, n, time.Now()); err != nil {
				t.Fatal(err)
			}
			total += n
			for i := a; i < a+n; i++ {
				bits[i] = true
			}
		}
		var want []MeterRange
		for i := int64(0); i < size; i++ {
			if bits[i] && (i == 0 || !bits[i-1]) {
				want = append(want, MeterRange{Content: "c1", Start: i, End: i})
			}
			if bits[i] {
				want[len(want)-1].End = i + 1
			}
		}
		var got *OpenSession
		_, err := c.SealSessions(ctx, SessionFilter{Session: "s", Licensee: "l"}, func(s *OpenSession) ([]byte, error) {
			got = s
			return []byte("env"), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Bytes != total || got.Part != int64(trial+1) {
			t.Fatalf("trial %d: %d bytes part %d, want %d part %d", trial, got.Bytes, got.Part, total, trial+1)
		}
		if len(got.Ranges) != len(want) {
			t.Fatalf("trial %d: got %v, want %v", trial, got.Ranges, want)
		}
		for i := range want {
			if got.Ranges[i] != want[i] {
				t.Fatalf("trial %d: got %v, want %v", trial, got.Ranges, want)
			}
		}
	}
}

// TestMeterRangesCollapse: past the per-content limit the ranges become
// their hull, so a hostile client cannot grow a session without bound.
func TestMeterRangesCollapse(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	k := MeterKey{Grant: "g", Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
	for i := range int64(MaxRangesPerContent + 1) {
		c.MeterReserve(ctx, k, 1, Quota{}, time.Now())
		if _, err := c.MeterServed(ctx, "g", "s", "c", i*10, 1, 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	c.pool.QueryRow(ctx, `SELECT count(*) FROM meter_ranges`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d ranges kept, want the hull", n)
	}
	var lo, hi int64
	c.pool.QueryRow(ctx, `SELECT start, stop FROM meter_ranges`).Scan(&lo, &hi)
	if lo != 0 || hi != MaxRangesPerContent*10+1 {
		t.Fatalf("hull [%d, %d)", lo, hi)
	}
}

// TestQuotaCountsEverything: a quota counts logged receipts, sealed ones,
// open sessions and reservations in flight, over every grant with the same
// quota key; what a request reserved and did not send is released.
func TestQuotaCountsEverything(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	q := Quota{MaxBytes: 100}
	k1 := MeterKey{Grant: "g1", Session: "s", Asset: "a", Licensee: "l", Quota: "l a t"}
	k2 := MeterKey{Grant: "g2", Session: "s", Asset: "a", Licensee: "l", Quota: "l a t"}
	reserve := func(k MeterKey, n int64) bool {
		ok, err := c.MeterReserve(ctx, k, n, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if reserve(k1, 101) {
		t.Fatal("a request over the quota on its own was allowed")
	}
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
	if b, _, _ := c.QuotaUse(ctx, "l a t"); b != 60 {
		t.Fatalf("use %d, want 60 (10 served + 50 reserved)", b)
	}
	if _, err := c.MeterServed(ctx, "g2", "s", "c", 0, 50, 50, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Sealed, then logged: still counted, once.
	sealed, err := c.SealSessions(ctx, SessionFilter{Session: "s", Licensee: "l"}, func(*OpenSession) ([]byte, error) { return []byte("env"), nil })
	if err != nil || len(sealed) != 2 {
		t.Fatal(sealed, err)
	}
	if b, _, _ := c.QuotaUse(ctx, "l a t"); b != 60 {
		t.Fatalf("use after sealing %d, want 60", b)
	}
	for i, s := range sealed {
		err := c.Update(ctx, uint64(i), func(tx *Tx) error {
			return tx.ApplyReceipt("r"+s.Grant, s.Grant, s.Session, s.Part, "l a t", map[string]int64{"g1": 10, "g2": 50}[s.Grant], 1)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if b, r, _ := c.QuotaUse(ctx, "l a t"); b != 60 || r != 2 {
		t.Fatalf("use after logging %d bytes %d requests, want 60, 2", b, r)
	}
	if rest, _ := c.SealedReceipts(ctx); len(rest) != 0 {
		t.Fatalf("%d sealed receipts left after logging", len(rest))
	}
	if reserve(k1, 41) || !reserve(k1, 40) {
		t.Fatal("quota edge")
	}
}

// TestSealIsolated: a session whose receipt cannot be made stays open and
// does not stop the others from being sealed.
func TestSealIsolated(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	for _, g := range []string{"bad", "good"} {
		k := MeterKey{Grant: g, Session: "s", Asset: "a", Licensee: "l", Quota: "q"}
		c.MeterReserve(ctx, k, 5, Quota{}, time.Now())
		if _, err := c.MeterServed(ctx, g, "s", "c", 0, 5, 5, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sealed, err := c.SealSessions(ctx, SessionFilter{Session: "s", Licensee: "l"}, func(s *OpenSession) ([]byte, error) {
		if s.Grant == "bad" {
			return nil, errors.New("cannot sign")
		}
		return []byte("env"), nil
	})
	if err == nil || len(sealed) != 1 || sealed[0].Grant != "good" {
		t.Fatalf("sealed %+v, err %v", sealed, err)
	}
	if ok, _ := c.HasSession(ctx, "s", "l"); !ok {
		t.Fatal("the failed session was lost")
	}
}
