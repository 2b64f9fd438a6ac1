package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"net/http"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/receipt"
	"github.com/charter-dev/charter/registry"
)

// The registry follows one rule: a signed statement is validated, appended
// to the transparency log, and only then applied to the catalog. apply is
// the one function that changes registry state, used both live and when
// replaying the log, so a catalog rebuilt from the log equals the live one.

// RegisterAnswer is api.RegisterAnswer.
type RegisterAnswer = api.RegisterAnswer

// manifests receive registrations (POST /v1/assets): a manifest signed
// by its owners. Copies of one registration run one at a time: the first
// appends it, the others find it registered.
var manifests = &intake[*asset.Manifest]{
	open: func(env *identity.Envelope) (opened[*asset.Manifest], error) {
		m, id, signers, err := asset.OpenManifest(env)
		return opened[*asset.Manifest]{m, id, signers}, err
	},
	lock: func(_ context.Context, _ *Server, o opened[*asset.Manifest]) (string, error) {
		return "asset:" + o.id.String(), nil
	},
	entry: auditlog.TypeAssetRegister,
}

// register handles POST /v1/assets: a manifest signed by its owners.
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, manifests)
	if err != nil {
		return err
	}
	defer in.unlock()
	m, id, signers := in.v, in.id, in.signers
	if _, err := s.blobs.Stat(ctx, blob.Key{ID: m.Content, Part: blob.Data}); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return errorf(http.StatusUnprocessableEntity, "missing-content", "Content not stored", fmt.Sprintf("the manifest names content %s, which is not stored on this server", m.Content), "run `charter put` first, or use `charter publish`", err)
		}
		return err
	}
	if err := s.checkLicenseRef(ctx, m.License); err != nil {
		return err
	}
	files := -1 // not a dataset
	if m.MediaType == content.DatasetMediaType {
		if files, err = s.checkIndex(ctx, m.Content); err != nil {
			return err // a dataset's index must read, or its guards would be unknown
		}
	}
	if rec, err := s.cat.Asset(ctx, id); err == nil {
		in.unlock()
		// Registering the same manifest again is answered with the
		// original registration.
		return s.answerAgain(w, ctx, rec.LogIndex, auditlog.TypeAssetRegister, in.canon, RegisterAnswer{Asset: id.String(), Claim: rec.Claim, Priority: rec.Priority.String()})
	}
	if err := asset.CheckRegistration(m, signers, registry.LookupState(func(a asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, a) })); err != nil {
		return err
	}
	read := []string{} // terms the checks read: the log carries them before the entry
	if m.License != "" {
		read = append(read, m.License)
	}
	if err := s.checkDerivation(ctx, m, time.Now(), &read); err != nil {
		return err
	}
	// The applier takes the manifest as verified here, instead of
	// verifying its signatures again in the one ordered goroutine, and
	// leaves what it found in om for the answer.
	// A dataset's member list takes one more statement per part after
	// the first: a key without standing cannot fill the log with lists.
	if err := s.drawPool(ctx, crowd.Statements, int64(max(1, registry.FilesParts(files))), signers...); err != nil {
		return err
	}
	// What applying the registration reads, the log carries before it.
	if err := s.carryAll(ctx, read); err != nil {
		return err
	}
	if files >= 0 {
		if err := s.carryIndex(ctx, m.Content, files); err != nil {
			return err
		}
	}
	om := &registry.OpenedManifest{M: m, ID: id, Signers: signers}
	release := s.reg.Opened(in.canon, om)
	idx, err := in.commit(ctx, s)
	release()
	in.unlock()
	if err != nil {
		return err
	}
	a := RegisterAnswer{Asset: id.String(), Claim: om.Claim, Priority: om.Prio.String(), Version: om.Version}
	if !om.Applied {
		// Applied from the log rather than by this request (a gap the
		// applier filled): its outcome is in the catalog.
		rec, err := s.cat.Asset(ctx, id)
		if err != nil {
			return err
		}
		a.Claim, a.Priority, a.Version = rec.Claim, rec.Priority.String(), rec.State.Version
	}
	s.log.Info("registered asset", "asset", id, "content", m.Content, "claim", a.Claim, "index", idx)
	return s.answerOf(w, ctx, http.StatusCreated, idx, auditlog.TypeAssetRegister, in.canon, a)
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

// proposals receive proposals (POST /v1/assets/{id}/proposals). Changes
// of one asset are validated against its state one at a time.
var proposals = &intake[*asset.Proposal]{
	open: func(env *identity.Envelope) (opened[*asset.Proposal], error) {
		p, id, err := asset.OpenProposal(env)
		return opened[*asset.Proposal]{v: p, id: id}, err
	},
	path:  "asset",
	names: func(o opened[*asset.Proposal]) asset.ID { return o.v.Asset },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-asset", "Proposal for another asset", fmt.Sprintf("the proposal changes %s, not %s", names, path), "", nil)
	},
	lock: func(_ context.Context, _ *Server, o opened[*asset.Proposal]) (string, error) {
		return "asset:" + o.v.Asset.String(), nil
	},
	entry: auditlog.TypeAssetProposal,
}

