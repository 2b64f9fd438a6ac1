package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/receipt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/registry"
)

// Log entry types of licensing.
const (
	TypeGrantRequest  = registry.TypeGrantRequest
	TypeGrantApproval = registry.TypeGrantApproval
)

// DefaultGrantRequestsDay is how many grant requests one licensee key may
// have evaluated per UTC day when Config leaves it zero.
const DefaultGrantRequestsDay = 10_000

// HeaderGrant names the grant a signed data-plane request uses.
const HeaderGrant = "Charter-Grant"

// GrantAnswer is api.GrantAnswer.
type GrantAnswer = api.GrantAnswer

// loadTerms reads the licence terms an asset names.
func (s *Server) loadTerms(ctx context.Context, ref string) (*license.Terms, content.ID, error) {
	id, err := content.ParseID(ref)
	if err != nil {
		return nil, id, errorf(http.StatusUnprocessableEntity, "bad-license", "Malformed licence reference", fmt.Sprintf("licence %q is not a content id", ref), "publish with --license TEMPLATE|FILE", err)
	}
	// Terms are content-addressed, so a parsed copy never goes stale.
	if t, ok := s.termsCache.Load(id); ok {
		return t.(*license.Terms), id, nil
	}
	t, err := s.readTerms(ctx, id)
	if err != nil {
		return nil, id, err
	}
	s.termsCache.Store(id, t)
	return t, id, nil
}

func (s *Server) readTerms(ctx context.Context, id content.ID) (*license.Terms, error) {
	v, err := blob.Get(ctx, s.blobs, id)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, errorf(http.StatusUnprocessableEntity, "missing-license", "Licence terms not stored", fmt.Sprintf("terms %s are not stored on this server", id), "put the terms first", err)
		}
		return nil, err
	}
	defer v.Close()
	raw, err := io.ReadAll(io.LimitReader(v, license.MaxTermsSize+1))
	if err != nil {
		return nil, err
	}
	t, err := license.Parse(raw)
	if err != nil {
		return nil, errorf(http.StatusUnprocessableEntity, "bad-license", "Invalid licence terms", err.Error(), "", err)
	}
	return t, nil
}

func (s *Server) checkTermsRef(ctx context.Context, ref string) error {
	_, _, err := s.loadTerms(ctx, ref)
	return err
}

// signAndAppend signs payload with the server key, appends it and waits
// until it is applied (commit).
func (s *Server) signAndAppend(ctx context.Context, kind, typ string, payload []byte) (uint64, []byte, error) {
	env, err := identity.Sign(identity.PayloadType(kind), payload, s.key)
	if err != nil {
		return 0, nil, err
	}
	raw, err := env.Marshal()
	if err != nil {
		return 0, nil, err
	}
	idx, err := s.commit(ctx, typ, raw)
	if err != nil {
		return idx, nil, err
	}
	return idx, raw, nil
}

// grantRequests receive licensees' requests for grants (POST
// /v1/assets/{id}/grants). Copies of one request run one at a time: the
// first is decided and logged, the others find it granted or queued.
var grantRequests = &intake[*grant.Request]{
	open: func(env *identity.Envelope) (opened[*grant.Request], error) {
		req, id, err := grant.OpenRequest(env)
		return opened[*grant.Request]{v: req, id: id}, err
	},
	path:  "asset",
	names: func(o opened[*grant.Request]) asset.ID { return o.v.Asset },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-asset", "Request for another asset", fmt.Sprintf("the request names %s, not %s", names, path), "", nil)
	},
	check: func(req *grant.Request) error {
		if age := time.Since(req.Created.Time()); age > 10*time.Minute || age < -time.Minute {
			return errorf(http.StatusUnprocessableEntity, "stale-request", "Request too old or from the future", fmt.Sprintf("created %s", req.Created.Time().Format(time.RFC3339)), "sign a new request; check your clock", nil)
		}
		return nil
	},
	lock: func(_ context.Context, _ *Server, o opened[*grant.Request]) (string, error) {
		return "request:" + o.id.String(), nil
	},
}

