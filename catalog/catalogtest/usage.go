package catalogtest

import (
	"errors"
	"slices"
	"testing"

	"github.com/charter-dev/charter/catalog"
)

func receipt(id, grant string, bytes int64, idx uint64) catalog.ReceiptRecord {
	return catalog.ReceiptRecord{ID: id, Grant: grant, Asset: "A", Licensee: "L", Session: "s", Bytes: bytes, Requests: 1, Envelope: []byte("env " + id), LogIndex: idx}
}

func usage(grant, id string, tokens int64, idx uint64) catalog.UsageRecord {
	return catalog.UsageRecord{Grant: grant, ID: id, Statement: "st " + id, Asset: "A", Licensee: "L", Tokens: tokens, Calls: 2, Runs: 3, Time: "2027-01-15T08:00:00Z", Envelope: []byte("env " + id), LogIndex: idx}
}

// testReceipts: receipts recorded once, listed oldest first.
func testReceipts(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 3, func(tx catalog.Tx) error { return tx.PutReceipt(receipt("r1", "g", 100, 3)) })
	apply(t, c, 5, func(tx catalog.Tx) error {
		if err := tx.PutReceipt(receipt("r2", "h", 50, 5)); err != nil {
			return err
		}
		return tx.PutReceipt(receipt("r1", "h", 1, 5)) // kept as first recorded
	})
	rs, err := c.Receipts(ctx, "", 10)
	must(t, err)
	if len(rs) != 2 || rs[0].ID != "r1" || rs[1].ID != "r2" {
		t.Fatalf("Receipts: %+v", rs)
	}
	want := receipt("r1", "g", 100, 3)
	got := *rs[0]
	if got.ID != want.ID || got.Grant != want.Grant || got.Asset != want.Asset || got.Licensee != want.Licensee || got.Session != want.Session ||
		got.Bytes != want.Bytes || got.Requests != want.Requests || string(got.Envelope) != string(want.Envelope) || got.LogIndex != want.LogIndex {
		t.Fatalf("receipt read back as %+v, want %+v", got, want)
	}
	if rs, err := c.Receipts(ctx, "h", 10); err != nil || len(rs) != 1 || rs[0].ID != "r2" {
		t.Fatalf("Receipts of grant h: %+v, %v", rs, err)
	}
	if rs, err := c.Receipts(ctx, "", 1); err != nil || len(rs) != 1 || rs[0].ID != "r1" {
		t.Fatalf("Receipts limited to 1: %+v, %v", rs, err)
	}
	if rs, err := c.Receipts(ctx, "none", 10); err != nil || len(rs) != 0 {
		t.Fatalf("Receipts of a grant with none: %+v, %v", rs, err)
	}
}

