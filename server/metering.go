package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"net/http"
	"strings"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// HeaderSession names the download session a data-plane request belongs
// to; receipts are per grant and session.
const HeaderSession = "Charter-Session"

// DefaultSessionIdle is how long a download session may stay idle before
// the server closes it and logs its receipt.
const DefaultSessionIdle = 30 * time.Second

// checkpointBytes is how much a response writes between two records of
// what it served: a crash of the server loses the record of at most this
// much of each response in flight (never bills a byte it did not write).
const checkpointBytes = 4 << 20

// validSession reports whether a client-sent session id may be used.
func validSession(s string) bool {
	if s == "" || len(s) > metering.MaxIDLen {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// metered is one data request under a grant: the bytes it reserved
// against the quota and the data bytes it has recorded as served. Every
// byte written to the client is recorded in the session's state in the
// catalog (MeterServed), so neither a client that goes away nor a restart
// loses it; what was reserved and not sent is released.
type metered struct {
	s        *Server
	g        *grant.Grant
	key      catalog.MeterKey
	id       content.ID
	start    int64 // offset of the first data byte the response carries
	reserved int64
	sent     int64 // data bytes recorded
}

// reserve charges one request that will serve n data bytes to the quota
// of grant g and opens (or continues) the request's session.
func (s *Server) reserve(r *http.Request, g *grant.Grant, id content.ID, n int64) (*metered, error) {
	return s.reserveIn(r.Context(), r.Header.Get(HeaderSession), g, id, n)
}

// reserveIn is reserve in the download session sid ("anonymous" when it
// is not a valid session id).
func (s *Server) reserveIn(ctx context.Context, sid string, g *grant.Grant, id content.ID, n int64) (*metered, error) {
	if !validSession(sid) {
		sid = "anonymous"
	}
	m := &metered{s: s, g: g, id: id, reserved: n, key: catalog.MeterKey{Grant: g.ID.String(), Session: sid, Asset: g.Asset.String(), Licensee: g.Licensee.String(), Quota: registry.QuotaKey(g)}}
	ok, err := s.cat.MeterReserve(ctx, m.key, n, catalog.Quota{MaxBytes: g.Quotas.MaxBytes, MaxRequests: g.Quotas.MaxRequests}, time.Now())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(http.StatusForbidden, "quota-exhausted", "Quota exhausted",
			fmt.Sprintf("the terms of asset %s allow licensee %s %d bytes and %d requests (0: unlimited), counted over all its grants under these terms; this request of %d bytes is over", g.Asset, g.Licensee, g.Quotas.MaxBytes, g.Quotas.MaxRequests, n),
			"a new grant does not reset the quota; ask the owners for other terms", nil)
	}
	return m, nil
}

// record notes that the response has now carried total data bytes from
// m.start. Errors are logged: the client has the bytes either way.
func (m *metered) record(ctx context.Context, total int64, last bool) {
	if err := m.charge(ctx, total, last); err != nil {
		m.s.log.Error("metering served bytes", "grant", m.key.Grant, "session", m.key.Session, "bytes", total-m.sent, "err", err)
	}
}

// charge is record returning the catalog's error: a caller that hands out
// access before any byte moves (a presigned range, direct.go) charges
// first and gives nothing when the charge fails.
func (m *metered) charge(ctx context.Context, total int64, last bool) error {
	if m == nil {
		return nil
	}
	delta := max(0, total-m.sent)
	release := delta
	if last {
		release = m.reserved
	}
	if delta == 0 && release == 0 && !last {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	ranges, err := m.s.cat.MeterServed(ctx, m.key.Grant, m.key.Session, m.id.String(), m.start+m.sent, delta, release, time.Now())
	if err != nil {
		return err
	}
	m.sent += delta
	m.reserved = max(0, m.reserved-release)
	if ranges >= sealRanges {
		// A receipt lists at most metering.MaxRanges ranges: a session
		// reading many files (a dataset) gets its receipt now and
		// continues under the next part.
		if _, err := m.s.closeSessions(ctx, catalog.SessionFilter{Grant: m.key.Grant, Session: m.key.Session, Licensee: m.key.Licensee}); err != nil {
			m.s.log.Error("sealing a full download session", "grant", m.key.Grant, "session", m.key.Session, "err", err)
		}
	}
	return nil
}

// sealRanges is how many merged ranges a session holds before it is sealed
// early: a receipt of 256 ranges is about 35 KB as a log entry, under the
// log's 64 KiB entry limit with room for requests in flight (the receipt
// format's own limit, metering.MaxRanges, does not fit in one entry).
const sealRanges = 256

// meterWriter counts what a handler writes to the client and records the
// data it carried every checkpointBytes; dataOf maps the bytes written to
// the data bytes they carry.
//
// What a response carries is recorded after it was written, so a crash
// never bills a byte the server did not write, and loses the record of at
// most checkpointBytes of a response it cut. Two orderings keep the record
// and what the client sees in step across a kill -9 (the response writer
// buffers, so "written" is not yet "sent"):
//   - the status line and headers are flushed before the first body byte,
//     so a response with anything recorded reached the client as a 2xx
//     of its declared length: at worst cut short, never unseen (before, a
//     small response could be recorded whole and die in the buffer, and
//     the client got a 502 for bytes it was billed);
//   - the body's last byte is held back until the final record: a client
//     that received the whole body was billed for it (before, a large
//     final write went straight to the connection and a kill before the
//     record lost a complete response's bill).
type meterWriter struct {
	w        http.ResponseWriter
	ctx      context.Context
	m        *metered
	dataOf   func(written int64) int64
	written  int64
	recorded int64
	// total is the body's declared length (0: unknown, nothing held).
	total int64
	// started: the headers were flushed; held: the body's last byte.
	started bool
	held    []byte
}

func (mw *meterWriter) Write(p []byte) (int, error) {
	if mw.m != nil && !mw.started {
		mw.started = true
		// A writer that cannot flush (a test's wrapper) sends the
		// headers with the body; a dead connection fails the write.
		_ = http.NewResponseController(mw.w).Flush()
	}
	hold := 0
	if mw.m != nil && mw.total > 0 && len(p) > 0 && mw.held == nil && mw.written+int64(len(p)) >= mw.total {
		mw.held, hold = []byte{p[len(p)-1]}, 1
		p = p[:len(p)-1]
	}
	n, err := mw.w.Write(p)
	mw.written += int64(n)
	if err != nil && hold == 1 {
		mw.held, hold = nil, 0
	}
	if mw.written-mw.recorded >= checkpointBytes {
		mw.recorded = mw.written
		mw.m.record(mw.ctx, mw.dataOf(mw.written), false)
	}
	return n + hold, err
}

// finish records what the response carried in the end and releases the
// rest of the reservation; then the held last byte goes out.
func (mw *meterWriter) finish() {
	if mw.held == nil {
		mw.m.record(mw.ctx, mw.dataOf(mw.written), true)
		return
	}
	mw.m.record(mw.ctx, mw.dataOf(mw.written+1), true)
	if n, _ := mw.w.Write(mw.held); n == 1 {
		mw.written++
	}
}

// closeSessions seals the sessions f selects into signed receipts and logs
// them.
func (s *Server) closeSessions(ctx context.Context, f catalog.SessionFilter) ([]api.ReceiptInfo, error) {
	sealed, err := s.sealSessions(ctx, f)
	rs, lerr := s.logSealed(ctx, sealed)
	return rs, errors.Join(err, lerr)
}

// sealSessions seals the sessions f selects into signed receipts kept in
// the catalog until their log entries are applied. A crash after it and
// before the receipts are logged loses nothing: finishSessions logs them
// at the next start.
func (s *Server) sealSessions(ctx context.Context, f catalog.SessionFilter) ([]catalog.SealedReceipt, error) {
	return s.cat.SealSessions(ctx, f, func(x *catalog.OpenSession) ([]byte, error) {
		rc, err := metering.SessionReceipt(x, s.key.DID())
		if err != nil {
			return nil, err
		}
		env, err := rc.Sign(s.key)
		if err != nil {
			return nil, err
		}
		return env.Marshal()
	})
}

// logSealed appends sealed receipts to the log and applies them. One that
// fails stays sealed and is logged at the next start.
func (s *Server) logSealed(ctx context.Context, sealed []catalog.SealedReceipt) ([]api.ReceiptInfo, error) {
	var out []api.ReceiptInfo
	var errs []error
	for _, x := range sealed {
		ri, err := s.logReceipt(ctx, x.Envelope)
		if err != nil {
			s.log.Error("logging a download receipt", "grant", x.Grant, "session", x.Session, "part", x.Part, "err", err)
			errs = append(errs, err)
			continue
		}
		out = append(out, ri)
	}
	return out, errors.Join(errs...)
}

func (s *Server) logReceipt(ctx context.Context, raw []byte) (api.ReceiptInfo, error) {
	env, err := identity.ParseEnvelope(raw)
	if err != nil {
		return api.ReceiptInfo{}, err
	}
	rc, id, err := metering.OpenReceipt(env)
	if err != nil {
		return api.ReceiptInfo{}, err
	}
	idx, err := s.commit(ctx, auditlog.TypeReceipt, raw)
	if err != nil {
		return api.ReceiptInfo{}, notApplied(idx, err)
	}
	s.log.Info("download receipt", "receipt", id, "grant", rc.Grant, "session", rc.Session, "part", rc.Part, "bytes", rc.Bytes, "requests", rc.Requests, "index", idx)
	return api.ReceiptInfo{ID: id.String(), Grant: rc.Grant.String(), Asset: rc.Asset.String(), Bytes: rc.Bytes, Requests: rc.Requests, LogIndex: idx, Envelope: raw}, nil
}

// finishSessions runs at start, after replay: reservations of requests
// that were in flight are released (what they wrote was recorded), and
// receipts sealed but never logged are logged. Sessions left open are
// closed by the idle loop like any other.
func (s *Server) finishSessions(ctx context.Context) error {
	if s.shared() {
		// Other replicas' requests are in flight: release only the
		// reservations of requests that died with their replica.
		if err := s.releaseStale(ctx); err != nil {
			return err
		}
	} else if err := s.cat.ReleaseReservations(ctx); err != nil {
		return err
	}
	sealed, err := s.cat.SealedReceipts(ctx)
	if err != nil {
		return err
	}
	if _, err := s.logSealed(ctx, sealed); err != nil {
		s.log.Error("logging receipts sealed before the restart; they stay sealed for the next start", "err", err)
	}
	return nil
}

// closeIdle logs receipts of sessions idle for at least idle.
func (s *Server) closeIdle(ctx context.Context, idle time.Duration) {
	if _, err := s.closeSessions(ctx, catalog.SessionFilter{IdleBefore: time.Now().Add(-idle)}); err != nil {
		s.log.Error("closing idle download sessions", "err", err)
	}
	if s.shared() {
		s.finishDead(ctx)
	}
}

func (s *Server) sessionLoop(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(max(idle/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.closeIdle(ctx, idle)
		}
	}
}

// errNoSession: the signer has no open session of the id it closes.
var errNoSession = errors.New("no open session of this licensee")

// closeSession handles POST /v1/sessions/{id}/close: the licensee's end of
// a download, signed (RFC 9421) by the licensee. Each of the signer's
// grants used in the session gets its receipt, logged; sessions of the
// same id under other licensees' grants are left alone.
func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) error {
	sid := r.PathValue("id")
	if !validSession(sid) {
		return errorf(http.StatusBadRequest, "bad-session", "Malformed session id", fmt.Sprintf("%q is not a session id", sid), "", nil)
	}
	who, err := s.verifySigned(r, nil, func(who identity.DID) error {
		ok, err := s.cat.HasSession(r.Context(), sid, who.String())
		if err == nil && !ok {
			err = errNoSession
		}
		return err
	})
	if errors.Is(err, errNoSession) {
		// Nothing of the signer's to close (closed already, or never
		// opened): an empty answer, and no nonce spent.
		writeJSON(w, http.StatusOK, api.SessionAnswer{Session: sid, Receipts: []api.ReceiptInfo{}})
		return nil
	}
	if err != nil {
		return err
	}
	// A client closes right after its last response, which the server may
	// still be recording: wait a moment for requests in flight, so that
	// their bytes go to this receipt (later ones go to the next part).
	for range 40 {
		if n, err := s.cat.InFlight(r.Context(), sid, who.String()); err != nil || n == 0 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	rs, err := s.closeSessions(context.WithoutCancel(r.Context()), catalog.SessionFilter{Session: sid, Licensee: who.String()})
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []api.ReceiptInfo{}
	}
	writeJSON(w, http.StatusOK, api.SessionAnswer{Session: sid, Receipts: rs})
	return nil
}

// grantOf returns a grant's statement and whether it is revoked.
func (s *Server) grantOf(ctx context.Context, id string) (*grant.Grant, bool, error) {
	rec, err := s.cat.Grant(ctx, id)
	if err != nil {
		return nil, false, err
	}
	env, err := identity.ParseEnvelope(rec.Envelope)
	if err != nil {
		return nil, false, err
	}
	g, err := grant.OpenGrant(env)
	return g, rec.Revoked, err
}

// usages receive licensees' usage events (POST /v1/usage). Their lock
// depends on the grant's quotas, which reportUsage looks up: it takes the
// lock itself.
var usages = &intake[*metering.Usage]{
	open: func(env *identity.Envelope) (opened[*metering.Usage], error) {
		u, id, err := metering.OpenUsage(env)
		return opened[*metering.Usage]{v: u, id: id}, err
	},
	entry: auditlog.TypeUsage,
}

// reportUsage handles POST /v1/usage: a usage event signed by the
// licensee. It is refused under a revoked grant, and outside the grant's
// validity except within metering.LateWindow after expiry for events
// dated within it. An event id already recorded under the grant is
// answered with the original record when the event is the same, and
// refused when it differs.
func (s *Server) reportUsage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, usages)
	if err != nil {
		return err
	}
	u, sid := in.v, in.id
	g, revoked, err := s.grantOf(ctx, u.Grant.String())
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errorf(http.StatusNotFound, "unknown-grant", "Unknown grant", fmt.Sprintf("no grant %s on this server", u.Grant), "", err)
		}
		return err
	}
	// Reports of one usage id run one at a time (duplicate check, append,
	// apply); others proceed in parallel. Under a token or run quota,
	// reports counting against it run one at a time (quota check, append,
	// apply), so that concurrent reports cannot overrun it together.
	lockKey := "usage:" + u.Grant.String() + "/" + u.ID
	if registry.UsageQuotaSet(g) {
		lockKey = "usage-quota:" + registry.QuotaKey(g)
	}
	unlock := s.inflight.lock(lockKey)
	defer unlock()
	if old, err := s.cat.Usage(ctx, u.Grant.String(), u.ID); err == nil {
		if old.Statement != sid.String() {
			return errorf(http.StatusConflict, "duplicate-usage", "Usage id already used", fmt.Sprintf("usage %s under grant %s was recorded with other content (entry %d)", u.ID, u.Grant, old.LogIndex), "report new usage under a new --id", catalog.ErrDuplicate)
		}
		writeJSON(w, http.StatusOK, api.UsageAnswer{Grant: old.Grant, ID: old.ID, Statement: old.Statement, LogIndex: old.LogIndex, Existed: true})
		return nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if err := metering.Accept(u, g, revoked, time.Now()); err != nil {
		return err
	}
	if registry.UsageQuotaSet(g) {
		tokens, runs, err := s.cat.UsageQuota(ctx, registry.QuotaKey(g))
		if err != nil {
			return err
		}
		if over := registry.OverUsageQuota(g, u, tokens, runs); over != "" {
			return errorf(http.StatusForbidden, "quota-exhausted", "Quota exhausted",
				fmt.Sprintf("the terms of asset %s allow licensee %s %s, counted over all its grants under these terms; %s", g.Asset, g.Licensee, usageAllowance(g), over),
				"a new grant does not reset the quota; ask the owners for other terms", nil)
		}
	}
	if err := s.drawPool(ctx, crowd.Statements, 1, u.Licensee); err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.UsageAnswer{Grant: u.Grant.String(), ID: u.ID, Statement: sid.String(), LogIndex: idx})
	return nil
}

// usageAllowance words g's token and run quotas.
func usageAllowance(g *grant.Grant) string {
	var parts []string
	if g.Quotas.MaxTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", g.Quotas.MaxTokens))
	}
	if g.Quotas.MaxRuns > 0 {
		parts = append(parts, fmt.Sprintf("%d runs", g.Quotas.MaxRuns))
	}
	return strings.Join(parts, " and ")
}