// requestGrant handles POST /v1/assets/{id}/grants: a request signed by
// the licensee. The terms in force are evaluated with Cedar; the decision
// record is logged whatever the result; an allowed request gets a grant
// signed by the server and logged, a request needing approval is queued
// for the owners.
func (s *Server) requestGrant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, grantRequests)
	if err != nil {
		return err
	}
	defer in.unlock()
	req, rid, aid := in.v, in.id, in.v.Asset
	rec, seen, err := s.requestAsset(ctx, aid, rid.String())
	if err != nil {
		return err
	}
	if rec.State.Delisted {
		return errorf(http.StatusForbidden, "delisted", "Asset is delisted", fmt.Sprintf("the owners of %s delisted it; no new grants", aid), "", nil)
	}
	if rec.State.License == "" {
		return errorf(http.StatusConflict, "no-license", "Asset has no licence", fmt.Sprintf("%s has no licence terms, so nothing can be granted", aid), "its owners can set terms with `charter propose ID --set-license T`", nil)
	}
	terms, termsID, err := s.loadTerms(ctx, rec.State.License)
	if err != nil {
		return err
	}
	granted, queued, err := seen()
	if err != nil {
		return err
	}
	if granted {
		return errorf(http.StatusConflict, "replay", "Request already used", fmt.Sprintf("request %s was granted already", rid), "sign a new request (a new nonce)", nil)
	}
	if queued {
		return errorf(http.StatusConflict, "replay", "Request already queued", fmt.Sprintf("request %s is queued already", rid), "", nil)
	}
	now := time.Now().UTC().Truncate(time.Second)
	// Every evaluated request logs a decision record: a key pays for the
	// log space it uses out of its own daily allowance.
	if err := s.drawPool(ctx, crowd.GrantRequests, 1, req.Licensee); err != nil {
		return err
	}
	maxDay := limit(s.cfg.GrantRequestsDay, DefaultGrantRequestsDay)
	ok, used, err := s.cat.ChargeGrantRequest(ctx, req.Licensee.String(), now.Format(time.DateOnly), maxDay)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusTooManyRequests, "grant-request-quota", "Too many grant requests today",
			fmt.Sprintf("%s has made %d grant requests today (limit %d)", req.Licensee, used, maxDay),
			"reuse a grant you hold (`charter grant list`); the allowance resets at 00:00 UTC; the operator sets it with `charter serve --grant-requests-day`", nil)
	}
	lreq := req.LicenseRequest(now)
	drec, dec, err := license.Record(terms, lreq)
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "bad-request", "Request cannot be evaluated", err.Error(), "", err)
	}
	drecRaw, err := drec.Encode()
	if err != nil {
		return err
	}
	termsRaw, _ := terms.Encode()
	lreqRaw, _ := lreq.Encode()
	ans := GrantAnswer{Request: rid.String(), Decision: drec, Terms: termsRaw, PolicyRequest: lreqRaw, Reasons: dec.Reasons}
	didx, decEnv, err := s.signAndAppend(ctx, grant.KindDecision, auditlog.TypeDecision, drecRaw)
	if err != nil {
		return err
	}
	proveDecision := func() (*receipt.Bundle, error) {
		b, err := s.awaitReceiptOf(ctx, didx, auditlog.TypeDecision, decEnv)
		return &b, err
	}
	s.obs.decision(string(dec.Effect))
	switch dec.Effect {
	case license.Deny:
		in.unlock()
		ans.Status = "denied"
		s.obs.grant("denied")
		if ans.DecisionReceipt, err = proveDecision(); err != nil {
			return err
		}
		writeJSON(w, http.StatusForbidden, ans)
		return nil
	case license.NeedsApproval:
		// Queue the licensee's own signed request, bound to its decision.
		qidx, err := s.commit(ctx, TypeGrantRequest, registry.QueuedEntry(in.canon, didx))
		in.unlock()
		if err != nil {
			return notApplied(qidx, err)
		}
		ans.Status = "pending"
		s.obs.grant("pending")
		if ans.DecisionReceipt, err = proveDecision(); err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, ans)
		return nil
	}
	g := grant.Issue(req, rid, terms, termsID, didx, s.key.DID(), now)
	gidx, graw, err := s.issue(ctx, g, rec)
	in.unlock()
	if err != nil {
		return err
	}
	s.obs.grant("granted")
	return s.answerGrant(w, ctx, g, gidx, graw, &ans, proveDecision)
}

