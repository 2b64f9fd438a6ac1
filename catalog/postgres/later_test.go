package postgres

import (
	"context"
	"errors"
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

// TestPutNewGrantDuplicate: a grant recorded again through PutNewGrant
// fails its entry with the error it was given (no read first: the primary
// key refuses the write when it is sent), the entry's other changes are
// undone, it is still recorded as applied, and the entries around it
// stay applied — whether it is followed in the transaction or last, and
// whether the entry reads after it or not.
func TestPutNewGrantDuplicate(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	dup := fmt.Errorf("duplicate: %w", catalog.ErrNoEffect)
	put := func(id string, idx uint64) func(catalog.Tx) error {
		return func(tx catalog.Tx) error {
			t := tx.(*Tx)
			if err := t.PutNewGrant(id, "a", "l", []byte("{}"), idx, dup); err != nil {
				return err
			}
			return t.later(`INSERT INTO trail(asset, log_index, type, summary) VALUES('a', $1, 'grant', 'x')`, int64(idx))
		}
	}
	readAfter := func(id string, idx uint64) func(catalog.Tx) error {
		return func(tx catalog.Tx) error {
			t := tx.(*Tx)
			if err := t.PutNewGrant(id, "a", "l", []byte("{}"), idx, dup); err != nil {
				return err
			}
			t.Grant(id) // sends the write; its error fails the entry even if ignored here
			return t.later(`INSERT INTO trail(asset, log_index, type, summary) VALUES('a', $1, 'grant', 'x')`, int64(idx))
		}
	}
	errs := c.UpdateSeq(ctx, []catalog.Change{
		{Index: 0, Fn: put("g0", 0)},
		{Index: 1, Fn: put("g0", 1)}, // duplicate, followed
		{Index: 2, Fn: put("g2", 2)},
		{Index: 3, Fn: readAfter("g2", 3)}, // duplicate, read after it
		{Index: 4, Fn: put("g4", 4)},
		{Index: 5, Fn: put("g4", 5)}, // duplicate, last
	})
	for i, err := range errs {
		want := i%2 == 1
		if got := errors.Is(err, catalog.ErrNoEffect); got != want || (!want && err != nil) {
			t.Fatalf("entry %d: error %v; want a duplicate for entries 1, 3, 5 and none for the others", i, err)
		}
	}
	for id, want := range map[string]uint64{"g0": 0, "g2": 2, "g4": 4} {
		g, err := c.Grant(ctx, id)
		if err != nil || g.LogIndex != want {
			t.Fatalf("grant %s: %+v, %v; want the first, at %d", id, g, err, want)
		}
	}
	var trail []int64
	rows, err := c.pool.Query(ctx, `SELECT log_index FROM trail WHERE asset = 'a' ORDER BY log_index`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			t.Fatal(err)
		}
		trail = append(trail, i)
	}
	if rows.Err() != nil || fmt.Sprint(trail) != "[0 2 4]" {
		t.Fatalf("trail %v, %v; want [0 2 4]: a duplicate's changes are undone", trail, rows.Err())
	}
	next, above, err := c.Applied(ctx)
	if err != nil || next != 6 || len(above) != 0 {
		t.Fatalf("applied: next %d, above %v, %v; want all six applied", next, above, err)
	}
}

// TestMarkOnlyAfterFailedWrite: the applied mark of an entry without
// catalog effect (Change.Fn nil) waits to go with the next statements;
// when those carry a failing queued write of the entry before it, that
// entry alone is undone and the mark is sent again, outside its savepoint.
func TestMarkOnlyAfterFailedWrite(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	bad := func(tx catalog.Tx) error {
		t := tx.(*Tx)
		if err := t.PutGrant("g0", "a", "l", []byte("{}"), 0); err != nil {
			return err
		}
		return t.later(`INSERT INTO no_such_table VALUES (1)`)
	}
	put := func(tx catalog.Tx) error { return tx.(*Tx).PutGrant("g3", "a", "l", []byte("{}"), 3) }
	for _, changes := range [][]catalog.Change{
		{{Index: 0, Fn: bad}, {Index: 1}, {Index: 2}, {Index: 3, Fn: put}}, // the marks go with entry 3's savepoint
		{{Index: 4, Fn: bad}, {Index: 5}},                                  // the mark goes with the watermark's statements
	} {
		errs := c.UpdateSeq(ctx, changes)
		if errs[0] == nil {
			t.Fatalf("errors %v: want the entry with a failing write failed", errs)
		}
		for i, err := range errs[1:] {
			if err != nil {
				t.Fatalf("entry %d: %v", changes[i+1].Index, err)
			}
		}
	}
	next, above, err := c.Applied(ctx)
	if err != nil || next != 0 || len(above) != 4 || !above[1] || !above[2] || !above[3] || !above[5] {
		t.Fatalf("applied: next %d, above %v, %v; want 1, 2, 3 and 5 applied, 0 and 4 not", next, above, err)
	}
	if _, err := c.Grant(ctx, "g0"); err == nil {
		t.Fatal("the failed entry's grant was recorded")
	}
}
