package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
)

// HeaderSession names the download session a data-plane request belongs
// to; receipts are per grant and session.
const HeaderSession = "Charter-Session"

// DefaultSessionIdle is how long a download session may stay idle before
// the server closes it and logs its receipt.
const DefaultSessionIdle = 30 * time.Second

// maxRangesPerContent bounds the ranges a session keeps per content; past
// it the ranges collapse to their hull (bytes stay exact).
const maxRangesPerContent = 256

// session aggregates what one download session served under one grant.
type session struct {
	grant    *grant.Grant
	id       string
	bytes    int64
	requests int64
	ranges   map[content.ID][][2]int64 // merged [start, end), sorted
	started  time.Time
	last     time.Time
}

// meters holds the open sessions.
type meters struct {
	mu    sync.Mutex
	open  map[string]*session // grant id + "/" + session id
	parts map[string]int64    // receipts logged per key, for Receipt.Part
}

func sessionKey(g, sid string) string { return g + "/" + sid }

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

// addRange merges [a, b) into the sorted, disjoint list rs.
func addRange(rs [][2]int64, a, b int64) [][2]int64 {
	i, _ := slices.BinarySearchFunc(rs, a, func(r [2]int64, a int64) int {
		switch {
		case r[1] < a:
			return -1
		case r[0] > a:
			return 1
		}
		return 0
	})
	// rs[i] is the first range that ends at or after a.
	j := i
	for j < len(rs) && rs[j][0] <= b {
		a, b = min(a, rs[j][0]), max(b, rs[j][1])
		j++
	}
	rs = slices.Replace(rs, i, j, [2]int64{a, b})
	if len(rs) > maxRangesPerContent {
		rs = [][2]int64{{rs[0][0], rs[len(rs)-1][1]}}
	}
	return rs
}

// meter records that bytes [off, off+n) of content id were served under
// grant g, for the session's receipt.
func (s *Server) meter(r *http.Request, g *grant.Grant, id content.ID, off, n int64) {
	sid := r.Header.Get(HeaderSession)
	if !validSession(sid) {
		sid = "anonymous"
	}
	now := time.Now()
	key := sessionKey(g.ID.String(), sid)
	s.meters.mu.Lock()
	defer s.meters.mu.Unlock()
	if s.meters.open == nil {
		s.meters.open, s.meters.parts = map[string]*session{}, map[string]int64{}
	}
	ss := s.meters.open[key]
	if ss == nil {
		ss = &session{grant: g, id: sid, ranges: map[content.ID][][2]int64{}, started: now}
		s.meters.open[key] = ss
	}
	ss.requests++
	ss.last = now
	if n > 0 {
		ss.bytes += n
		ss.ranges[id] = addRange(ss.ranges[id], off, off+n)
	}
}

// takeSessions removes and returns the open sessions that match.
func (s *Server) takeSessions(match func(key string, ss *session) bool) []*session {
	s.meters.mu.Lock()
	defer s.meters.mu.Unlock()
	var out []*session
	for k, ss := range s.meters.open {
		if match(k, ss) {
			out = append(out, ss)
			delete(s.meters.open, k)
		}
	}
	slices.SortFunc(out, func(a, b *session) int { return a.started.Compare(b.started) })
	return out
}

// closeSessions logs a receipt for every session given.
func (s *Server) closeSessions(ctx context.Context, ss []*session) ([]metering.ReceiptInfo, error) {
	var out []metering.ReceiptInfo
	var errs []error
	for _, x := range ss {
		ri, err := s.logReceipt(ctx, x)
		if err != nil {
			s.log.Error("logging a download receipt", "grant", x.grant.ID, "session", x.id, "err", err)
			errs = append(errs, err)
			continue
		}
		out = append(out, ri)
	}
	return out, errors.Join(errs...)
}