// requestAsset reads the record of the asset a grant request is for, and
// returns seen, which reports whether the request was granted or queued
// already. A replica whose catalog answers the replay check together with
// its generation (PostgreSQL's RequestSeenAt) asks both at once and reads
// the record through its cache at that generation (sharedAssetAt): the
// generation is read after the request arrived, as sharedAsset's is, in
// the replay check's round trip instead of one of its own.
func (s *Server) requestAsset(ctx context.Context, aid asset.ID, rid string) (*catalog.AssetRecord, func() (bool, bool, error), error) {
	if rs, ok := s.cat.(interface {
		RequestSeenAt(context.Context, string) (bool, bool, uint64, error)
	}); ok && s.shared() {
		granted, queued, gen, err := rs.RequestSeenAt(ctx, rid)
		if err != nil {
			return nil, nil, err
		}
		rec, err := s.sharedAssetAt(ctx, aid, gen)
		if err != nil {
			return nil, nil, noSuchAsset(aid, err)
		}
		return rec, func() (bool, bool, error) { return granted, queued, nil }, nil
	}
	rec, err := s.assetRecord(ctx, aid)
	if err != nil {
		return nil, nil, noSuchAsset(aid, err)
	}
	return rec, func() (bool, bool, error) { return s.requestSeen(ctx, rid) }, nil
}

// requestSeen reports whether a grant request was granted or queued
// already: in one query where the catalog answers both (PostgreSQL's
// RequestSeen), else by looking the id up as a grant and as a queued
// request.
func (s *Server) requestSeen(ctx context.Context, id string) (granted, queued bool, err error) {
	if rs, ok := s.cat.(interface {
		RequestSeen(context.Context, string) (bool, bool, error)
	}); ok {
		return rs.RequestSeen(ctx, id)
	}
	if _, err := s.cat.Grant(ctx, id); err == nil {
		return true, false, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return false, false, err
	}
	if _, err := s.cat.GrantRequest(ctx, id); err == nil {
		return false, true, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return false, false, err
	}
	return false, false, nil
}

// issue signs, logs and applies a grant. The caller holds the lock of its
// request and passes the asset's record it decided under (its owners are
// vouched for; a grant does not change them, so the record is not read
// again: on a replica that is a catalog read, the grant having moved the
// generation).
func (s *Server) issue(ctx context.Context, g *grant.Grant, rec *catalog.AssetRecord) (uint64, []byte, error) {
	env, err := g.Sign(s.key)
	if err != nil {
		return 0, nil, err
	}
	raw, err := env.Marshal()
	if err != nil {
		return 0, nil, err
	}
	release := s.reg.Issued(raw, g)
	gidx, err := s.commit(ctx, auditlog.TypeGrant, raw)
	release() // applied, or never to be applied from here
	if err != nil {
		return gidx, nil, notApplied(gidx, err)
	}
	if rec != nil {
		owners := make([]identity.DID, len(rec.State.Owners))
		for i, o := range rec.State.Owners {
			owners[i] = o.DID
		}
		s.vouch(ctx, g.Licensee, owners) // a licensee with standing vouches for the owners (crowd.go)
	}
	return gidx, raw, nil
}

