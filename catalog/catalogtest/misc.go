package catalogtest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/httpsig"
)

// testNonces: a nonce is fresh once until its time passes; each key holds
// a bounded number of live nonces, and a full key affects no other.
func testNonces(t *testing.T, open Opener) {
	c := open(t)
	t0 := time.Unix(1_800_000_000, 0)
	now := t0
	s := c.Nonces(2, func() time.Time { return now })
	seen := func(k, n string, until time.Time) bool {
		t.Helper()
		ok, err := s.Seen(ctx, k, n, until)
		must(t, err)
		return ok
	}
	if seen("k", "n1", t0.Add(time.Minute)) {
		t.Fatal("a fresh nonce was seen")
	}
	if !seen("k", "n1", t0.Add(time.Minute)) {
		t.Fatal("a replayed nonce was fresh")
	}
	if seen("k", "n2", t0.Add(time.Minute)) {
		t.Fatal("n2 seen")
	}
	if _, err := s.Seen(ctx, "k", "n3", t0.Add(time.Minute)); !errors.Is(err, httpsig.ErrNonceStoreFull) {
		t.Fatalf("a key over its bound: %v, want httpsig.ErrNonceStoreFull", err)
	}
	if seen("other", "n3", t0.Add(time.Minute)) {
		t.Fatal("another key was affected by k's bound")
	}
	if !seen("k", "n2", t0.Add(time.Minute)) {
		t.Fatal("a replay was accepted while the key is full")
	}
	// A second store of the same catalog shares the nonces.
	if ok, err := c.Nonces(2, func() time.Time { return now }).Seen(ctx, "k", "n1", t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("another store of the catalog took a replayed nonce as fresh: %v, %v", ok, err)
	}
	now = t0.Add(time.Minute)
	if seen("k", "n1", t0.Add(2*time.Minute)) || seen("k", "n3", t0.Add(2*time.Minute)) {
		t.Fatal("expired nonces still count")
	}
}