// receiptOf builds the receipt of a closed session.
func (s *Server) receiptOf(x *session, part int64) *metering.Receipt {
	rc := &metering.Receipt{Asset: x.grant.Asset, Bytes: x.bytes, Ended: asset.NewTime(x.last), Grant: x.grant.ID, Issuer: s.key.DID(),
		Licensee: x.grant.Licensee, Part: part, Requests: x.requests, Session: x.id, Started: asset.NewTime(x.started)}
	ids := make([]content.ID, 0, len(x.ranges))
	for id := range x.ranges {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b content.ID) int { return strings.Compare(a.String(), b.String()) })
	for _, id := range ids {
		rs := x.ranges[id]
		if len(rc.Ranges)+len(rs) > metering.MaxRanges {
			rs = [][2]int64{{rs[0][0], rs[len(rs)-1][1]}}
		}
		for _, r := range rs {
			rc.Ranges = append(rc.Ranges, metering.Range{Content: id, Offset: r[0], Length: r[1] - r[0]})
		}
	}
	return rc
}

func (s *Server) logReceipt(ctx context.Context, x *session) (metering.ReceiptInfo, error) {
	key := sessionKey(x.grant.ID.String(), x.id)
	s.meters.mu.Lock()
	s.meters.parts[key]++
	part := s.meters.parts[key]
	s.meters.mu.Unlock()
	rc := s.receiptOf(x, part)
	env, err := rc.Sign(s.key)
	if err != nil {
		return metering.ReceiptInfo{}, err
	}
	raw, err := env.Marshal()
	if err != nil {
		return metering.ReceiptInfo{}, err
	}
	_, id, err := metering.OpenReceipt(env)
	if err != nil {
		return metering.ReceiptInfo{}, err
	}
	idx, err := s.commit(ctx, auditlog.TypeReceipt, raw)
	if err != nil {
		return metering.ReceiptInfo{}, notApplied(idx, err)
	}
	s.log.Info("download receipt", "receipt", id, "grant", x.grant.ID, "session", x.id, "bytes", x.bytes, "requests", x.requests, "index", idx)
	return metering.ReceiptInfo{ID: id.String(), Grant: x.grant.ID.String(), Asset: x.grant.Asset.String(), Bytes: x.bytes, Requests: x.requests, LogIndex: idx, Envelope: raw}, nil
}

// closeIdle logs receipts of sessions idle for at least idle (all of them
// when idle is 0).
func (s *Server) closeIdle(ctx context.Context, idle time.Duration) {
	now := time.Now()
	ss := s.takeSessions(func(_ string, x *session) bool { return now.Sub(x.last) >= idle })
	s.closeSessions(ctx, ss)
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
	mine := func(who identity.DID) func(string, *session) bool {
		return func(_ string, x *session) bool { return x.id == sid && x.grant.Licensee == who }
	}
	who, err := s.verifySigned(r, nil, func(who identity.DID) error {
		if !s.hasSessions(mine(who)) {
			return errNoSession
		}
		return nil
	})
	if errors.Is(err, errNoSession) {
		// Nothing of the signer's to close (closed already, or never
		// opened): an empty answer, and no nonce spent.
		writeJSON(w, http.StatusOK, metering.SessionAnswer{Session: sid, Receipts: []metering.ReceiptInfo{}})
		return nil
	}
	if err != nil {
		return err
	}
	ss := s.takeSessions(mine(who))
	rs, err := s.closeSessions(r.Context(), ss)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []metering.ReceiptInfo{}
	}
	writeJSON(w, http.StatusOK, metering.SessionAnswer{Session: sid, Receipts: rs})
	return nil
}

// hasSessions reports whether an open session matches.
func (s *Server) hasSessions(match func(key string, ss *session) bool) bool {
	s.meters.mu.Lock()
	defer s.meters.mu.Unlock()
	for k, ss := range s.meters.open {
		if match(k, ss) {
			return true
		}
	}
	return false
}