// answerGrant answers with an issued grant and its receipts.
func (s *Server) answerGrant(w http.ResponseWriter, ctx context.Context, g *grant.Grant, gidx uint64, raw []byte, ans *GrantAnswer, proveDecision func() (*receipt.Bundle, error)) error {
	gb, err := s.awaitReceiptOf(ctx, gidx, auditlog.TypeGrant, raw)
	if err != nil {
		return err
	}
	ans.Status, ans.Grant, ans.GrantEnvelope, ans.GrantReceipt = "granted", g, raw, &gb
	if proveDecision != nil {
		if ans.DecisionReceipt, err = proveDecision(); err != nil {
			return err
		}
	} else if ans.Decision != nil {
		db, err := s.awaitReceipt(ctx, g.Decision)
		if err != nil {
			return err
		}
		ans.DecisionReceipt = &db
	}
	s.log.Info("grant issued", "grant", g.ID, "asset", g.Asset, "licensee", g.Licensee, "purpose", g.Purpose, "until", g.NotAfter.Time())
	writeJSON(w, http.StatusCreated, ans)
	return nil
}

// grantVotes receive owners' votes on queued grant requests (POST
// /v1/grant-requests/{id}/approvals). Votes on one request run one at a
// time, so exactly one of them sees the threshold reached and issues the
// grant.
var grantVotes = &intake[*grant.Approval]{
	open: func(env *identity.Envelope) (opened[*grant.Approval], error) {
		a, err := grant.OpenApproval(env)
		return opened[*grant.Approval]{v: a}, err
	},
	path:  "request",
	names: func(o opened[*grant.Approval]) asset.ID { return o.v.Request },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-request", "Approval of another request", fmt.Sprintf("the approval is for request %s, not %s", names, path), "", nil)
	},
	lock: func(_ context.Context, _ *Server, o opened[*grant.Approval]) (string, error) {
		return "request:" + o.v.Request.String(), nil
	},
	entry: TypeGrantApproval,
}

// voteGrantRequest handles POST /v1/grant-requests/{id}/approvals: an
// owner approves or denies a queued request. When approvals reach the
// owners' threshold the grant is issued at once.
func (s *Server) voteGrantRequest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, grantVotes)
	if err != nil {
		return err
	}
	defer in.unlock()
	a, qid := in.v, in.v.Request.String()
	q, err := s.cat.GrantRequest(ctx, qid)
	if err != nil {
		return err
	}
	rec, err := s.cat.Asset(ctx, a.Asset)
	if err != nil || q.Asset != a.Asset.String() {
		return errorf(http.StatusUnprocessableEntity, "wrong-asset", "Approval names another asset", "", "", err)
	}
	if err := grant.CheckVote(rec.State, q.Status, q.Votes, a); err != nil {
		if errors.Is(err, grant.ErrRequestClosed) {
			return errorf(http.StatusConflict, "request-closed", "Request is not pending", fmt.Sprintf("request %s is %s", qid, q.Status), "", err)
		}
		return err
	}
	if err := s.drawPool(ctx, crowd.Statements, 1, a.Approver); err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	if err != nil {
		return err
	}
	q, err = s.cat.GrantRequest(ctx, qid)
	if err != nil {
		return err
	}
	ans := GrantAnswer{Request: qid, Status: q.Status}
	if q.Status != "approved" {
		in.unlock()
		b, err := s.awaitReceiptOf(ctx, idx, in.entry, in.canon)
		if err != nil {
			return err
		}
		ans.DecisionReceipt = &b
		writeJSON(w, http.StatusCreated, ans)
		return nil
	}
	// Approved: issue the grant under the terms in force now.
	renv, _ := identity.ParseEnvelope(q.Envelope)
	req, rid, err := grant.OpenRequest(renv)
	if err != nil {
		return err
	}
	terms, termsID, err := s.loadTerms(ctx, rec.State.License)
	if err != nil {
		return err
	}
	g := grant.Issue(req, rid, terms, termsID, q.Decision, s.key.DID(), time.Now())
	gidx, graw, err := s.issue(ctx, g, rec)
	in.unlock()
	if err != nil {
		return err
	}
	return s.answerGrant(w, ctx, g, gidx, graw, &ans, nil)
}

