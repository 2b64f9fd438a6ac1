package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/receipt"
)

// The registry follows one rule: a signed statement is validated, appended
// to the transparency log, and only then applied to the catalog. apply is
// the one function that changes registry state, used both live and when
// replaying the log, so a catalog rebuilt from the log equals the live one.

// pathAsset parses the request's {id} as the id of an asset or of another
// statement (what names it in the error).
func pathAsset(r *http.Request, what string) (asset.ID, error) {
	id, err := asset.ParseID(r.PathValue("id"))
	if err != nil {
		return id, errorf(http.StatusBadRequest, "bad-id", "Malformed "+what+" id", err.Error(), "", err)
	}
	return id, nil
}

// readEnvelope reads a DSSE envelope request body.
func readEnvelope(r *http.Request) (*identity.Envelope, []byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, identity.MaxEnvelopeSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > identity.MaxEnvelopeSize {
		return nil, nil, errorf(http.StatusRequestEntityTooLarge, "too-large", "Statement too large", fmt.Sprintf("a signed statement may hold at most %d bytes", identity.MaxEnvelopeSize), "", nil)
	}
	env, err := identity.ParseEnvelope(raw)
	if err != nil {
		return nil, nil, err
	}
	// Log the envelope in its canonical JSON form.
	canon, err := env.Marshal()
	if err != nil {
		return nil, nil, err
	}
	return env, canon, nil
}

// lookupState is the asset.Lookup over the catalog (or a transaction).
func lookupState(get func(asset.ID) (*catalog.AssetRecord, error)) asset.Lookup {
	return func(id asset.ID) (*asset.State, error) {
		r, err := get(id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, asset.ErrUnknownAsset
		}
		if err != nil {
			return nil, err
		}
		return r.State, nil
	}
}

// RegisterAnswer is api.RegisterAnswer.
type RegisterAnswer = api.RegisterAnswer

// register handles POST /v1/assets: a manifest signed by its owners.
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	m, id, signers, err := asset.OpenManifest(env)
	if err != nil {
		return err
	}
	if _, err := s.blobs.Stat(ctx, blob.Key{ID: m.Content, Part: blob.Data}); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return errorf(http.StatusUnprocessableEntity, "missing-content", "Content not stored", fmt.Sprintf("the manifest names content %s, which is not stored on this server", m.Content), "run `charter put` first, or use `charter publish`", err)
		}
		return err
	}
	if err := s.checkLicenseRef(ctx, m.License); err != nil {
		return err
	}
	if m.MediaType == content.DatasetMediaType {
		if err := s.checkIndex(ctx, m.Content); err != nil {
			return err // a dataset's index must read, or its guards would be unknown
		}
	}
	// Copies of one registration run one at a time: the first appends it,
	// the others find it registered.
	unlock := s.inflight.lock("asset:" + id.String())
	if rec, err := s.cat.Asset(ctx, id); err == nil {
		unlock()
		// Registering the same manifest again is answered with the
		// original registration.
		return s.answerAgain(w, ctx, rec.LogIndex, auditlog.TypeAssetRegister, canon, RegisterAnswer{Asset: id.String(), Claim: rec.Claim, Priority: rec.Priority.String()})
	}
	if err := asset.CheckRegistration(m, signers, lookupState(func(a asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, a) })); err != nil {
		unlock()
		return err
	}
	if err := s.checkDerivation(ctx, m, time.Now()); err != nil {
		unlock()
		return err
	}
	// The applier takes the manifest as verified here, instead of
	// verifying its signatures again in the one ordered goroutine, and
	// leaves what it found in om for the answer.
	om := &openedManifest{m: m, id: id, signers: signers}
	s.opened.Store(string(canon), om)
	idx, err := s.commit(ctx, auditlog.TypeAssetRegister, canon)
	s.opened.Delete(string(canon))
	unlock()
	if err != nil {
		return notApplied(idx, err)
	}
	a := RegisterAnswer{Asset: id.String(), Claim: om.claim, Priority: om.prio.String(), Version: om.version}
	if !om.applied {
		// Applied from the log rather than by this request (a gap the
		// applier filled): its outcome is in the catalog.
		rec, err := s.cat.Asset(ctx, id)
		if err != nil {
			return err
		}
		a.Claim, a.Priority, a.Version = rec.Claim, rec.Priority.String(), rec.State.Version
	}
	s.log.Info("registered asset", "asset", id, "content", m.Content, "claim", a.Claim, "index", idx)
	return s.answerOf(w, ctx, http.StatusCreated, idx, auditlog.TypeAssetRegister, canon, a)
}