// applyReceipt applies a receipt entry.
func (s *Server) applyReceipt(ctx context.Context, tx *catsqlite.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return invalidEntry{err}
	}
	rc, id, err := metering.OpenReceipt(env)
	if err != nil {
		return invalidEntry{err}
	}
	if _, err := tx.Grant(rc.Grant.String()); err != nil {
		return invalidEntry{fmt.Errorf("receipt for unknown grant %s: %w", rc.Grant, err)}
	}
	return tx.PutReceipt(catsqlite.ReceiptRecord{ID: id.String(), Grant: rc.Grant.String(), Asset: rc.Asset.String(), Licensee: rc.Licensee.String(),
		Session: rc.Session, Bytes: rc.Bytes, Requests: rc.Requests, Envelope: payload, LogIndex: idx})
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

// reportUsage handles POST /v1/usage: a usage event signed by the
// licensee. It is refused under a revoked grant, and outside the grant's
// validity except within metering.LateWindow after expiry for events
// dated within it. An event id already recorded under the grant is
// answered with the original record when the event is the same, and
// refused when it differs.
func (s *Server) reportUsage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	u, sid, err := metering.OpenUsage(env)
	if err != nil {
		return err
	}
	g, revoked, err := s.grantOf(ctx, u.Grant.String())
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errorf(http.StatusNotFound, "unknown-grant", "Unknown grant", fmt.Sprintf("no grant %s on this server", u.Grant), "", err)
		}
		return err
	}
	// Reports of one usage id run one at a time (duplicate check, append,
	// apply); others proceed in parallel.
	unlock := s.inflight.lock("usage:" + u.Grant.String() + "/" + u.ID)
	defer unlock()
	if old, err := s.cat.Usage(ctx, u.Grant.String(), u.ID); err == nil {
		if old.Statement != sid.String() {
			return errorf(http.StatusConflict, "duplicate-usage", "Usage id already used", fmt.Sprintf("usage %s under grant %s was recorded with other content (entry %d)", u.ID, u.Grant, old.LogIndex), "report new usage under a new --id", catsqlite.ErrDuplicate)
		}
		writeJSON(w, http.StatusOK, metering.UsageAnswer{Grant: old.Grant, ID: old.ID, Statement: old.Statement, LogIndex: old.LogIndex, Existed: true})
		return nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if err := metering.Accept(u, g, revoked, time.Now()); err != nil {
		return err
	}
	idx, err := s.commit(ctx, auditlog.TypeUsage, canon)
	if err != nil {
		return notApplied(idx, err)
	}
	writeJSON(w, http.StatusCreated, metering.UsageAnswer{Grant: u.Grant.String(), ID: u.ID, Statement: sid.String(), LogIndex: idx})
	return nil
}

// applyUsage applies a usage entry. A duplicate (grant, id) is refused by
// the insert itself, inside the entry's transaction.
func (s *Server) applyUsage(ctx context.Context, tx *catsqlite.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return invalidEntry{err}
	}
	u, sid, err := metering.OpenUsage(env)
	if err != nil {
		return invalidEntry{err}
	}
	g, err := tx.Grant(u.Grant.String())
	if err != nil {
		return invalidEntry{fmt.Errorf("usage under unknown grant %s: %w", u.Grant, err)}
	}
	if g.Licensee != u.Licensee.String() {
		return invalidEntry{fmt.Errorf("usage by %s under grant of %s", u.Licensee, g.Licensee)}
	}
	err = tx.PutUsage(catsqlite.UsageRecord{Grant: g.ID, ID: u.ID, Statement: sid.String(), Asset: g.Asset, Licensee: g.Licensee,
		Tokens: u.Tokens, Calls: u.Calls, Runs: u.Runs, Time: u.Time.Time().Format(time.RFC3339), Envelope: payload, LogIndex: idx})
	if errors.Is(err, catsqlite.ErrDuplicate) {
		return duplicate("%v", err)
	}
	return err
}