// revocations receive owners' revocations of grants (POST
// /v1/grants/{id}/revoke). Revocations of one grant run one at a time.
var revocations = &intake[*grant.Revocation]{
	open: func(env *identity.Envelope) (opened[*grant.Revocation], error) {
		rv, signers, err := grant.OpenRevocation(env)
		return opened[*grant.Revocation]{v: rv, signers: signers}, err
	},
	path:  "grant",
	names: func(o opened[*grant.Revocation]) asset.ID { return o.v.Grant },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-grant", "Revocation of another grant", fmt.Sprintf("the revocation is of grant %s, not %s", names, path), "", nil)
	},
	check: (*grant.Revocation).CheckReason,
	lock: func(_ context.Context, _ *Server, o opened[*grant.Revocation]) (string, error) {
		return "grant:" + o.v.Grant.String(), nil
	},
	entry: auditlog.TypeRevocation,
}

// revokeGrant handles POST /v1/grants/{id}/revoke: a revocation signed by
// owners reaching the asset's threshold. It takes effect on the next
// request.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, revocations)
	if err != nil {
		return err
	}
	defer in.unlock()
	rv, signers := in.v, in.signers
	g, err := s.cat.Grant(ctx, rv.Grant.String())
	if err == nil && g.Asset != rv.Asset.String() {
		err = errorf(http.StatusUnprocessableEntity, "wrong-asset", "Revocation names another asset", "", "", nil)
	}
	var rec *catalog.AssetRecord
	if err == nil {
		rec, err = s.cat.Asset(ctx, rv.Asset)
	}
	if err == nil && g.Revoked {
		err = errorf(http.StatusConflict, "revoked", "Grant already revoked", "", "", nil)
	}
	if err == nil {
		err = grant.CheckThreshold(rec.State, signers, "revocation")
	}
	if err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	in.unlock()
	if err != nil {
		return err
	}
	s.log.Info("grant revoked", "grant", rv.Grant, "reason", rv.Reason)
	b, err := s.awaitReceiptOf(ctx, idx, in.entry, in.canon)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.RevokeAnswer{Grant: rv.Grant.String(), Status: "revoked", Receipt: &b})
	return nil
}

// enforce decides whether a data-plane request for content id may be
// served. Content that belongs to no asset requiring a grant is free.
// Otherwise the request must be signed (RFC 9421) by the licensee of a
// valid, unrevoked grant for one of the content's assets, named in the
// Charter-Grant header, within its quotas. n is the bytes to be served.
//
// A request served under a grant comes back as a *metered: the handler
// records through it the bytes it actually wrote (nil for free content).
func (s *Server) enforce(r *http.Request, id content.ID, n int64) (*metered, error) {
	ctx := r.Context()
	needing, err := s.licensedBy(ctx, id)
	if err != nil || len(needing) == 0 {
		return nil, err
	}
	return s.checkGrant(r, id, n, needing)
}

// licensedBy returns the assets a grant may name to read content id, or
// nothing when the content is free to read. Who governs the content is
// asset.ContentAccess's rule (docs/spec/content-governance.md): no later
// registration by others changes it. Content whose governance an unindexed
// dataset could change is refused: guards fail closed.
func (s *Server) licensedBy(ctx context.Context, id content.ID) ([]string, error) {
	return memoized(ctx, func(m *readMemo) *map[content.ID][]string { return &m.licensed }, id, func() ([]string, error) {
		if s.shared() || memoOf(ctx) == nil {
			return s.readLicensedBy(ctx, id)
		}
		if v, ok, _ := s.gov.getLicensed(id); ok {
			return v, nil
		}
		gen := s.gov.generation()
		v, err := s.readLicensedBy(ctx, id)
		if err == nil {
			s.gov.putLicensed(id, v, gen)
		}
		return v, err
	})
}