// answerAgain answers a statement sent again with the receipt of the entry
// that logged it first, at idx. A retry sends the bytes the log holds,
// whose proof needs only the tiles (awaitReceiptOf); other bytes of the
// same statement (another encoding of the envelope) are proved from the
// entry read back from the log.
func (s *Server) answerAgain(w http.ResponseWriter, ctx context.Context, idx uint64, typ string, payload []byte, a RegisterAnswer) error {
	b, err := s.awaitReceiptOf(ctx, idx, typ, payload)
	if errors.Is(err, auditlog.ErrTampered) {
		b, err = s.awaitReceipt(ctx, idx)
	}
	if err != nil {
		return err
	}
	a.Receipt = &b
	writeJSON(w, http.StatusOK, a)
	return nil
}

// answer waits until a checkpoint covers entry idx and sends a with the
// entry's receipt.
func (s *Server) answer(w http.ResponseWriter, ctx context.Context, status int, idx uint64, a RegisterAnswer) error {
	b, err := s.awaitReceipt(ctx, idx)
	if err != nil {
		return err
	}
	a.Receipt = &b
	writeJSON(w, status, a)
	return nil
}

// answerOf is answer for an entry whose type and payload the caller
// appended (awaitReceiptOf).
func (s *Server) answerOf(w http.ResponseWriter, ctx context.Context, status int, idx uint64, typ string, payload []byte, a RegisterAnswer) error {
	b, err := s.awaitReceiptOf(ctx, idx, typ, payload)
	if err != nil {
		return err
	}
	a.Receipt = &b
	writeJSON(w, status, a)
	return nil
}

// awaitReceiptOf is awaitReceipt for an entry whose type and payload the
// caller appended: the proof is checked against those bytes.
func (s *Server) awaitReceiptOf(ctx context.Context, idx uint64, typ string, payload []byte) (receipt.Bundle, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cp, err := s.cpw.await(ctx, idx)
	if err != nil {
		return receipt.Bundle{}, fmt.Errorf("waiting for a checkpoint covering entry %d: %w", idx, err)
	}
	rec, err := s.tlog.ProveEntryUnder(ctx, cp, idx, typ, payload)
	if err != nil {
		return receipt.Bundle{}, err
	}
	return s.bundle(rec)
}

