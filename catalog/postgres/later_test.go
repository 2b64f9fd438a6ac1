package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/catalog"
)

// TestQueuedWriteFailsItsEntry: writes an entry queues (Tx.later) go with
// the next entry's statements; one that fails undoes its own entry alone,
// whether another entry follows it in the transaction or not, and the
// entries around it stay applied.
func TestQueuedWriteFailsItsEntry(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	put := func(id string) func(catalog.Tx) error {
		return func(tx catalog.Tx) error {
			return tx.(*Tx).PutGrant(id, "a", "l", []byte("{}"), 0)
		}
	}
	bad := func(id string) func(catalog.Tx) error {
		return func(tx catalog.Tx) error {
			if err := tx.(*Tx).PutGrant(id, "a", "l", []byte("{}"), 0); err != nil {
				return err
			}
			return tx.(*Tx).later(`INSERT INTO no_such_table VALUES (1)`)
		}
	}
	errs := c.UpdateSeq(ctx, []catalog.Change{
		{Index: 0, Fn: put("g0")},
		{Index: 1, Fn: bad("g1")},
		{Index: 2, Fn: put("g2")},
		{Index: 3, Fn: bad("g3")}, // the last entry: its writes go with the watermark's statements
	})
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] == nil {
		t.Fatalf("errors %v: want the entries with a failing write to fail alone", errs)
	}
	for id, want := range map[string]bool{"g0": true, "g1": false, "g2": true, "g3": false} {
		_, err := c.Grant(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("grant %s recorded: %v, want %v (%v)", id, got, want, err)
		}
	}
	next, above, err := c.Applied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next != 1 || !above[2] || above[1] || above[3] {
		t.Fatalf("applied: next %d, above %v; want 0 and 2 applied, 1 and 3 not", next, above)
	}
	// A failing write followed by a read in the same entry: the read
	// fails with it, and the entry fails even if it ignores the error.
	errs = c.UpdateSeq(ctx, []catalog.Change{
		{Index: 1, Fn: func(tx catalog.Tx) error {
			t := tx.(*Tx)
			t.later(`INSERT INTO no_such_table VALUES (1)`)
			t.Grant("g0") // error ignored
			return t.PutGrant("g1", "a", "l", []byte("{}"), 1)
		}},
		{Index: 3, Fn: put("g3")},
	})
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("errors %v: want the first entry failed, the second applied", errs)
	}
	if _, err := c.Grant(ctx, "g1"); err == nil {
		t.Fatal("the failed entry's grant was recorded")
	}
	if _, err := c.Grant(ctx, "g3"); err != nil {
		t.Fatal(err)
	}
}

// TestChargeConcurrent: concurrent charges of one key never pass the day's
// or the total's limit together (each is one batch: lock, conditional
// upsert, read).
func TestChargeConcurrent(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	var ok atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			day := "2027-01-01"
			if i%2 == 1 {
				day = "2027-01-02"
			}
			passed, usedDay, usedTotal, err := c.ChargeUpload(ctx, "k", day, 1, 20, 30)
			if err != nil {
				errc <- err
				return
			}
			if passed {
				ok.Add(1)
			}
			if usedDay > 20 || usedTotal > 30 {
				errc <- fmt.Errorf("used %d today, %d in all: over the limits", usedDay, usedTotal)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if ok.Load() != 30 {
		t.Fatalf("%d charges passed, want 30 (the total's limit)", ok.Load())
	}
	for day, want := range map[string]int64{"total": 30} {
		if got, err := c.Counted(ctx, "k", day); err != nil || got != want {
			t.Fatalf("counted %s: %d, %v; want %d", day, got, err, want)
		}
	}
	a, _ := c.Counted(ctx, "k", "2027-01-01")
	b, _ := c.Counted(ctx, "k", "2027-01-02")
	if a > 20 || b > 20 || a+b != 30 {
		t.Fatalf("days counted %d and %d: want each ≤ 20 and 30 in all", a, b)
	}
	// Refused: what is used is reported, nothing is counted.
	passed, d, tot, err := c.ChargeUpload(ctx, "k", "2027-01-03", 1, 20, 30)
	if err != nil || passed || d != 0 || tot != 30 {
		t.Fatalf("charge over the total: %v %d %d %v; want refused, 0 today, 30 in all", passed, d, tot, err)
	}
}
