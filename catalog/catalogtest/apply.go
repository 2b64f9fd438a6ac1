package catalogtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
)

// applied checks the catalog's replay position.
func applied(t *testing.T, c catalog.Applier, next uint64, above ...uint64) {
	t.Helper()
	n, a, err := c.Applied(ctx)
	must(t, err)
	got := slices.Sorted(maps.Keys(a))
	if n != next || !slices.Equal(got, above) {
		t.Fatalf("applied: next %d above %v, want next %d above %v", n, got, next, above)
	}
}

func put(t *testing.T, name string, idx uint64) func(catalog.Tx) error {
	st := state(t, name, "data "+name)
	return func(tx catalog.Tx) error {
		return tx.PutAsset(catalog.AssetRecord{State: st, Claim: "priority", Priority: st.Asset, LogIndex: idx})
	}
}

// testApply: Update records the entry it applies; an entry applied once
// is refused (ErrApplied) without running its change; a failing change is
// undone and its entry stays unapplied, except with ErrNoEffect, where it
// is undone but applied; MarkApplied marks another entry; UpdateSeq
// applies in the order given, each change undone alone.
func testApply(t *testing.T, open Opener) {
	c := open(t)
	applied(t, c, 0)
	apply(t, c, 0, put(t, "a", 0))
	if _, err := c.Asset(ctx, aid(t, "a")); err != nil {
		t.Fatal("an applied change is not visible:", err)
	}
	applied(t, c, 1)
	ran := false
	if err := c.Update(ctx, 0, func(catalog.Tx) error { ran = true; return nil }); !errors.Is(err, catalog.ErrApplied) || ran {
		t.Fatalf("entry 0 again: %v (change ran: %v), want catalog.ErrApplied without running", err, ran)
	}

	// An entry above a gap is applied and remembered above the watermark.
	apply(t, c, 2, put(t, "b", 2))
	applied(t, c, 1, 2)
	if err := c.Update(ctx, 2, func(catalog.Tx) error { ran = true; return nil }); !errors.Is(err, catalog.ErrApplied) || ran {
		t.Fatalf("entry 2 again: %v (change ran: %v), want catalog.ErrApplied", err, ran)
	}

	// A failing change is undone and its entry is not applied.
	boom := errors.New("boom")
	err := c.Update(ctx, 1, func(tx catalog.Tx) error {
		if err := put(t, "c", 1)(tx); err != nil {
			return err
		}
		if _, err := tx.Asset(aid(t, "c")); err != nil {
			return fmt.Errorf("a change does not see its own write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing change: got %v, want its error", err)
	}
	_, err = c.Asset(ctx, aid(t, "c"))
	notFound(t, "the asset of a failed change", err)
	applied(t, c, 1, 2)
	apply(t, c, 1, put(t, "c", 1))
	applied(t, c, 3)

	// ErrNoEffect: undone, but applied.
	err = c.Update(ctx, 3, func(tx catalog.Tx) error {
		if err := put(t, "d", 3)(tx); err != nil {
			return err
		}
		return fmt.Errorf("a duplicate: %w", catalog.ErrNoEffect)
	})
	if !errors.Is(err, catalog.ErrNoEffect) {
		t.Fatalf("no-effect change: got %v, want its error", err)
	}
	_, err = c.Asset(ctx, aid(t, "d"))
	notFound(t, "the asset of a change with no effect", err)
	applied(t, c, 4)
	if err := c.Update(ctx, 3, func(catalog.Tx) error { return nil }); !errors.Is(err, catalog.ErrApplied) {
		t.Fatalf("entry 3 again: %v, want catalog.ErrApplied", err)
	}

	// MarkApplied: entry 5 rides along with entry 4; marking one applied
	// long ago is fine.
	apply(t, c, 4, func(tx catalog.Tx) error {
		if err := tx.MarkApplied(5); err != nil {
			return err
		}
		return tx.MarkApplied(0)
	})
	applied(t, c, 6)
	if err := c.Update(ctx, 5, func(catalog.Tx) error { return nil }); !errors.Is(err, catalog.ErrApplied) {
		t.Fatalf("entry 5, marked applied by entry 4: %v, want catalog.ErrApplied", err)
	}

	// UpdateSeq: in order, each change alone.
	var order []uint64
	step := func(idx uint64, fail bool) catalog.Change {
		return catalog.Change{Index: idx, Fn: func(tx catalog.Tx) error {
			order = append(order, idx)
			if err := put(t, fmt.Sprint("seq ", idx), idx)(tx); err != nil {
				return err
			}
			if idx == 8 {
				// Sees what the change before it in the sequence wrote.
				if _, err := tx.Asset(aid(t, "seq 6")); err != nil {
					return fmt.Errorf("entry 8 does not see entry 6: %w", err)
				}
			}
			if fail {
				return boom
			}
			return nil
		}}
	}
	errs := c.UpdateSeq(ctx, []catalog.Change{step(6, false), step(7, true), step(8, false), {Index: 0, Fn: func(catalog.Tx) error { return nil }}})
	if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil || !errors.Is(errs[3], catalog.ErrApplied) {
		t.Fatalf("UpdateSeq errors %v, want [nil boom nil ErrApplied]", errs)
	}
	if !slices.Equal(order, []uint64{6, 7, 8}) {
		t.Fatalf("UpdateSeq ran changes in order %v, want [6 7 8]", order)
	}
	_, err = c.Asset(ctx, aid(t, "seq 7"))
	notFound(t, "the asset of the failed change of a sequence", err)
	for _, n := range []string{"seq 6", "seq 8"} {
		if _, err := c.Asset(ctx, aid(t, n)); err != nil {
			t.Fatalf("%s: a change of a sequence was lost with another's failure: %v", n, err)
		}
	}
	applied(t, c, 7, 8)
}

// testApplyMarkOnly: a change without Fn (an entry without catalog
// effect) is recorded as applied, in a sequence with changes that apply
// and fail around it, and is refused as applied the second time.
func testApplyMarkOnly(t *testing.T, open Opener) {
	c := open(t)
	boom := errors.New("boom")
	fail := func(tx catalog.Tx) error {
		if err := put(t, "mark failed", 2)(tx); err != nil {
			return err
		}
		return boom
	}
	errs := c.UpdateSeq(ctx, []catalog.Change{{Index: 0, Fn: put(t, "mark 0", 0)}, {Index: 1}, {Index: 2, Fn: fail}, {Index: 3}, {Index: 4, Fn: put(t, "mark 4", 4)}, {Index: 5}})
	if len(errs) != 6 || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], boom) || errs[3] != nil || errs[4] != nil || errs[5] != nil {
		t.Fatalf("UpdateSeq errors %v, want [nil nil boom nil nil nil]", errs)
	}
	applied(t, c, 2, 3, 4, 5)
	for _, n := range []string{"mark 0", "mark 4"} {
		if _, err := c.Asset(ctx, aid(t, n)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	_, err := c.Asset(ctx, aid(t, "mark failed"))
	notFound(t, "the asset of the failed change", err)
	errs = c.UpdateSeq(ctx, []catalog.Change{{Index: 1}, {Index: 3}, {Index: 2}})
	if len(errs) != 3 || !errors.Is(errs[0], catalog.ErrApplied) || !errors.Is(errs[1], catalog.ErrApplied) || errs[2] != nil {
		t.Fatalf("UpdateSeq errors %v, want [ErrApplied ErrApplied nil]", errs)
	}
	applied(t, c, 6)
}

// testApplyConcurrent: entries applied by many callers at once, each
// entry by several of them, are applied exactly once each.
func testApplyConcurrent(t *testing.T, open Opener) {
	c := open(t)
	const entries, callers = 64, 8
	var mu sync.Mutex
	done := map[uint64]int{}
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			for i := range uint64(entries) {
				idx := (i + uint64(w)*7) % entries
				var changes []catalog.Change
				changes = append(changes, catalog.Change{Index: idx, Fn: func(tx catalog.Tx) error {
					mu.Lock()
					done[idx]++
					mu.Unlock()
					return tx.Trail(aid(t, "concurrent"), idx, "register", fmt.Sprint("entry ", idx))
				}})
				for _, err := range c.UpdateSeq(ctx, changes) {
					if err != nil && !errors.Is(err, catalog.ErrApplied) {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for i := range uint64(entries) {
		if done[i] != 1 {
			t.Fatalf("entry %d applied %d times, want once", i, done[i])
		}
	}
	applied(t, c, entries)
	trail, err := c.Trail(ctx, aid(t, "concurrent"))
	must(t, err)
	if len(trail) != entries {
		t.Fatalf("%d trail entries, want %d", len(trail), entries)
	}
	for i, e := range trail {
		if e.LogIndex != uint64(i) {
			t.Fatalf("trail entry %d has log index %d: not in log order", i, e.LogIndex)
		}
	}
}

// testRollback: a failing change that wrote to every area leaves nothing
// behind: the catalog dumps as it did before.
func testRollback(t *testing.T, open Opener) {
	c := open(t)
	apply(t, c, 0, put(t, "parent", 0))
	before, err := c.Dump(ctx)
	must(t, err)
	a := aid(t, "parent")
	boom := errors.New("boom")
	err = c.Update(ctx, 1, func(tx catalog.Tx) error {
		st := state(t, "child", "data child", a)
		for _, f := range []func() error{
			func() error {
				return tx.PutAsset(catalog.AssetRecord{State: st, Claim: "priority", Priority: st.Asset, LogIndex: 1})
			},
			func() error { s := *st; s.Version = 2; return tx.SetState(&s) },
			func() error { return tx.Trail(a, 1, "register", "x") },
			func() error { return tx.PutProposal(aid(t, "p"), a, []byte("env"), "pending", 1) },
			func() error { return tx.AddApproval(aid(t, "p"), "did:x", []byte("env"), 1) },
			func() error {
				return tx.PutClaimant(catalog.Claimant{Asset: st.Asset, Content: cid("data child").String(), LogIndex: 1, Signers: []identity.DID{did("x")}})
			},
			func() error {
				return tx.Claims(st.Asset.String(), func(add func(string) error) error { return add(cid("file").String()) })
			},
			func() error { return tx.PutGrant("g", a.String(), "l", []byte("env"), 1) },
			func() error { return tx.PutGrantRequest("r", a.String(), []byte("env"), 1, 1) },
			func() error { return tx.AddGrantApproval("r", "o", true, []byte("env"), 1) },
			func() error {
				return tx.PutReceipt(catalog.ReceiptRecord{ID: "rc", Grant: "g", Asset: a.String(), Licensee: "l", Session: "s", Bytes: 1, Requests: 1, Envelope: []byte("env"), LogIndex: 1})
			},
			func() error { return tx.ApplyReceipt("rc", "g", "s", 1, "q", 1, 1) },
			func() error {
				return tx.PutUsage(catalog.UsageRecord{Grant: "g", ID: "u", Statement: "st", Asset: a.String(), Licensee: "l", Tokens: 1, Time: "2027-01-15T08:00:00Z", Envelope: []byte("env"), LogIndex: 1})
			},
			func() error { return tx.MarkSettled(1, []string{"r:rc"}) },
			func() error { return tx.PutSettlement(1, []byte(`{"journalSize":1,"journalRoot":"00"}`)) },
			func() error {
				return tx.PutDispute(catalog.DisputeRecord{ID: "d", Asset: a.String(), Opener: "o", Reason: "r", Envelope: []byte("env"), LogIndex: 1})
			},
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the change's error", err)
	}
	after, err := c.Dump(ctx)
	must(t, err)
	if !slices.Equal(before, after) {
		t.Fatalf("a failed change left rows behind:\nbefore %q\nafter  %q", before, after)
	}
	if w, err := c.SettledThrough(ctx); err != nil || w != 0 {
		t.Fatalf("settlement watermark %d, %v after a failed change, want 0", w, err)
	}
	var uses int
	must(t, c.Unsettled(ctx, 100, func(catalog.Use) error { uses++; return nil }))
	if uses != 0 {
		t.Fatalf("%d unsettled uses after a failed change, want 0", uses)
	}
	if cl, err := c.ContentClaims(ctx, cid("file").String()); err != nil || len(cl) != 0 {
		t.Fatalf("claims %v, %v after a failed change, want none", cl, err)
	}
	applied(t, c, 1)
}