// testUsage: a usage id is recorded once per grant; a second use of it
// fails with ErrDuplicate and changes nothing.
func testUsage(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 4, func(tx catalog.Tx) error { return tx.PutUsage(usage("g", "u1", 7, 4)) })
	err := c.Update(ctx, 6, func(tx catalog.Tx) error {
		err := tx.PutUsage(usage("g", "u1", 99, 6))
		if !errors.Is(err, catalog.ErrDuplicate) {
			t.Errorf("a usage id used again: %v, want catalog.ErrDuplicate", err)
		}
		// The same id under another grant is another event.
		return tx.PutUsage(usage("h", "u1", 8, 6))
	})
	must(t, err)
	u, err := c.Usage(ctx, "g", "u1")
	must(t, err)
	want := usage("g", "u1", 7, 4)
	if u.Grant != want.Grant || u.ID != want.ID || u.Statement != want.Statement || u.Asset != want.Asset || u.Licensee != want.Licensee ||
		u.Tokens != 7 || u.Calls != 2 || u.Runs != 3 || u.Time != want.Time || string(u.Envelope) != "env u1" || u.LogIndex != 4 {
		t.Fatalf("usage read back as %+v, want %+v", u, want)
	}
	if u, err := c.Usage(ctx, "h", "u1"); err != nil || u.Tokens != 8 {
		t.Fatalf("usage u1 of grant h: %+v, %v", u, err)
	}
	_, err = c.Usage(ctx, "g", "none")
	notFound(t, "Usage of an unknown id", err)

	// Events with a quota key add their tokens and runs to its counters,
	// once; events without one count nowhere.
	q := func(grant, id string, tokens int64, idx uint64) catalog.UsageRecord {
		u := usage(grant, id, tokens, idx)
		u.Quota = "L A T"
		return u
	}
	apply(t, c, 8, func(tx catalog.Tx) error {
		if err := tx.PutUsage(q("g", "u2", 10, 8)); err != nil {
			return err
		}
		if err := tx.PutUsage(q("g", "u2", 10, 8)); !errors.Is(err, catalog.ErrDuplicate) {
			t.Errorf("a usage id used again under a quota: %v, want catalog.ErrDuplicate", err)
		}
		if err := tx.PutUsage(q("h", "u2", 5, 8)); err != nil {
			return err
		}
		tokens, runs, err := tx.UsageQuota("L A T")
		if err == nil && (tokens != 15 || runs != 6) {
			t.Errorf("Tx.UsageQuota: %d tokens, %d runs; want 15 and 6", tokens, runs)
		}
		return err
	})
	if tokens, runs, err := c.UsageQuota(ctx, "L A T"); err != nil || tokens != 15 || runs != 6 {
		t.Fatalf("UsageQuota: %d tokens, %d runs, %v; want 15 and 6", tokens, runs, err)
	}
	if tokens, runs, err := c.UsageQuota(ctx, "none"); err != nil || tokens != 0 || runs != 0 {
		t.Fatalf("UsageQuota of an unused key: %d, %d, %v", tokens, runs, err)
	}

	// The reasons of unsettled uses: each call replaces the list.
	must(t, c.SetUnsettledReasons(ctx, []catalog.UnsettledReason{{Asset: "A", Use: "u2", Error: "no funds"}, {Asset: "A", Use: "u1", Error: "lineage"}, {Asset: "B", Use: "u3", Error: "no funds"}}))
	rs, err := c.UnsettledReasons(ctx, "A")
	must(t, err)
	if len(rs) != 2 || rs[0] != (catalog.UnsettledReason{Asset: "A", Use: "u1", Error: "lineage"}) || rs[1].Use != "u2" {
		t.Fatalf("UnsettledReasons of A: %+v", rs)
	}
	must(t, c.SetUnsettledReasons(ctx, []catalog.UnsettledReason{{Asset: "B", Use: "u3", Error: "no funds"}}))
	if rs, err := c.UnsettledReasons(ctx, "A"); err != nil || len(rs) != 0 {
		t.Fatalf("UnsettledReasons of A after a run without failures: %+v, %v", rs, err)
	}
}

func useKeys(t *testing.T, c catalog.UsageReader, through uint64) []string {
	t.Helper()
	var keys []string
	must(t, c.Unsettled(ctx, through, func(u catalog.Use) error { keys = append(keys, u.Key); return nil }))
	return keys
}