// readLicensedBy is licensedBy without the request's memo.
func (s *Server) readLicensedBy(ctx context.Context, id content.ID) ([]string, error) {
	claims, err := s.cat.ContentClaims(ctx, id.String())
	if err != nil {
		return nil, err
	}
	un, err := s.cat.Unindexed(ctx)
	if err != nil {
		return nil, err
	}
	unindexed := make([]asset.Unindexed, len(un))
	for i, u := range un {
		unindexed[i] = asset.Unindexed{Asset: u.Asset, LogIndex: u.LogIndex}
	}
	lookup := func(a asset.ID) (*asset.State, error) {
		rec, err := s.assetRecord(ctx, a)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, asset.ErrUnknownAsset
		}
		if err != nil {
			return nil, err
		}
		return rec.State, nil
	}
	needsGrant := func(st *asset.State) (bool, error) {
		if st.License == "" {
			return false, nil // the rightful owners published it without a licence
		}
		t, _, err := s.loadTerms(ctx, st.License)
		if err != nil {
			return false, err
		}
		return grant.NeedsGrant(t), nil
	}
	acc, err := asset.ContentAccess(claims, unindexed, lookup, needsGrant)
	if errors.Is(err, asset.ErrUnindexed) {
		return nil, errorf(http.StatusServiceUnavailable, "unindexed-dataset", "Who governs this content is unknown",
			fmt.Sprintf("%s cannot be served: the index of a registered dataset (%s) is missing or unreadable on this server, and that dataset may govern this content", id, un[0].Content),
			"the operator restores it by putting the dataset index again (`charter put`); GET /healthz lists missing indexes", err)
	}
	if err != nil || acc.Free {
		return nil, err
	}
	needing := make([]string, len(acc.Needing))
	for i, a := range acc.Needing {
		needing[i] = a.String()
	}
	return needing, nil
}

// signedIfPresent are the request headers that change what is served or
// billed and that a data request carries only sometimes: a signature must
// cover each one the request has.
var signedIfPresent = []string{"range", "charter-session"}

// checkGrant verifies the request's signature and that its signer holds
// the grant it names, valid now and covering one of the assets needing a
// grant, then reserves n bytes and one request against the quota. The
// grant is resolved before the nonce is recorded, so a key without a grant
// never consumes nonce space.
func (s *Server) checkGrant(r *http.Request, id content.ID, n int64, needing []string) (*metered, error) {
	ctx := r.Context()
	gid := r.Header.Get(HeaderGrant)
	if gid == "" {
		return nil, errorf(http.StatusUnauthorized, "grant-required", "A grant is required", fmt.Sprintf("%s is licensed content of asset %s", id, needing[0]), fmt.Sprintf("request a grant: charter get %s --purpose PURPOSE", id), nil)
	}
	var gr *grant.Grant
	authorize := func(who identity.DID) error {
		var err error
		gr, err = s.grantFor(ctx, gid, who, needing)
		return err
	}
	if _, err := s.verifySigned(r, []string{"charter-grant"}, authorize); err != nil {
		return nil, err
	}
	return s.reserve(r, gr, id, n)
}

// verifySigned checks a data request's RFC 9421 signature (covering
// required besides the standard components, and every header of
// signedIfPresent the request has); see signedWith.
func (s *Server) verifySigned(r *http.Request, required []string, authorize func(identity.DID) error) (identity.DID, error) {
	return s.signedWith(r, httpsig.VerifyOptions{RequiredHeaders: required, CoveredIfPresent: signedIfPresent}, authorize,
		"sign data requests with the grant's licensee key (RFC 9421), covering Charter-Grant, and Range and Charter-Session when sent")
}

// signedWith checks a request's RFC 9421 signature under opts, calls
// authorize (when not nil) with the signer before the nonce is recorded (so a refused
// signer uses no nonce space), and maps refusals to problems: 401 for the
// signature (with hint), 503 when the signer's own nonce bound is reached,
// authorize's errors as they are.
func (s *Server) signedWith(r *http.Request, opts httpsig.VerifyOptions, authorize func(identity.DID) error, hint string) (identity.DID, error) {
	var authErr error
	opts.Nonces = s.nonces
	if authorize != nil {
		opts.Authorize = func(d identity.DID) error {
			authErr = authorize(d)
			return authErr
		}
	}
	who, err := httpsig.Verify(r, time.Now(), opts)
	switch {
	case err == nil:
		return who, nil
	case authErr != nil:
		return who, authErr
	case errors.Is(err, httpsig.ErrNonceStoreFull):
		return who, errorf(http.StatusServiceUnavailable, "busy", "Too many signed requests from this key", err.Error(), "retry shortly", err)
	case errors.As(err, new(*httpError)):
		return who, err // the crowd's pool of nonces (crowd.go)
	}
	return who, errorf(http.StatusUnauthorized, "bad-request-signature", "Request signature refused", err.Error(), hint, err)
}

