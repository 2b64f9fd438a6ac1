package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/ledger"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
)

// checkOnline runs after every step: it reads the new log entries and
// checks every data-plane response since the last check.
func (w *world) checkOnline(ctx context.Context) {
	// A client may finish reading before the handler returns: wait for
	// the observed responses of the step to be recorded.
	for deadline := time.Now().Add(5 * time.Second); w.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	w.sync(ctx)
	w.checkCrowd()
	w.mu.Lock()
	obs := w.obs[w.checkedObs:]
	w.checkedObs = len(w.obs)
	w.mu.Unlock()
	// One violation per actor, content and reason, with the bytes and
	// responses it covers.
	type agg struct {
		first       *observation
		bytes, resp int64
	}
	found := map[string]*agg{}
	var order []string
	for _, o := range obs {
		why := w.checkRead(o)
		if why == "" {
			continue
		}
		k := o.actor + " " + o.content.String() + " " + why
		a := found[k]
		if a == nil {
			a = &agg{first: o}
			found[k] = a
			order = append(order, k)
		}
		_, hi := o.dataBounds()
		a.bytes += hi
		a.resp++
	}
	for _, k := range order {
		a := found[k]
		o := a.first
		w.violate(InvUngrantedRead, "%s was served %d bytes of %s in %d responses (first: %s, step %d), governed by asset %s, %s",
			o.actor, a.bytes, o.content, a.resp, kindOf(o), o.step, w.model.gov[o.content], k[len(o.actor)+len(o.content.String())+2:])
	}
	w.checkSettlementRoots(false)
}

// checkRead checks that a response that carried content was allowed to,
// and says why not: content governed by terms needing a grant goes out
// only under a valid, unrevoked grant for the governing asset (the first
// registration covering it, in log order), signed by its licensee.
func (w *world) checkRead(o *observation) string {
	_, hi := o.dataBounds()
	if hi == 0 {
		return ""
	}
	m := w.model
	gov, ok := m.gov[o.content]
	if !ok || !m.assets[gov].needsGrant {
		return "" // free
	}
	gi := m.grants[o.grant]
	switch {
	case o.grant == "":
		return "without a grant"
	case gi == nil:
		return fmt.Sprintf("under grant %q, which the log does not hold", o.grant)
	case gi.g.Asset != gov:
		return fmt.Sprintf("under grant %s for asset %s (another registration)", o.grant, gi.g.Asset)
	case gi.g.Licensee.String() != o.keyid:
		return fmt.Sprintf("under grant %s of %s, signed as %q", o.grant, gi.g.Licensee, o.keyid)
	case gi.revokedStep > 0 && gi.revokedStep < o.step:
		return fmt.Sprintf("under grant %s revoked at step %d", o.grant, gi.revokedStep)
	}
	return ""
}

func kindOf(o *observation) string {
	if o.slice {
		return fmt.Sprintf("slice %d+%d", o.off, o.n)
	}
	if o.rangeHd != "" {
		return "raw " + o.rangeHd
	}
	return "raw"
}

// checkMetering checks receipts against what went out: per grant and
// session, the bytes the receipts in the log record must lie between the
// bytes that surely went out and the bytes that may have. Sessions may
// outlive a restart (their receipts come when they close), so before the
// end only over-billing is checked; at the end every session has been
// closed by its licensee and both bounds hold.
func (w *world) checkMetering(final bool) {
	m := w.model
	type bounds struct{ lo, hi int64 }
	served := map[string]*bounds{}
	w.mu.Lock()
	for _, o := range w.obs {
		gi := m.grants[o.grant]
		if o.grant == "" || gi == nil || !gi.metered || gi.g.Licensee.String() != o.keyid {
			continue // not use under the grant (what went out anyway is an ungranted read)
		}
		if gov, ok := m.gov[o.content]; !ok || gov != gi.g.Asset {
			continue
		}
		k := o.grant + "/" + o.session
		b := served[k]
		if b == nil {
			b = &bounds{}
			served[k] = b
		}
		lo, hi := o.dataBounds()
		b.lo += lo
		b.hi += hi
	}
	w.mu.Unlock()
	for k, b := range served {
		got := m.rcptBy[k]
		if got > b.hi || (final && got < b.lo) {
			w.violate(InvMetering, "grant/session %s: receipts record %d bytes; %d..%d bytes were served", k, got, b.lo, b.hi)
		}
	}
	for k, got := range m.rcptBy {
		if !final {
			break
		}
		g, _, _ := strings.Cut(k, "/")
		if gi := m.grants[g]; gi != nil && gi.metered && served[k] == nil && got > 0 {
			w.violate(InvMetering, "grant/session %s: receipts record %d bytes; none were served", k, got)
		}
	}
}