// testSettlement: the settlement watermark with the uses a settlement
// left unsettled, settlement payloads and their journal roots.
func testSettlement(t *testing.T, open Opener) {
	c := open(t)
	if w, err := c.SettledThrough(ctx); err != nil || w != 0 {
		t.Fatalf("SettledThrough of an empty catalog: %d, %v", w, err)
	}
	apply(t, c, 3, func(tx catalog.Tx) error { return tx.PutReceipt(receipt("r1", "g", 100, 3)) })
	apply(t, c, 4, func(tx catalog.Tx) error { return tx.PutUsage(usage("g", "u1", 7, 4)) })
	apply(t, c, 5, func(tx catalog.Tx) error { return tx.PutReceipt(receipt("r2", "h", 50, 5)) })
	apply(t, c, 6, func(tx catalog.Tx) error { return tx.PutUsage(usage("h", "u2", 9, 6)) })
	var uses []catalog.Use
	must(t, c.Unsettled(ctx, 10, func(u catalog.Use) error { uses = append(uses, u); return nil }))
	want := []catalog.Use{
		{Key: "r:r1", Receipt: true, Grant: "g", Bytes: 100, LogIndex: 3},
		{Key: "r:r2", Receipt: true, Grant: "h", Bytes: 50, LogIndex: 5},
		{Key: "u:g/u1", Grant: "g", Tokens: 7, Calls: 2, Runs: 3, LogIndex: 4},
		{Key: "u:h/u2", Grant: "h", Tokens: 9, Calls: 2, Runs: 3, LogIndex: 6},
	}
	if !slices.Equal(uses, want) {
		t.Fatalf("Unsettled: %+v, want %+v (receipts first, each in log order)", uses, want)
	}
	if got := useKeys(t, c, 4); !slices.Equal(got, []string{"r:r1", "u:g/u1"}) {
		t.Fatalf("Unsettled through 4: %v", got)
	}
	stop := errors.New("stop")
	if err := c.Unsettled(ctx, 10, func(catalog.Use) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Unsettled with a failing fn: %v, want its error", err)
	}

	// Settled through 4, r1 left unsettled.
	apply(t, c, 7, func(tx catalog.Tx) error {
		if err := tx.MarkSettled(4, []string{"r:r1"}); err != nil {
			return err
		}
		return tx.PutSettlement(7, []byte(`{"journalRoot":"aa","journalSize":3}`))
	})
	if w, err := c.SettledThrough(ctx); err != nil || w != 4 {
		t.Fatalf("SettledThrough: %d, %v, want 4", w, err)
	}
	if got := useKeys(t, c, 10); !slices.Equal(got, []string{"r:r1", "r:r2", "u:h/u2"}) {
		t.Fatalf("Unsettled after a settlement through 4 that left r1: %v", got)
	}
	if got := useKeys(t, c, 4); !slices.Equal(got, []string{"r:r1"}) {
		t.Fatalf("Unsettled through 4 after it was settled: %v", got)
	}
	// A settlement cannot go back.
	err := c.Update(ctx, 8, func(tx catalog.Tx) error { return tx.MarkSettled(3, nil) })
	if err == nil || errors.Is(err, catalog.ErrNoEffect) {
		t.Fatalf("a settlement through 3 below the watermark 4: %v, want refused", err)
	}
	// Settled through 6, a usage event left.
	apply(t, c, 9, func(tx catalog.Tx) error {
		if p, err := tx.LastSettlement(); err != nil || string(p) != `{"journalRoot":"aa","journalSize":3}` {
			t.Errorf("LastSettlement: %q, %v", p, err)
		}
		if err := tx.MarkSettled(6, []string{"u:h/u2"}); err != nil {
			return err
		}
		if err := tx.PutSettlement(9, []byte(`{"journalRoot":"bb","journalSize":5}`)); err != nil {
			return err
		}
		return tx.PutSettlement(7, []byte(`{"journalRoot":"cc","journalSize":9}`)) // kept as first recorded
	})
	if got := useKeys(t, c, 10); !slices.Equal(got, []string{"u:h/u2"}) {
		t.Fatalf("Unsettled after a settlement through 6 that left u2: %v", got)
	}
	apply(t, c, 10, func(tx catalog.Tx) error { return tx.MarkSettled(10, nil) })
	if got := useKeys(t, c, 100); len(got) != 0 {
		t.Fatalf("Unsettled after everything was settled: %v", got)
	}

	ps, order, err := c.Settlements(ctx, 5)
	must(t, err)
	if !slices.Equal(order, []uint64{9, 7}) || string(ps[9]) != `{"journalRoot":"bb","journalSize":5}` || string(ps[7]) != `{"journalRoot":"aa","journalSize":3}` || len(ps) != 2 {
		t.Fatalf("Settlements: %v %v", order, ps)
	}
	ps, order, err = c.Settlements(ctx, 1)
	must(t, err)
	if !slices.Equal(order, []uint64{9}) || len(ps) != 1 {
		t.Fatalf("the last settlement: %v %v", order, ps)
	}
	roots, err := c.JournalRoots(ctx)
	must(t, err)
	if !slices.Equal(roots, []catalog.JournalRoot{{LogIndex: 7, Size: 3, Hash: "aa"}, {LogIndex: 9, Size: 5, Hash: "bb"}}) {
		t.Fatalf("JournalRoots: %+v", roots)
	}
}