// awaitReceipt returns the receipt of entry idx once a checkpoint covers it.
func (s *Server) awaitReceipt(ctx context.Context, idx uint64) (receipt.Bundle, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.cpw.await(ctx, idx); err != nil {
		return receipt.Bundle{}, fmt.Errorf("waiting for a checkpoint covering entry %d: %w", idx, err)
	}
	for {
		rec, err := s.tlog.ProveInclusion(ctx, idx)
		if err == nil {
			return s.bundle(rec)
		}
		if !errors.Is(err, auditlog.ErrNotFound) {
			return receipt.Bundle{}, err
		}
		select {
		case <-ctx.Done():
			return receipt.Bundle{}, fmt.Errorf("waiting for a checkpoint covering entry %d: %w", idx, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkpointWatch hands out the verified checkpoints requests wait for.
// The log signals every checkpoint it publishes (auditlog.Log.AwaitCheckpoint),
// so neither an idle server nor a waiting request polls for one.
type checkpointWatch struct {
	log *auditlog.Log
}

func newCheckpointWatch(l *auditlog.Log) *checkpointWatch {
	return &checkpointWatch{log: l}
}

// await returns a verified checkpoint covering entry idx.
func (w *checkpointWatch) await(ctx context.Context, idx uint64) (auditlog.Checkpoint, error) {
	return w.log.AwaitCheckpoint(ctx, idx+1)
}

// applyEntry applies one log entry inside a catalog transaction. It is
// deterministic given the catalog state before it: entries are applied in
// log order, live (through the ordered applier, see sequence.go) and on
// replay alike. An entry that repeats a statement applied before, or that
// breaks the registry's rules at its position (which the live path avoids
// appending), returns an invalidEntry: it is recorded as applied and has
// no effect.
func (s *Server) applyEntry(ctx context.Context, tx catalog.Tx, idx uint64, e auditlog.Entry) error {
	switch e.Type {
	case auditlog.TypeAssetRegister:
		return s.applyRegister(ctx, tx, idx, e.Payload)
	case auditlog.TypeAssetProposal:
		return s.applyProposal(ctx, tx, idx, e.Payload)
	case auditlog.TypeAssetApproval:
		return s.applyApproval(ctx, tx, idx, e.Payload)
	}
	if f := s.appliers[e.Type]; f != nil {
		return f(ctx, tx, idx, e.Payload)
	}
	return nil // no catalog effect (a decision record, an unknown type)
}

// changesAssets reports whether entries of type typ change asset records.
func changesAssets(typ string) bool {
	switch typ {
	case auditlog.TypeAssetRegister, auditlog.TypeAssetProposal, auditlog.TypeAssetApproval:
		return true
	}
	return false
}

// invalidEntry marks a log entry that applies with no effect: it breaks
// the rules at its position in the log, or repeats a statement applied
// before (then it wraps errDuplicate).
type invalidEntry struct{ error }

func (e invalidEntry) Unwrap() error { return e.error }

// Is makes every invalidEntry match catalog.ErrNoEffect, so the catalog
// undoes its changes and records it as applied.
func (e invalidEntry) Is(target error) bool { return target == catalog.ErrNoEffect }

// errDuplicate marks a statement that was applied before.
var errDuplicate = errors.New("duplicate of a statement applied before")

// duplicate is the invalidEntry of a repeated statement.
func duplicate(format string, args ...any) error {
	return invalidEntry{fmt.Errorf("%w: %s", errDuplicate, fmt.Sprintf(format, args...))}
}

// openedManifest is a manifest the live path verified, for its applier,
// and what applying it found, for the answer (set once it applied).
type openedManifest struct {
	m       *asset.Manifest
	id      asset.ID
	signers []identity.DID

	applied bool
	claim   string
	prio    asset.ID
	version uint64
}

func (s *Server) applyRegister(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	om, _ := s.opened.Load(string(payload))
	if om == nil {
		env, err := identity.ParseEnvelope(payload)
		if err != nil {
			return invalidEntry{err}
		}
		o := &openedManifest{}
		if o.m, o.id, o.signers, err = asset.OpenManifest(env); err != nil {
			return invalidEntry{err}
		}
		om = o
	}
	return s.applyManifest(ctx, tx, idx, om.(*openedManifest))
}

// applyManifest applies a verified registration and, when it applies,
// records its outcome in om.
func (s *Server) applyManifest(ctx context.Context, tx catalog.Tx, idx uint64, om *openedManifest) error {
	m, id, signers := om.m, om.id, om.signers
	if _, err := tx.Asset(id); err == nil {
		return duplicate("asset %s is registered", id)
	}
	if err := asset.CheckRegistration(m, signers, lookupState(tx.Asset)); err != nil {
		return invalidEntry{err}
	}
	if err := s.applyDerivation(ctx, tx, m); err != nil {
		return err
	}
	st, err := asset.NewState(m)
	if err != nil {
		return invalidEntry{err}
	}
	existing, err := tx.AssetsByContent(m.Content)
	if err != nil {
		return err
	}
	states := make([]*asset.State, len(existing))
	for i, r := range existing {
		states[i] = r.State
	}
	claim, prio := asset.ClassifyClaim(states, signers)
	if claim == asset.ClaimPriority {
		prio = id
	}
	if err := tx.PutAsset(catalog.AssetRecord{State: st, Claim: claim.String(), Priority: prio, LogIndex: idx}); err != nil {
		return err
	}
	if err := s.guardAsset(ctx, tx, idx, st, signers, claim); err != nil {
		return err
	}
	if err := tx.Trail(id, idx, auditlog.TypeAssetRegister, fmt.Sprintf("registered %q (%s claim)", m.Name, claim)); err != nil {
		return err
	}
	if claim == asset.ClaimConflict {
		if err := tx.Trail(prio, idx, "asset.conflict", fmt.Sprintf("conflicting claim on the same content by asset %s", id)); err != nil {
			return err
		}
	}
	om.applied, om.claim, om.prio, om.version = true, claim.String(), prio, st.Version
	return nil
}

func (s *Server) applyProposal(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return invalidEntry{err}
	}
	p, pid, err := asset.OpenProposal(env)
	if err != nil {
		return invalidEntry{err}
	}
	rec, err := tx.Asset(p.Asset)
	if err != nil {
		return invalidEntry{err}
	}
	if _, err := tx.Proposal(pid); err == nil {
		return duplicate("proposal %s is logged", pid)
	}
	// Expiry was checked when the entry was accepted; replay evaluates
	// the rules at a time before expiry.
	st, status, err := asset.Apply(rec.State, env, nil, acceptedAt(p))
	if err != nil {
		return invalidEntry{err}
	}
	if err := tx.PutProposal(pid, p.Asset, payload, status.String(), idx); err != nil {
		return err
	}
	if err := tx.Trail(p.Asset, idx, auditlog.TypeAssetProposal, fmt.Sprintf("proposal %s: %s by %s", pid, p.Change.Kind, p.Proposer)); err != nil {
		return err
	}
	if status == asset.Applied {
		if err := asset.CheckChange(rec.State, p.Change, lookupState(tx.Asset), tx.Children); err != nil {
			return invalidEntry{err}
		}
		if err := s.applyRelicense(ctx, tx, rec.State, p.Change); err != nil {
			return err
		}
		return tx.SetState(st)
	}
	return nil
}

// acceptedAt is the time at which replay evaluates a proposal's rules: any
// time before its expiry, since the live path logged it only then.
func acceptedAt(p *asset.Proposal) time.Time { return p.Expires.Time().Add(-time.Second) }

func (s *Server) applyApproval(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return invalidEntry{err}
	}
	a, err := asset.OpenApproval(env)
	if err != nil {
		return invalidEntry{err}
	}
	prec, err := tx.Proposal(a.Proposal)
	if err != nil {
		return invalidEntry{err}
	}
	if slices.Contains(prec.Approvers, a.Approver.String()) {
		return duplicate("approval of %s by %s is logged", a.Proposal, a.Approver)
	}
	if prec.Status != asset.Pending.String() {
		return invalidEntry{fmt.Errorf("proposal %s is %s", a.Proposal, prec.Status)}
	}
	rec, err := tx.Asset(prec.Asset)
	if err != nil {
		return invalidEntry{err}
	}
	penv, err := identity.ParseEnvelope(prec.Envelope)
	if err != nil {
		return err
	}
	p, _, err := asset.OpenProposal(penv)
	if err != nil {
		return err
	}
	approvals := make([]*identity.Envelope, 0, len(prec.Approvals)+1)
	for _, b := range prec.Approvals {
		e, err := identity.ParseEnvelope(b)
		if err != nil {
			return err
		}
		approvals = append(approvals, e)
	}
	approvals = append(approvals, env)
	st, status, err := asset.Apply(rec.State, penv, approvals, acceptedAt(p))
	if err != nil {
		return invalidEntry{err}
	}
	if status == asset.Applied {
		if err := asset.CheckChange(rec.State, p.Change, lookupState(tx.Asset), tx.Children); err != nil {
			return invalidEntry{err}
		}
		if err := s.applyRelicense(ctx, tx, rec.State, p.Change); err != nil {
			return err
		}
	}
	if err := tx.AddApproval(a.Proposal, a.Approver.String(), payload, idx); err != nil {
		return err
	}
	if err := tx.Trail(prec.Asset, idx, auditlog.TypeAssetApproval, fmt.Sprintf("approval of %s by %s", a.Proposal, a.Approver)); err != nil {
		return err
	}
	if status == asset.Applied {
		if err := tx.SetProposalStatus(a.Proposal, status.String()); err != nil {
			return err
		}
		return tx.SetState(st)
	}
	return nil
}

// propose handles POST /v1/assets/{id}/proposals.
func (s *Server) propose(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	aid, err := pathAsset(r, "asset")
	if err != nil {
		return err
	}
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	p, pid, err := asset.OpenProposal(env)
	if err != nil {
		return err
	}
	if p.Asset != aid {
		return errorf(http.StatusUnprocessableEntity, "wrong-asset", "Proposal for another asset", fmt.Sprintf("the proposal changes %s, not %s", p.Asset, aid), "", nil)
	}
	// Changes of one asset are validated against its state one at a time.
	unlock := s.inflight.lock("asset:" + aid.String())
	defer unlock()
	rec, err := s.cat.Asset(ctx, aid)
	if err != nil {
		return err
	}
	if _, err := s.cat.Proposal(ctx, pid); err == nil {
		return errorf(http.StatusConflict, "replay", "Proposal already submitted", fmt.Sprintf("proposal %s is logged already", pid), "make a new proposal (a new nonce) to propose the change again", nil)
	}
	st, status, err := asset.Apply(rec.State, env, nil, time.Now())
	if err == nil {
		// Refused now, not when the last approval comes in: a change that
		// would leave a lineage unsettleable (its own or a descendant's).
		err = s.checkChange(ctx, rec.State, p.Change)
	}
	if err != nil {
		return err
	}
	idx, err := s.commit(ctx, auditlog.TypeAssetProposal, canon)
	unlock()
	if err != nil {
		return notApplied(idx, err)
	}
	return s.answerOf(w, ctx, http.StatusCreated, idx, auditlog.TypeAssetProposal, canon, RegisterAnswer{Asset: aid.String(), Proposal: pid.String(), Status: status.String(), Version: st.Version})
}

// checkChange runs asset.CheckChange against the catalog.
func (s *Server) checkChange(ctx context.Context, st *asset.State, c asset.Change) error {
	if err := asset.CheckChange(st, c, lookupState(func(id asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, id) }),
		func(id asset.ID) ([]asset.ID, error) { return s.cat.Children(ctx, id) }); err != nil {
		return err
	}
	if m := relicensed(st, c); m != nil {
		return s.derivationProblem(asset.CheckDerivation(m, s.rightLookup(ctx, func(id string) (*catalog.GrantRecord, error) { return s.cat.Grant(ctx, id) }), s.termsLookup(ctx)))
	}
	return nil
}

// relicensed is the manifest of a derived asset as it would read under the
// licence change c, or nil when c sets no licence or the asset has no
// parents. A derived asset may take only a licence its parents' terms
// allow, under the grants its manifest cites: the same rule as at
// registration (asset.CheckDerivation), so governance cannot relicense a
// derivative past what the right to derive gave.
func relicensed(st *asset.State, c asset.Change) *asset.Manifest {
	if c.Kind != asset.SetLicense || c.License == nil || len(st.Manifest.Parents) == 0 {
		return nil
	}
	m := st.Manifest
	m.License = *c.License
	return &m
}

// applyRelicense is replay's check of relicensed: a licence change the
// parents' terms forbid applies without effect.
func (s *Server) applyRelicense(ctx context.Context, tx catalog.Tx, st *asset.State, c asset.Change) error {
	if m := relicensed(st, c); m != nil {
		return s.applyDerivation(ctx, tx, m)
	}
	return nil
}

// approve handles POST /v1/proposals/{id}/approvals.
func (s *Server) approve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	pid, err := pathAsset(r, "proposal")
	if err != nil {
		return err
	}
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	a, err := asset.OpenApproval(env)
	if err != nil {
		return err
	}
	if a.Proposal != pid {
		return errorf(http.StatusUnprocessableEntity, "wrong-proposal", "Approval of another proposal", fmt.Sprintf("the approval is for %s, not %s", a.Proposal, pid), "", nil)
	}
	prec, err := s.cat.Proposal(ctx, pid)
	if err != nil {
		return err
	}
	// Changes of one asset are validated against its state one at a time:
	// read the proposal again under the asset's lock.
	unlock := s.inflight.lock("asset:" + prec.Asset.String())
	defer unlock()
	if prec, err = s.cat.Proposal(ctx, pid); err != nil {
		return err
	}
	if prec.Status != asset.Pending.String() {
		return errorf(http.StatusConflict, "proposal-closed", "Proposal is not pending", fmt.Sprintf("proposal %s is %s", pid, prec.Status), "", nil)
	}
	rec, err := s.cat.Asset(ctx, prec.Asset)
	if err != nil {
		return err
	}
	penv, _ := identity.ParseEnvelope(prec.Envelope)
	approvals := []*identity.Envelope{}
	for _, b := range prec.Approvals {
		e, _ := identity.ParseEnvelope(b)
		approvals = append(approvals, e)
	}
	approvals = append(approvals, env)
	st, status, err := asset.Apply(rec.State, penv, approvals, time.Now())
	if err == nil && status == asset.Applied {
		// Descendants registered since the proposal count too.
		if p, _, perr := asset.OpenProposal(penv); perr == nil {
			err = s.checkChange(ctx, rec.State, p.Change)
		}
	}
	if err != nil {
		return err
	}
	idx, err := s.commit(ctx, auditlog.TypeAssetApproval, canon)
	unlock()
	if err != nil {
		return notApplied(idx, err)
	}
	s.log.Info("approval", "proposal", pid, "approver", a.Approver, "status", status)
	return s.answerOf(w, ctx, http.StatusCreated, idx, auditlog.TypeAssetApproval, canon, RegisterAnswer{Asset: prec.Asset.String(), Proposal: pid.String(), Status: status.String(), Version: st.Version})
}

