package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob/memstore"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// memLog is a Reader over entries held in memory: what a log holds, with
// no tiles. A nil Payload stands for an entry that does not decode.
type memLog struct {
	mu      sync.Mutex
	entries []auditlog.Entry
}

func (l *memLog) append(e auditlog.Entry) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return uint64(len(l.entries) - 1)
}

func (l *memLog) Entries(ctx context.Context, from uint64) iter.Seq2[auditlog.Record, error] {
	return func(yield func(auditlog.Record, error) bool) {
		l.mu.Lock()
		es := l.entries
		l.mu.Unlock()
		for i := from; i < uint64(len(es)); i++ {
			var err error
			if es[i].Payload == nil {
				err = fmt.Errorf("entry %d: %w", i, auditlog.ErrMalformed)
			}
			if !yield(auditlog.Record{Index: i, Entry: es[i]}, err) {
				return
			}
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newCatalog(t *testing.T) *catsqlite.Catalog {
	t.Helper()
	c, err := catsqlite.Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// registration returns the asset.register entry of a manifest on its own
// content, signed by k, and the asset's id.
func registration(t *testing.T, k *identity.Key, name string) (auditlog.Entry, asset.ID) {
	t.Helper()
	m := &asset.Manifest{Content: content.IDFromDigest([32]byte{byte(len(name)), name[0]}), Name: name, MediaType: "text/plain",
		Created: asset.NewTime(time.Unix(1_800_000_000, 0)), Threshold: 1, Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
	env, err := m.Sign(k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	_, id, _, err := asset.OpenManifest(env)
	if err != nil {
		t.Fatal(err)
	}
	return auditlog.Entry{Type: auditlog.TypeAssetRegister, Payload: raw}, id
}

// TestReplay replays a log holding a registration, a copy of it, an entry
// that does not decode and one of an unknown type: every entry applies,
// only the first registration takes effect, and a second replay has
// nothing left to do.
func TestReplay(t *testing.T) {
	ctx := t.Context()
	k, _ := identity.Generate()
	reg, a := registration(t, k, "first")
	log := &memLog{}
	log.append(reg)
	log.append(reg)
	log.append(auditlog.Entry{Type: "x"})
	log.append(auditlog.Entry{Type: "future.kind", Payload: []byte("?")})
	r := New(Config{Operator: k.DID(), Logger: quiet()})
	cat := newCatalog(t)
	end, n, err := r.Replay(ctx, cat, log)
	if err != nil || end != 4 || n != 4 {
		t.Fatalf("Replay = %d, %d, %v; want 4, 4, nil", end, n, err)
	}
	rec, err := cat.Asset(ctx, a)
	if err != nil || rec.LogIndex != 0 {
		t.Fatalf("asset %s: %+v, %v; want it registered at entry 0", a, rec, err)
	}
	if next, _, err := cat.Applied(ctx); err != nil || next != 4 {
		t.Fatalf("Applied = %d, %v; want 4", next, err)
	}
	if end, n, err := r.Replay(ctx, cat, log); err != nil || end != 4 || n != 0 {
		t.Fatalf("second Replay = %d, %d, %v; want 4, 0, nil", end, n, err)
	}
}

// TestSequencer submits entries out of order, and leaves one to be read
// back from the log: they apply in log order all the same (the copy of a
// registration at index 1 has no effect even though it was submitted
// first), and a gap is filled from the log after GapWait.
func TestSequencer(t *testing.T) {
	ctx := t.Context()
	k, _ := identity.Generate()
	regA, a := registration(t, k, "a")
	regB, b := registration(t, k, "bee")
	log := &memLog{}
	log.append(regA)
	log.append(regA)
	log.append(regB)
	log.append(regB)
	r := New(Config{Operator: k.DID(), Logger: quiet()})
	cat := newCatalog(t)
	changed := 0
	q := r.NewSequencer(ctx, cat, log, func() { changed++ })
	defer q.Stop()
	q.Start(0)
	p1 := q.Submit(1, regA)
	p0 := q.Submit(0, regA)
	for _, p := range []*Pending{p0, p1} {
		<-p.Done()
	}
	if p0.Err() != nil || !errors.Is(p1.Err(), ErrDuplicate) || !errors.Is(p1.Err(), catalog.ErrNoEffect) {
		t.Fatalf("outcomes %v, %v; want nil and a duplicate", p0.Err(), p1.Err())
	}
	if rec, err := cat.Asset(ctx, a); err != nil || rec.LogIndex != 0 {
		t.Fatalf("asset a: %+v, %v; want it registered at entry 0", rec, err)
	}
	// Entry 2 is never submitted: its writer went away.
	start := time.Now()
	if err := q.Wait(ctx, 3, regB); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("entry 3: %v, want a duplicate of entry 2", err)
	}
	if waited := time.Since(start); waited < GapWait/2 {
		t.Fatalf("entry 3 applied after %v, before the gap could have been read", waited)
	}
	if rec, err := cat.Asset(ctx, b); err != nil || rec.LogIndex != 2 {
		t.Fatalf("asset b: %+v, %v; want it registered at entry 2, read from the log", rec, err)
	}
	if q.Next() != 4 || changed == 0 {
		t.Fatalf("Next = %d, changed %d times", q.Next(), changed)
	}
	// Taken already: done at once, its outcome in the catalog.
	select {
	case <-q.Submit(2, regB).Done():
	default:
		t.Fatal("an entry applied already is not done")
	}
}

// TestSequencerStopApplies: Stop while entries are being applied returns
// only once every contiguous submitted entry is applied, so the owner can
// close the catalog under it (a graceful stop left entries in the log the
// catalog lacked until the next start; the simulation reported it).
func TestSequencerStopApplies(t *testing.T) {
	ctx := t.Context()
	k, _ := identity.Generate()
	log := &memLog{}
	var regs []auditlog.Entry
	for i := range 200 {
		reg, _ := registration(t, k, fmt.Sprintf("asset-%d", i))
		log.append(reg)
		regs = append(regs, reg)
	}
	r := New(Config{Operator: k.DID(), Logger: quiet()})
	cat := newCatalog(t)
	q := r.NewSequencer(ctx, cat, log, nil)
	q.Start(0)
	var ps []*Pending
	for i, reg := range regs {
		ps = append(ps, q.Submit(uint64(i), reg))
	}
	q.Stop()
	for i, p := range ps {
		select {
		case <-p.Done():
		default:
			t.Fatalf("entry %d of %d not applied when Stop returned", i, len(ps))
		}
	}
	if next, _, err := cat.Applied(ctx); err != nil || next != uint64(len(regs)) {
		t.Fatalf("Applied = %d, %v; want %d", next, err, len(regs))
	}
	// Stopped: a later submission waits for the next start's replay.
	reg, _ := registration(t, k, "late")
	log.append(reg)
	select {
	case <-q.Submit(uint64(len(regs)), reg).Done():
		t.Fatal("an entry submitted after Stop was applied")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestCheck finds a row the log does not back.
func TestCheck(t *testing.T) {
	ctx := t.Context()
	k, _ := identity.Generate()
	reg, _ := registration(t, k, "checked")
	log := &memLog{}
	log.append(reg)
	r := New(Config{Operator: k.DID(), Logger: quiet()})
	live, built := newCatalog(t), newCatalog(t)
	for _, c := range []*catsqlite.Catalog{live, built} {
		if err := r.Rebuild(ctx, c, log, memstore.New()); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Check(ctx, live, built)
	if err != nil || !rep.Clean() {
		t.Fatalf("Check = %+v, %v; want clean", rep, err)
	}
	extra, _ := registration(t, k, "not in the log")
	if err := live.Update(ctx, 7, func(tx catalog.Tx) error { return r.Apply(ctx, tx, 7, extra) }); err != nil {
		t.Fatal(err)
	}
	rep, err = Check(ctx, live, built)
	if err != nil || len(rep.Missing) != 0 || !strings.Contains(strings.Join(rep.Extra, "\n"), "asset ") {
		t.Fatalf("Check = %+v, %v; want the extra asset reported", rep, err)
	}
}