// testDisputes: disputes, resolved once, listed by asset and status.
func testDisputes(t *testing.T, open Opener) {
	c := open(t)
	dispute := func(id, asset, opener string, idx uint64) catalog.DisputeRecord {
		return catalog.DisputeRecord{ID: id, Asset: asset, Opener: opener, Reason: "reason " + id, Envelope: []byte("env " + id), LogIndex: idx}
	}
	apply(t, c, 30, func(tx catalog.Tx) error { return tx.PutDispute(dispute("d1", "A", "o1", 30)) })
	apply(t, c, 31, func(tx catalog.Tx) error {
		if err := tx.PutDispute(dispute("d2", "B", "o2", 31)); err != nil {
			return err
		}
		if err := tx.PutDispute(dispute("d1", "B", "o9", 31)); err != nil { // kept as first recorded
			return err
		}
		for _, q := range []struct{ asset, opener, want string }{{"A", "o1", "d1"}, {"A", "o2", ""}, {"B", "o2", "d2"}} {
			if id, err := tx.OpenDisputeBy(q.asset, q.opener); err != nil || id != q.want {
				t.Errorf("OpenDisputeBy(%s, %s): %q, %v, want %q", q.asset, q.opener, id, err, q.want)
			}
		}
		d, err := tx.Dispute("d1")
		if err != nil {
			return err
		}
		if d.Opener != "o1" {
			t.Errorf("tx.Dispute: %+v", d)
		}
		if _, err := tx.Dispute("none"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("tx.Dispute of an unknown id: %v, want catalog.ErrNotFound", err)
		}
		return nil
	})
	d, err := c.Dispute(ctx, "d1")
	must(t, err)
	if d.ID != "d1" || d.Asset != "A" || d.Opener != "o1" || d.Reason != "reason d1" || d.Status != "open" || string(d.Envelope) != "env d1" || d.LogIndex != 30 || d.Resolved != 0 {
		t.Fatalf("dispute read back as %+v", d)
	}
	_, err = c.Dispute(ctx, "none")
	notFound(t, "Dispute of an unknown id", err)
	apply(t, c, 33, func(tx catalog.Tx) error { return tx.ResolveDispute("d1", "released", 33) })
	apply(t, c, 34, func(tx catalog.Tx) error {
		if err := tx.ResolveDispute("d1", "voided", 34); err != nil { // resolved already: no change
			return err
		}
		if id, err := tx.OpenDisputeBy("A", "o1"); err != nil || id != "" {
			t.Errorf("OpenDisputeBy after it was resolved: %q, %v", id, err)
		}
		return nil
	})
	d, err = c.Dispute(ctx, "d1")
	must(t, err)
	if d.Status != "released" || d.Resolved != 33 {
		t.Fatalf("resolved dispute: %+v, want released at 33", d)
	}
	for _, q := range []struct {
		asset, status string
		want          []string
	}{
		{"", "", []string{"d1", "d2"}},
		{"A", "", []string{"d1"}},
		{"", "open", []string{"d2"}},
		{"", "released", []string{"d1"}},
		{"B", "released", nil},
	} {
		ds, err := c.Disputes(ctx, q.asset, q.status)
		must(t, err)
		var got []string
		for _, d := range ds {
			got = append(got, d.ID)
		}
		if !slices.Equal(got, q.want) {
			t.Fatalf("Disputes(%q, %q): %v, want %v", q.asset, q.status, got, q.want)
		}
	}
}