// AssetView is api.AssetView.
type AssetView = api.AssetView

func (s *Server) assetView(ctx context.Context, id asset.ID) (*AssetView, error) {
	rec, err := s.cat.Asset(ctx, id)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, "not-found", "No such asset", fmt.Sprintf("asset %s is not registered here", id), "", err)
		}
		return nil, err
	}
	v := &AssetView{AssetRecord: assetWire(rec), Conflicts: []string{}, Children: []string{}}
	same, err := s.cat.AssetsByContent(ctx, rec.State.Manifest.Content)
	if err != nil {
		return nil, err
	}
	for _, o := range same {
		if o.State.Asset != id {
			v.Conflicts = append(v.Conflicts, o.State.Asset.String())
		}
	}
	kids, err := s.cat.Children(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		v.Children = append(v.Children, k.String())
	}
	ps, err := s.cat.Proposals(ctx, id)
	if err != nil {
		return nil, err
	}
	v.Proposals = wireAll(ps, proposalWire)
	trail, err := s.cat.Trail(ctx, id)
	if err != nil {
		return nil, err
	}
	v.Trail = wireAll(trail, trailWire)
	return v, nil
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAsset(r, "asset")
	if err != nil {
		return err
	}
	v, err := s.assetView(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// LineageNode is api.LineageNode.
type LineageNode = api.LineageNode

// Lineage is api.Lineage.
type Lineage = api.Lineage

func (s *Server) lineage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathAsset(r, "asset")
	if err != nil {
		return err
	}
	root, err := s.cat.Asset(ctx, id)
	if err != nil {
		return err
	}
	l := Lineage{Asset: id.String(), Up: []LineageNode{}, Down: []LineageNode{}}
	seen := map[asset.ID]bool{id: true}
	type item struct {
		st    *asset.State
		depth int
	}
	queue := []item{{root.State, 0}}
	for len(queue) > 0 && len(l.Up) < asset.MaxAncestors {
		it := queue[0]
		queue = queue[1:]
		for _, p := range it.st.Manifest.Parents {
			pr, err := s.cat.Asset(ctx, p.Asset)
			if err != nil {
				return err
			}
			l.Up = append(l.Up, LineageNode{Asset: p.Asset.String(), Name: pr.State.Manifest.Name, Depth: -(it.depth + 1), Child: it.st.Asset.String(), Royalty: p.Royalty.String(), Stacking: string(p.Stacking)})
			if !seen[p.Asset] {
				seen[p.Asset] = true
				queue = append(queue, item{pr.State, it.depth + 1})
			}
		}
	}
	down := []item{{root.State, 0}}
	seen = map[asset.ID]bool{id: true}
	for len(down) > 0 && len(l.Down) < 4096 {
		it := down[0]
		down = down[1:]
		kids, err := s.cat.Children(ctx, it.st.Asset)
		if err != nil {
			return err
		}
		for _, k := range kids {
			kr, err := s.cat.Asset(ctx, k)
			if err != nil {
				return err
			}
			n := LineageNode{Asset: k.String(), Name: kr.State.Manifest.Name, Depth: it.depth + 1, Parent: it.st.Asset.String()}
			for _, p := range kr.State.Manifest.Parents {
				if p.Asset == it.st.Asset {
					n.Royalty, n.Stacking = p.Royalty.String(), string(p.Stacking)
				}
			}
			l.Down = append(l.Down, n)
			if !seen[k] {
				seen[k] = true
				down = append(down, item{kr.State, it.depth + 1})
			}
		}
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) getProposal(w http.ResponseWriter, r *http.Request) error {
	pid, err := pathAsset(r, "proposal")
	if err != nil {
		return err
	}
	p, err := s.cat.Proposal(r.Context(), pid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.ProposalView{Proposal: proposalWire(p), Envelope: p.Envelope})
	return nil
}

// checkLicenseRef is replaced when licences are wired in; an asset may
// name no licence.
func (s *Server) checkLicenseRef(ctx context.Context, ref string) error {
	if ref == "" || s.licenseCheck == nil {
		return nil
	}
	return s.licenseCheck(ctx, ref)
}