// propose handles POST /v1/assets/{id}/proposals.
func (s *Server) propose(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, proposals)
	if err != nil {
		return err
	}
	defer in.unlock()
	p, pid := in.v, in.id
	rec, err := s.cat.Asset(ctx, p.Asset)
	if err != nil {
		return err
	}
	if _, err := s.cat.Proposal(ctx, pid); err == nil {
		return errorf(http.StatusConflict, "replay", "Proposal already submitted", fmt.Sprintf("proposal %s is logged already", pid), "make a new proposal (a new nonce) to propose the change again", nil)
	}
	st, status, err := asset.Apply(rec.State, in.env, nil, time.Now())
	var read []string // terms the checks read: the log carries them before the entry
	if err == nil {
		// Refused now, not when the last approval comes in: a change that
		// would leave a lineage unsettleable (its own or a descendant's).
		err = s.checkChange(ctx, rec.State, p.Change, &read)
	}
	if err != nil {
		return err
	}
	if err := s.drawPool(ctx, crowd.Statements, 1, p.Proposer); err != nil {
		return err
	}
	if err := s.carryAll(ctx, read); err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	in.unlock()
	if err != nil {
		return err
	}
	return s.answerOf(w, ctx, http.StatusCreated, idx, in.entry, in.canon, RegisterAnswer{Asset: p.Asset.String(), Proposal: pid.String(), Status: status.String(), Version: st.Version})
}

// checkChange runs asset.CheckChange against the catalog. The terms it
// read are added to *read.
func (s *Server) checkChange(ctx context.Context, st *asset.State, c asset.Change, read *[]string) error {
	if err := asset.CheckChange(st, c, registry.LookupState(func(id asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, id) }),
		func(id asset.ID) ([]asset.ID, error) { return s.cat.Children(ctx, id) }); err != nil {
		return err
	}
	if m := registry.Relicensed(st, c); m != nil {
		return s.derivationProblem(asset.CheckDerivation(m, s.rightLookup(ctx, read), s.termsLookup(ctx, read)))
	}
	return nil
}

// approvals receive owners' approvals of proposals (POST
// /v1/proposals/{id}/approvals), under the lock of the proposal's asset:
// changes of one asset are validated against its state one at a time.
var approvals = &intake[*asset.Approval]{
	open: func(env *identity.Envelope) (opened[*asset.Approval], error) {
		a, err := asset.OpenApproval(env)
		return opened[*asset.Approval]{v: a}, err
	},
	path:  "proposal",
	names: func(o opened[*asset.Approval]) asset.ID { return o.v.Proposal },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-proposal", "Approval of another proposal", fmt.Sprintf("the approval is for %s, not %s", names, path), "", nil)
	},
	lock: func(ctx context.Context, s *Server, o opened[*asset.Approval]) (string, error) {
		prec, err := s.cat.Proposal(ctx, o.v.Proposal)
		if err != nil {
			return "", err
		}
		return "asset:" + prec.Asset.String(), nil
	},
	entry: auditlog.TypeAssetApproval,
}

// approve handles POST /v1/proposals/{id}/approvals.
func (s *Server) approve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, approvals)
	if err != nil {
		return err
	}
	defer in.unlock()
	a, pid := in.v, in.v.Proposal
	// Read the proposal again under its asset's lock.
	prec, err := s.cat.Proposal(ctx, pid)
	if err != nil {
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
	approvals = append(approvals, in.env)
	st, status, err := asset.Apply(rec.State, penv, approvals, time.Now())
	var read []string // terms the checks read: the log carries them before the entry
	if err == nil && status == asset.Applied {
		// Descendants registered since the proposal count too.
		if p, _, perr := asset.OpenProposal(penv); perr == nil {
			err = s.checkChange(ctx, rec.State, p.Change, &read)
		}
	}
	if err != nil {
		return err
	}
	if err := s.drawPool(ctx, crowd.Statements, 1, a.Approver); err != nil {
		return err
	}
	if err := s.carryAll(ctx, read); err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	in.unlock()
	if err != nil {
		return err
	}
	s.log.Info("approval", "proposal", pid, "approver", a.Approver, "status", status)
	return s.answerOf(w, ctx, http.StatusCreated, idx, in.entry, in.canon, RegisterAnswer{Asset: prec.Asset.String(), Proposal: pid.String(), Status: status.String(), Version: st.Version})
}

// AssetView is api.AssetView.
type AssetView = api.AssetView

func (s *Server) assetView(ctx context.Context, id asset.ID) (*AssetView, error) {
	rec, err := s.cat.Asset(ctx, id)
	if err != nil {
		return nil, noSuchAsset(id, err)
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