// checkStopped runs while the server is stopped: the catalog must equal
// the replay of the log, and the ledger the replay of its journal.
func (w *world) checkStopped(ctx context.Context, catalog bool) {
	if catalog {
		rep, err := datadir.Check(ctx, w.dir, "", datadir.Options{Logger: quietLogger()})
		switch {
		case err != nil:
			w.violate(InvCatalog, "admin check failed: %v", err)
		case !rep.Clean():
			w.violate(InvCatalog, "catalog differs from the replay of the log: %d rows missing or changed (first: %.200s), %d not backed by the log (first: %.200s), %d quota counters off (first: %.200s)",
				len(rep.Missing), first(rep.Missing), len(rep.Extra), first(rep.Extra), len(rep.Quota), first(rep.Quota))
		}
	}
	w.checkLedger(ctx)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// checkLedger audits the ledger folder: chain, stored balances against
// the replay, balance of the books; it keeps the chain hashes for the
// settlement roots in the log.
func (w *world) checkLedger(ctx context.Context) {
	l, err := ledgersqlite.Open(ctx, filepath.Join(w.dir, "ledger.db"), nil)
	if err != nil {
		w.violate(InvLedger, "opening the ledger: %v", err)
		return
	}
	defer l.Close()
	if _, err := ledger.Audit(ctx, l); err != nil {
		w.violate(InvLedger, "ledger audit: %v", err)
	}
	var hashes [][32]byte
	for r, err := range l.Entries(ctx, 1) {
		if err != nil {
			w.violate(InvLedger, "reading the journal: %v", err)
			return
		}
		hashes = append(hashes, r.Hash)
	}
	w.model.journal = hashes
	bal, _, err := ledger.Replay(l.Entries(ctx, 1))
	if err != nil {
		w.violate(InvLedger, "replaying the journal: %v", err)
		return
	}
	var dp, cp, dpend, cpend int64
	for _, b := range bal {
		dp += b.DebitsPosted
		cp += b.CreditsPosted
		dpend += b.DebitsPending
		cpend += b.CreditsPending
	}
	if dp != cp || dpend != cpend {
		w.violate(InvLedger, "books do not balance: debits %d, credits %d posted; %d, %d pending", dp, cp, dpend, cpend)
	}
}

// restart stops the server (abruptly when crash, and always for a
// process backend whose restarts are kill -9), checks the stopped folder,
// and starts it again.
func (w *world) restart(ctx context.Context, crash bool) {
	w.res.Restarts++
	w.handler.Store(nil)
	for _, f := range w.fronts {
		f.CloseClientConnections()
	}
	if crash {
		w.kills.Add(1)
	}
	if err := w.backend.stop(ctx, crash); err != nil {
		w.violate(InvReplay, "stopping the server: %v", err)
	}
	// After a crash the catalog may lag the log until the next start
	// replays it; the catalog check runs after graceful stops.
	w.checkStopped(ctx, !crash)
	h, err := w.backend.start(ctx)
	if err != nil {
		w.violate(InvReplay, "the server does not start again: %v", err)
		w.res.Fatal = err
		return
	}
	w.handler.Store(&h)
	w.sync(ctx)
	w.checkSettlementRoots(w.op == "final")
	w.checkMetering(w.op == "final")
}