// grantFor returns grant gid if who is its licensee and it is unrevoked,
// valid now and for one of the assets in needing.
func (s *Server) grantFor(ctx context.Context, gid string, who identity.DID, needing []string) (*grant.Grant, error) {
	g, err := s.cat.Grant(ctx, gid)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, errorf(http.StatusForbidden, "unknown-grant", "Unknown grant", fmt.Sprintf("no grant %q on this server", gid), "", err)
		}
		return nil, err
	}
	genv, err := identity.ParseEnvelope(g.Envelope)
	if err != nil {
		return nil, err
	}
	gr, err := grant.OpenGrant(genv)
	if err != nil {
		return nil, err
	}
	switch err := gr.CheckUse(who, g.Revoked, time.Now(), needing); {
	case errors.Is(err, grant.ErrNotLicensee):
		return nil, errorf(http.StatusForbidden, "not-licensee", "Grant belongs to another key", fmt.Sprintf("grant %s is for %s, the request is signed by %s", gid, gr.Licensee, who), "", err)
	case errors.Is(err, grant.ErrRevoked):
		return nil, errorf(http.StatusForbidden, "revoked", "Grant revoked", fmt.Sprintf("the owners revoked grant %s", gid), "", err)
	case errors.Is(err, grant.ErrNotValidNow):
		return nil, errorf(http.StatusForbidden, "expired", "Grant not valid now", fmt.Sprintf("grant %s is valid from %s until %s", gid, gr.NotBefore.Time().Format(time.RFC3339), gr.NotAfter.Time().Format(time.RFC3339)), "request a new grant", err)
	case errors.Is(err, grant.ErrNotCovered):
		return nil, errorf(http.StatusForbidden, "wrong-grant", "Grant does not cover this content", fmt.Sprintf("grant %s is for asset %s", gid, gr.Asset), "", err)
	case err != nil:
		return nil, err
	}
	return gr, nil
}

// reindex puts the member list of index id into the log when a dataset
// registered on it is unindexed (its list was not in the log, and the
// index is stored again): applying the list's last part guards the
// dataset (registry, "Carried documents").
func (s *Server) reindex(ctx context.Context, id content.ID) error {
	un, err := s.cat.Unindexed(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(un, func(u catalog.Claimant) bool { return u.Content == id.String() }) {
		return nil
	}
	n, err := s.checkIndex(ctx, id)
	if err != nil {
		return err
	}
	if err := s.carryIndex(ctx, id, n); err != nil {
		return err
	}
	s.log.Info("dataset index restored: its member list is in the log and its content guarded again", "index", id)
	return nil
}

func (s *Server) getGrant(w http.ResponseWriter, r *http.Request) error {
	g, err := s.cat.Grant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, grantWire(g))
	return nil
}

// assetRecord is s.cat.Asset through a cache for the hot paths (grant
// requests, enforcement). Registry entries change asset state only through
// apply, which bumps assetGen; a record read while the generation moved is
// not kept, so the cache never holds a stale state.
func (s *Server) assetRecord(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error) {
	if s.shared() {
		return s.sharedAsset(ctx, id)
	}
	if v, ok := s.assetCache.Load(id); ok {
		return v.(*catalog.AssetRecord), nil
	}
	gen := s.assetGen.Load()
	rec, err := s.cat.Asset(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.assetGen.Load() == gen {
		s.assetCache.Store(id, rec)
		// A change applied between the check and the store would be
		// missed by its forgetAssets: check again.
		if s.assetGen.Load() != gen {
			s.assetCache.Delete(id)
		}
	}
	return rec, nil
}

// forgetAssets drops the asset cache; apply calls it after every registry
// change.
func (s *Server) forgetAssets() {
	s.gov.forget()
	s.assetGen.Add(1)
	s.assetCache.Range(func(k, _ any) bool { s.assetCache.Delete(k); return true })
}