// testNoncesConcurrent: of many concurrent uses of one nonce exactly one
// is fresh.
func testNoncesConcurrent(t *testing.T, open Opener) {
	c := open(t)
	s := c.Nonces(0, nil)
	var mu sync.Mutex
	fresh := 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := s.Seen(ctx, "k", "same", time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if !ok {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d fresh, want 1", fresh)
	}
}

// testObjects: object records, a blob declared a dataset later becoming
// one, and corruption records.
func testObjects(t *testing.T, open Opener) {
	c := open(t)
	t0 := time.Unix(1_800_000_000, 0).UTC()
	a, b := cid("a"), cid("b")
	must(t, c.PutObject(ctx, catalog.Object{ID: a, Size: 10, Kind: catalog.KindBlob, Created: t0}))
	must(t, c.PutObject(ctx, catalog.Object{ID: b, Size: 20, Kind: catalog.KindDataset, Created: t0}))
	o, err := c.Object(ctx, a)
	must(t, err)
	if o.ID != a || o.Size != 10 || o.Kind != catalog.KindBlob || !o.Created.Equal(t0) {
		t.Fatalf("object read back as %+v", o)
	}
	must(t, c.PutObject(ctx, catalog.Object{ID: a, Size: 99, Kind: catalog.KindDataset, Created: t0.Add(time.Hour)}))
	must(t, c.PutObject(ctx, catalog.Object{ID: b, Size: 99, Kind: catalog.KindBlob, Created: t0.Add(time.Hour)}))
	for _, id := range []struct {
		id   string
		size int64
	}{{"a", 10}, {"b", 20}} {
		o, err := c.Object(ctx, cid(id.id))
		must(t, err)
		if o.Kind != catalog.KindDataset || o.Size != id.size || !o.Created.Equal(t0) {
			t.Fatalf("object %s recorded again: %+v, want the first record, a dataset", id.id, o)
		}
	}
	_, err = c.Object(ctx, cid("none"))
	notFound(t, "Object of an unknown id", err)

	// PutObjects: the same rules, many at once; none is fine.
	must(t, c.PutObjects(ctx, nil))
	d, e := cid("d"), cid("e")
	must(t, c.PutObjects(ctx, []catalog.Object{
		{ID: a, Size: 99, Kind: catalog.KindBlob, Created: t0.Add(2 * time.Hour)},
		{ID: d, Size: 30, Kind: catalog.KindBlob, Created: t0},
		{ID: e, Size: 40, Kind: catalog.KindDataset, Created: t0},
		{ID: d, Size: 31, Kind: catalog.KindDataset, Created: t0.Add(time.Hour)},
	}))
	for _, w := range []catalog.Object{
		{ID: a, Size: 10, Kind: catalog.KindDataset},
		{ID: d, Size: 30, Kind: catalog.KindDataset},
		{ID: e, Size: 40, Kind: catalog.KindDataset},
	} {
		o, err := c.Object(ctx, w.ID)
		must(t, err)
		if o.Size != w.Size || o.Kind != w.Kind || !o.Created.Equal(t0) {
			t.Fatalf("after PutObjects, %s is %+v, want size %d, %s, created %v", w.ID, o, w.Size, w.Kind, t0)
		}
	}

	if _, ok, err := c.Corruption(ctx, a); err != nil || ok {
		t.Fatalf("Corruption of a sound blob: %v, %v", ok, err)
	}
	must(t, c.MarkCorrupt(ctx, catalog.Corruption{ID: b, Offset: 1, Length: 2, Detail: "first", Found: t0}))
	must(t, c.MarkCorrupt(ctx, catalog.Corruption{ID: a, Offset: 3, Length: 4, Detail: "bad chunk", Found: t0}))
	must(t, c.MarkCorrupt(ctx, catalog.Corruption{ID: b, Offset: 5, Length: 6, Detail: "again", Found: t0.Add(time.Hour)}))
	k, ok, err := c.Corruption(ctx, b)
	must(t, err)
	if !ok || k.ID != b || k.Offset != 5 || k.Length != 6 || k.Detail != "again" || !k.Found.Equal(t0.Add(time.Hour)) {
		t.Fatalf("corruption read back as %+v (%v), want the last record", k, ok)
	}
	all, err := c.Corruptions(ctx)
	must(t, err)
	want := []string{a.String(), b.String()}
	slices.Sort(want)
	var got []string
	for _, k := range all {
		got = append(got, k.ID.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Corruptions: %v, want %v (by id)", got, want)
	}
	must(t, c.ClearCorrupt(ctx, a))
	must(t, c.ClearCorrupt(ctx, cid("never corrupt")))
	if _, ok, err := c.Corruption(ctx, a); err != nil || ok {
		t.Fatalf("Corruption after ClearCorrupt: %v, %v", ok, err)
	}
	if all, err := c.Corruptions(ctx); err != nil || len(all) != 1 {
		t.Fatalf("Corruptions after ClearCorrupt: %v, %v", all, err)
	}
}

// testDump: two catalogs given the same entries dump the same lines,
// however the entries were batched and whatever failed on the way;
// operational state is not in Dump but in DumpOperational.
func testDump(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	parent := state(t, "parent", "parent data")
	child := state(t, "child", "child data", parent.Asset)
	changes := []catalog.Change{
		{Index: 1, Fn: func(tx catalog.Tx) error {
			return tx.PutAsset(catalog.AssetRecord{State: parent, Claim: "priority", Priority: parent.Asset, LogIndex: 1})
		}},
		{Index: 2, Fn: func(tx catalog.Tx) error {
			if err := tx.PutAsset(catalog.AssetRecord{State: child, Claim: "priority", Priority: child.Asset, LogIndex: 2}); err != nil {
				return err
			}
			return tx.Trail(child.Asset, 2, "register", "registered")
		}},
		{Index: 3, Fn: func(tx catalog.Tx) error { return tx.PutGrant("g", parent.Asset.String(), "l", []byte("env"), 3) }},
		{Index: 4, Fn: func(tx catalog.Tx) error { return tx.PutReceipt(receipt("r", "g", 5, 4)) }},
		{Index: 5, Fn: func(tx catalog.Tx) error { return tx.PutUsage(usage("g", "u", 5, 5)) }},
		{Index: 6, Fn: func(tx catalog.Tx) error {
			return tx.PutDispute(catalog.DisputeRecord{ID: "d", Asset: parent.Asset.String(), Opener: "o", Reason: "r", Envelope: []byte("env"), LogIndex: 6})
		}},
		{Index: 7, Fn: func(tx catalog.Tx) error {
			return tx.PutProposal(aid(t, "p"), parent.Asset, []byte("env"), "pending", 7)
		}},
	}
	for _, ch := range changes {
		apply(t, a, ch.Index, ch.Fn)
	}
	// b: the same entries in one sequence, after an entry that failed.
	if err := b.Update(ctx, 1, func(tx catalog.Tx) error {
		if err := changes[0].Fn(tx); err != nil {
			return err
		}
		return errors.New("boom")
	}); err == nil {
		t.Fatal("a failing change succeeded")
	}
	for i, err := range b.UpdateSeq(ctx, changes) {
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	da, err := a.Dump(ctx)
	must(t, err)
	db, err := b.Dump(ctx)
	must(t, err)
	if len(da) == 0 || !slices.IsSorted(da) {
		t.Fatalf("Dump is empty or not sorted: %q", da)
	}
	if !slices.Equal(da, db) {
		t.Fatalf("two catalogs holding the same state dump differently:\n%q\n%q", da, db)
	}
	for _, want := range []string{parent.Asset.String(), child.Asset.String(), "registered"} {
		if !slices.ContainsFunc(da, func(l string) bool { return strings.Contains(l, want) }) {
			t.Fatalf("Dump does not mention %s: %q", want, da)
		}
	}

	// Operational state: not in Dump, in DumpOperational.
	opBefore, err := a.DumpOperational(ctx)
	must(t, err)
	if _, _, _, err := a.ChargeUpload(ctx, "k", "2027-01-01", 5, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Nonces(0, nil).Seen(ctx, "k", "n", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	must(t, a.MarkCorrupt(ctx, catalog.Corruption{ID: cid("x"), Detail: "bad", Found: time.Now()}))
	if _, err := a.MeterReserve(ctx, catalog.MeterKey{Grant: "g", Session: "s", Asset: "A", Licensee: "l", Quota: "q"}, 5, catalog.Quota{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if da2, err := a.Dump(ctx); err != nil || !slices.Equal(da, da2) {
		t.Fatalf("operational state changed Dump (%v):\n%q\n%q", err, da, da2)
	}
	opAfter, err := a.DumpOperational(ctx)
	must(t, err)
	if !slices.IsSorted(opAfter) || len(opAfter) <= len(opBefore) {
		t.Fatalf("DumpOperational is not sorted or did not change with operational state:\n%q\n%q", opBefore, opAfter)
	}
	for _, kind := range []string{"nonces ", "corruptions ", "upload_usage ", "meter_sessions ", "grant_usage "} {
		if !slices.ContainsFunc(opAfter, func(l string) bool { return strings.HasPrefix(l, kind) }) {
			t.Fatalf("DumpOperational has no line starting %q: %q", kind, opAfter)
		}
	}
	for _, kind := range []string{"asset ", "lineage ", "trail ", "grant ", "receipt ", "usage ", "dispute ", "proposal "} {
		if !slices.ContainsFunc(da, func(l string) bool { return strings.HasPrefix(l, kind) }) {
			t.Fatalf("Dump has no line starting %q: %q", kind, da)
		}
	}

	// A derived change changes Dump.
	apply(t, a, 8, func(tx catalog.Tx) error { return tx.RevokeGrant("g") })
	if da2, err := a.Dump(ctx); err != nil || slices.Equal(da, da2) {
		t.Fatalf("revoking a grant did not change Dump (%v)", err)
	}
}

// testQuotaFloor: quota counters below what the log's receipts prove was
// served, and counters of grants the log does not hold, are drift;
// RaiseQuotaFloor repairs both and never lowers a counter.
func testQuotaFloor(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 1, func(tx catalog.Tx) error { return tx.PutGrant("g", "A", "L", []byte("env"), 1) })
	apply(t, c, 2, func(tx catalog.Tx) error {
		r := receipt("r", "g", 100, 2)
		r.Requests = 2
		return tx.PutReceipt(r)
	})
	if _, err := c.MeterReserve(ctx, catalog.MeterKey{Grant: "ghost", Session: "s", Asset: "A", Licensee: "L", Quota: "q"}, 1, catalog.Quota{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	drift, err := c.QuotaDrift(ctx)
	must(t, err)
	mentions := func(lines []string, s string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) })
	}
	if len(drift) != 2 || !mentions(drift, "quota g: ") || !mentions(drift, "quota ghost: ") {
		t.Fatalf("QuotaDrift: %q, want g below its receipts and ghost unknown", drift)
	}
	n, err := c.RaiseQuotaFloor(ctx)
	must(t, err)
	if n != 2 {
		t.Fatalf("RaiseQuotaFloor changed %d counters, want 2", n)
	}
	if drift, err := c.QuotaDrift(ctx); err != nil || len(drift) != 0 {
		t.Fatalf("QuotaDrift after RaiseQuotaFloor: %q, %v", drift, err)
	}
	g, err := c.Grant(ctx, "g")
	must(t, err)
	if g.Bytes != 100 || g.Requests != 2 {
		t.Fatalf("grant counters after RaiseQuotaFloor: %d bytes %d requests, want 100, 2", g.Bytes, g.Requests)
	}
	// Served beyond the receipts: the counter is above the floor and stays.
	if _, err := c.MeterReserve(ctx, catalog.MeterKey{Grant: "g", Session: "s", Asset: "A", Licensee: "L", Quota: "q"}, 50, catalog.Quota{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MeterServed(ctx, "g", "s", "c", 0, 50, 50, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := c.RaiseQuotaFloor(ctx); err != nil || n != 0 {
		t.Fatalf("RaiseQuotaFloor over counters at or above the floor: %d, %v", n, err)
	}
	if g, err := c.Grant(ctx, "g"); err != nil || g.Bytes != 150 || g.Requests != 3 {
		t.Fatalf("grant counters: %+v, %v, want 150 bytes, 3 requests", g, err)
	}
}
