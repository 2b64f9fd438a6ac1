package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

// ReplayBatch is how many log entries Replay applies per catalog
// transaction.
const ReplayBatch = 512

// Replay applies every entry of log that cat has not applied yet, in log
// order: a catalog catches up with the log after a crash, and an empty one
// is rebuilt from the log alone. Every entry applies: a duplicate or an
// entry that breaks the rules applies with no effect, and a malformed one
// is skipped as applied. Only a failure of the catalog itself (or of
// reading the log) stops replay; a restart resumes from the first entry
// that failed. It returns the index after the log's last entry, where a
// Sequencer starts, and how many entries it applied.
func (r *Registry) Replay(ctx context.Context, cat catalog.Applier, log Reader) (end uint64, n int, err error) {
	next, done, err := cat.Applied(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("registry: replay: %w", err)
	}
	end = next
	var batch []catalog.Change
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.applySeq(ctx, cat, batch)
		batch = batch[:0]
		return err
	}
	for rec, err := range log.Entries(ctx, next) {
		if err != nil {
			if !errors.Is(err, auditlog.ErrMalformed) {
				return end, n, fmt.Errorf("registry: replay: %w", err)
			}
			r.log.Warn("replay: skipping malformed log entry", "index", rec.Index, "err", err)
			rec.Entry = auditlog.Entry{} // applies with no effect
		}
		end = rec.Index + 1
		if done[rec.Index] {
			continue
		}
		batch = append(batch, catalog.Change{Index: rec.Index, Fn: func(tx catalog.Tx) error { return r.Apply(ctx, tx, rec.Index, rec.Entry) }})
		n++
		if len(batch) == ReplayBatch {
			if err := flush(); err != nil {
				return end, n, err
			}
		}
	}
	if err := flush(); err != nil {
		return end, n, err
	}
	if n > 0 {
		r.log.Info("replayed log entries into the catalog", "entries", n)
	}
	return end, n, nil
}

// applySeq applies entries in log order for replay and returns the first
// failure of the catalog itself: an entry without effect is applied.
// After a failure the rest of the batch is not applied.
func (r *Registry) applySeq(ctx context.Context, cat catalog.Applier, batch []catalog.Change) error {
	var failed error
	for i, c := range batch {
		fn := c.Fn
		batch[i].Fn = func(tx catalog.Tx) error {
			if failed != nil {
				return fmt.Errorf("not applied after entry %d failed", c.Index)
			}
			err := fn(tx)
			if err != nil && !errors.Is(err, catalog.ErrNoEffect) {
				failed = err
			}
			return err
		}
	}
	for i, err := range cat.UpdateSeq(ctx, batch) {
		switch {
		case err == nil, errors.Is(err, catalog.ErrApplied):
		case errors.Is(err, catalog.ErrNoEffect):
			r.logOutcome(batch[i].Index, "", err)
		default:
			return fmt.Errorf("registry: replay entry %d: %w", batch[i].Index, err)
		}
	}
	return nil
}

// Rebuildable is what Rebuild writes to: the applier and the records of
// stored blobs.
type Rebuildable interface {
	catalog.Applier
	catalog.Objects
}

// Rebuild builds cat, a new catalog, from the log and the blob store:
// every entry of log is applied in order (Replay), which reads no blob,
// and every blob of blobs is recorded as a plain blob (RecordObjects):
// the objects table, which describes the blob store itself, is the only
// part of a catalog the blob store decides. Operational state
// that the log does not carry (quota counters, corruption records) is the
// caller's to carry over from the old catalog.
func (r *Registry) Rebuild(ctx context.Context, cat Rebuildable, log Reader, blobs blob.Enumerator) error {
	if _, _, err := r.Replay(ctx, cat, log); err != nil {
		return err
	}
	return RecordObjects(ctx, blobs, cat)
}

// RecordObjects records every blob of store in cat as a plain blob, as an
// upload does: whether content is a dataset is answered from what the log
// backs (a registered dataset manifest), never from the stored bytes. A
// blob already recorded keeps its record.
func RecordObjects(ctx context.Context, store blob.Enumerator, cat catalog.Objects) error {
	return store.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		return cat.PutObject(ctx, catalog.Object{ID: id, Size: size, Kind: catalog.KindBlob, Created: time.Now()})
	})
}

// CheckReport is what Check found. A clean catalog has every list empty.
type CheckReport struct {
	// Missing are rows the log and blobs imply that the catalog lacks (or
	// holds changed); Extra are catalog rows they do not back.
	Missing []string `json:"missing"`
	Extra   []string `json:"unexpected"`
	// Quota lists quota counters below what the log's receipts show was
	// served, or counters of grants the log does not hold.
	Quota []string `json:"quota"`
}

// Clean reports whether nothing drifted.
func (c *CheckReport) Clean() bool { return len(c.Missing)+len(c.Extra)+len(c.Quota) == 0 }

// Check compares live, the catalog in use, with built, one Rebuild made
// from the same log and blobs (of any backend): a row edited by hand, or
// lost, shows up as a difference (Checker.Dump lines are
// backend-neutral); so does a quota counter that was reset or lowered
// below what the log's receipts show.
func Check(ctx context.Context, live, built catalog.Checker) (*CheckReport, error) {
	have, err := live.Dump(ctx)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{}
	if rep.Quota, err = live.QuotaDrift(ctx); err != nil {
		return nil, err
	}
	want, err := built.Dump(ctx)
	if err != nil {
		return nil, err
	}
	rep.Missing, rep.Extra = Diff(want, have)
	return rep, nil
}

// Diff returns the lines of want not in have, and of have not in want;
// both are sorted.
func Diff(want, have []string) (missing, extra []string) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || (i < len(want) && want[i] < have[j]):
			missing = append(missing, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			extra = append(extra, have[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}
