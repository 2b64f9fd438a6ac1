package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

func (r *Registry) applyRegister(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	om, _ := r.opened.Load(string(payload))
	if om == nil {
		env, err := identity.ParseEnvelope(payload)
		if err != nil {
			return NoEffect{err}
		}
		o := &OpenedManifest{}
		if o.M, o.ID, o.Signers, err = asset.OpenManifest(env); err != nil {
			return NoEffect{err}
		}
		om = o
	}
	return r.applyManifest(ctx, tx, idx, om.(*OpenedManifest))
}

// applyManifest applies a verified registration and, when it applies,
// records its outcome in om.
func (r *Registry) applyManifest(ctx context.Context, tx catalog.Tx, idx uint64, om *OpenedManifest) error {
	m, id, signers := om.M, om.ID, om.Signers
	if _, err := tx.Asset(id); err == nil {
		return duplicate("asset %s is registered", id)
	}
	if err := asset.CheckRegistration(m, signers, LookupState(tx.Asset)); err != nil {
		return NoEffect{err}
	}
	if err := r.applyDerivation(ctx, tx, m); err != nil {
		return err
	}
	st, err := asset.NewState(m)
	if err != nil {
		return NoEffect{err}
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
	if err := r.guardAsset(tx, idx, st, signers, claim); err != nil {
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
	om.Applied, om.Claim, om.Prio, om.Version = true, claim.String(), prio, st.Version
	return nil
}

func (r *Registry) applyProposal(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	p, pid, err := asset.OpenProposal(env)
	if err != nil {
		return NoEffect{err}
	}
	rec, err := tx.Asset(p.Asset)
	if err != nil {
		return NoEffect{err}
	}
	if _, err := tx.Proposal(pid); err == nil {
		return duplicate("proposal %s is logged", pid)
	}
	// Expiry was checked when the entry was accepted; replay evaluates
	// the rules at a time before expiry.
	st, status, err := asset.Apply(rec.State, env, nil, AcceptedAt(p))
	if err != nil {
		return NoEffect{err}
	}
	if err := tx.PutProposal(pid, p.Asset, payload, status.String(), idx); err != nil {
		return err
	}
	if err := tx.Trail(p.Asset, idx, auditlog.TypeAssetProposal, fmt.Sprintf("proposal %s: %s by %s", pid, p.Change.Kind, p.Proposer)); err != nil {
		return err
	}
	if status == asset.Applied {
		if err := asset.CheckChange(rec.State, p.Change, LookupState(tx.Asset), tx.Children); err != nil {
			return NoEffect{err}
		}
		if err := r.applyRelicense(ctx, tx, rec.State, p.Change); err != nil {
			return err
		}
		return tx.SetState(st)
	}
	return nil
}

// AcceptedAt is the time at which replay evaluates a proposal's rules: any
// time before its expiry, since the live path logged it only then.
func AcceptedAt(p *asset.Proposal) time.Time { return p.Expires.Time().Add(-time.Second) }

func (r *Registry) applyApproval(ctx context.Context, tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	a, err := asset.OpenApproval(env)
	if err != nil {
		return NoEffect{err}
	}
	prec, err := tx.Proposal(a.Proposal)
	if err != nil {
		return NoEffect{err}
	}
	if slices.Contains(prec.Approvers, a.Approver.String()) {
		return duplicate("approval of %s by %s is logged", a.Proposal, a.Approver)
	}
	if prec.Status != asset.Pending.String() {
		return NoEffect{fmt.Errorf("proposal %s is %s", a.Proposal, prec.Status)}
	}
	rec, err := tx.Asset(prec.Asset)
	if err != nil {
		return NoEffect{err}
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
	st, status, err := asset.Apply(rec.State, penv, approvals, AcceptedAt(p))
	if err != nil {
		return NoEffect{err}
	}
	if status == asset.Applied {
		if err := asset.CheckChange(rec.State, p.Change, LookupState(tx.Asset), tx.Children); err != nil {
			return NoEffect{err}
		}
		if err := r.applyRelicense(ctx, tx, rec.State, p.Change); err != nil {
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

// Relicensed is the manifest of a derived asset as it would read under the
// licence change c, or nil when c sets no licence or the asset has no
// parents. A derived asset may take only a licence its parents' terms
// allow, under the grants its manifest cites: the same rule as at
// registration (asset.CheckDerivation), so governance cannot relicense a
// derivative past what the right to derive gave.
func Relicensed(st *asset.State, c asset.Change) *asset.Manifest {
	if c.Kind != asset.SetLicense || c.License == nil || len(st.Manifest.Parents) == 0 {
		return nil
	}
	m := st.Manifest
	m.License = *c.License
	return &m
}

// applyRelicense is replay's check of Relicensed: a licence change the
// parents' terms forbid applies without effect.
func (r *Registry) applyRelicense(ctx context.Context, tx catalog.Tx, st *asset.State, c asset.Change) error {
	if m := Relicensed(st, c); m != nil {
		return r.applyDerivation(ctx, tx, m)
	}
	return nil
}

// guardAsset records which content a newly registered asset claims: its
// own bytes and, for a dataset, every file of its member list, read from
// the parts the log carried before the registration (never from the blob
// store). A dataset whose list the log does not hold whole is recorded
// unindexed, which makes content it might govern refused until the list
// is in the log (applyPart reindexes it); it never guards nothing
// silently. A conflicting claim governs nothing, so its list does not
// matter.
func (r *Registry) guardAsset(tx catalog.Tx, idx uint64, st *asset.State, signers []identity.DID, claim asset.ClaimStatus) error {
	c := st.Manifest.Content
	k := catalog.Claimant{Asset: st.Asset, Content: c.String(), LogIndex: idx, Signers: signers, Conflict: claim == asset.ClaimConflict}
	if st.Manifest.MediaType != content.DatasetMediaType {
		return tx.PutClaimant(k)
	}
	n, err := claimFiles(tx, st.Asset, c)
	switch {
	case err == nil:
		k.Dataset = true
	case errors.Is(err, ErrIndexUnreadable):
		if err := tx.DropFileClaims(st.Asset, c.String()); err != nil {
			return err
		}
		k.Unindexed = !k.Conflict
		if k.Unindexed {
			r.log.Error("dataset member list not in the log: content it may govern is refused until it is", "asset", st.Asset, "index", c, "err", err)
		}
	default:
		return err
	}
	if err := tx.PutClaimant(k); err != nil {
		return err
	}
	if k.Dataset {
		r.log.Debug("dataset claims", "asset", st.Asset, "files", n)
	}
	return nil
}

// claimFiles records the claims of dataset a on every file of the member
// list of index c that the log carried.
func claimFiles(tx catalog.Tx, a asset.ID, c content.ID) (int, error) {
	var n int
	err := tx.Claims(a.String(), func(add func(string) error) error {
		var err error
		n, err = eachFile(tx, c, func(f content.ID) error { return add(f.String()) })
		return err
	})
	return n, err
}

// reindex guards the datasets on index c registered before the log held
// their member list whole (their claims keep their registration's log
// index), once its last part is in the log. Datasets indexed already
// claim the same files again, which changes nothing.
func (r *Registry) reindex(tx catalog.Tx, c content.ID) error {
	recs, err := tx.AssetsByContent(c)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.State.Manifest.MediaType != content.DatasetMediaType || rec.Claim == asset.ClaimConflict.String() {
			continue
		}
		if _, err := claimFiles(tx, rec.State.Asset, c); err != nil {
			if errors.Is(err, ErrIndexUnreadable) {
				return nil // the parts disagree: the datasets stay unindexed
			}
			return err
		}
		k := catalog.Claimant{Asset: rec.State.Asset, Content: c.String(), LogIndex: rec.LogIndex, Dataset: true}
		if err := tx.PutClaimant(k); err != nil {
			return err
		}
	}
	return nil
}

// ErrIndexUnreadable marks a dataset member list the log does not hold
// whole, or a stored index that is missing, corrupt or not a valid index.
var ErrIndexUnreadable = errors.New("dataset index unreadable")
