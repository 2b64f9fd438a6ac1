package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// DefaultSettleInterval is how often the server settles when
// Config.SettleInterval is zero.
const DefaultSettleInterval = time.Minute

// Settlement is metering.Settlement.
type Settlement = metering.Settlement

// Settle charges every unsettled receipt and usage event, splits the
// revenue up each asset's lineage, marks them settled and logs the ledger
// journal root as a "settlement" entry. It is safe to run again after a
// crash at any point: charges and splits are idempotent in the ledger, and
// uses stay unsettled in the catalog until the settlement entry is logged.
func (s *Server) Settle(ctx context.Context) (*Settlement, error) {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	if s.shared() {
		// One run at a time across replicas: the run stops if the lease
		// is lost (charges are idempotent, a settlement entry covering
		// less than the last applies with no effect).
		rctx, release, err := s.settleLease(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		ctx = rctx
	}
	out, err := s.money.Settle(ctx)
	if err == nil {
		s.obs.settled.Store(time.Now().UnixNano())
	}
	return out, err
}

// firstLine returns s up to its first newline (errors carry hints after it).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (s *Server) settleLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Settle(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("periodic settlement", "err", err)
			}
		}
	}
}

// settleHandler handles POST /v1/settle.
func (s *Server) settleHandler(w http.ResponseWriter, r *http.Request) error {
	// The answer lists every licensee's failed charges: the operator's.
	if err := s.operatorOnly(r, "settle on demand"); err != nil {
		return err
	}
	out, err := s.Settle(r.Context())
	if err != nil {
		if errors.Is(err, settle.ErrLineage) {
			return errorf(http.StatusConflict, "bad-lineage", "Lineage cannot be split", err.Error(), "fix the contributors' shares or parents' royalties with a proposal", err)
		}
		return err
	}
	if out.LogIndex > 0 {
		// The answer names the settlement's log entry: answer once a
		// checkpoint covers it, so that `charter log prove` can prove it.
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		_, err := s.cpw.await(ctx, out.LogIndex)
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for a checkpoint covering settlement entry %d: %w", out.LogIndex, err)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// disputes receive disputes (POST /v1/disputes). Copies of one dispute
// run one at a time.
var disputes = &intake[*metering.Dispute]{
	open: func(env *identity.Envelope) (opened[*metering.Dispute], error) {
		d, id, err := metering.OpenDispute(env)
		return opened[*metering.Dispute]{v: d, id: id}, err
	},
	check: func(d *metering.Dispute) error { return statementFresh(d.Created.Time()) },
	lock: func(_ context.Context, _ *Server, o opened[*metering.Dispute]) (string, error) {
		return "dispute:" + o.id.String(), nil
	},
	entry: auditlog.TypeDispute,
}

// openDispute handles POST /v1/disputes: a dispute signed by anyone. While
// it is open, the revenue of the asset's uses is held in pending split
// transfers.
func (s *Server) openDispute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, disputes)
	if err != nil {
		return err
	}
	defer in.unlock()
	d, id := in.v, in.id
	rec, err := s.cat.Asset(ctx, d.Asset)
	if err != nil {
		return noSuchAsset(d.Asset, err)
	}
	if old, err := s.cat.Dispute(ctx, id.String()); err == nil {
		writeJSON(w, http.StatusOK, api.DisputeAnswer{Dispute: old.ID, Asset: old.Asset, Status: old.Status, LogIndex: old.LogIndex})
		return nil
	}
	// Standing, and one open dispute per opener and asset (applyDispute
	// enforces the same rule in log order).
	gs, err := s.cat.Grants(ctx, d.Asset.String(), d.Opener.String())
	if err != nil {
		return err
	}
	open, err := s.cat.Disputes(ctx, d.Asset.String(), "open")
	if err != nil {
		return err
	}
	mine := ""
	for _, o := range open {
		if o.Opener == d.Opener.String() {
			mine = o.ID
		}
	}
	lin, err := metering.Lineage(rec.State, registry.LookupState(func(id asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, id) }))
	if err != nil {
		return err
	}
	if err := metering.CheckStanding(lin, d.Opener, len(gs) > 0, d.Opener == s.key.DID(), mine); err != nil {
		if errors.Is(err, metering.ErrDisputeOpen) {
			return errorf(http.StatusConflict, "dispute-open", "You have an open dispute on this asset", err.Error(), "", err)
		}
		return errorf(http.StatusForbidden, "no-standing", "No standing to dispute this asset", err.Error(), "only owners, contributors and licensees of an asset, and the operator, may open disputes on it", err)
	}
	if err := s.drawPool(ctx, crowd.Statements, 1, d.Opener); err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	in.unlock()
	if err != nil {
		return err
	}
	s.log.Info("dispute opened", "dispute", id, "asset", d.Asset, "by", d.Opener)
	writeJSON(w, http.StatusCreated, api.DisputeAnswer{Dispute: id.String(), Asset: d.Asset.String(), Status: "open", LogIndex: idx})
	return nil
}

// resolutions receive owners' resolutions of disputes (POST
// /v1/disputes/{id}/resolve). Resolutions of one dispute run one at a
// time.
var resolutions = &intake[*metering.Resolution]{
	open: func(env *identity.Envelope) (opened[*metering.Resolution], error) {
		res, signers, id, err := metering.OpenResolution(env)
		return opened[*metering.Resolution]{res, id, signers}, err
	},
	path:  "dispute",
	names: func(o opened[*metering.Resolution]) asset.ID { return o.v.Dispute },
	wrong: func(names, path asset.ID) error {
		return errorf(http.StatusUnprocessableEntity, "wrong-dispute", "Resolution of another dispute", fmt.Sprintf("the resolution is of dispute %s, not %s", names, path), "", nil)
	},
	lock: func(_ context.Context, _ *Server, o opened[*metering.Resolution]) (string, error) {
		return "dispute:" + o.v.Dispute.String(), nil
	},
	entry: auditlog.TypeDispute,
}

// resolveDispute handles POST /v1/disputes/{id}/resolve: a resolution
// signed by owners reaching the asset's threshold. Held splits are posted
// (release) or voided once no other dispute on the asset is open.
func (s *Server) resolveDispute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	in, err := receive(ctx, s, r, resolutions)
	if err != nil {
		return err
	}
	defer in.unlock()
	res, signers := in.v, in.signers
	d, err := s.cat.Dispute(ctx, res.Dispute.String())
	var rec *catalog.AssetRecord
	switch {
	case err != nil:
	case d.Asset != res.Asset.String():
		err = errorf(http.StatusUnprocessableEntity, "wrong-asset", "Resolution names another asset", "", "", nil)
	case d.Status != "open":
		err = errorf(http.StatusConflict, "dispute-closed", "Dispute already resolved", fmt.Sprintf("dispute %s is %s", d.ID, d.Status), "", nil)
	default:
		rec, err = s.cat.Asset(ctx, res.Asset)
	}
	if err == nil {
		err = grant.CheckThreshold(rec.State, signers, "resolution")
	}
	if err != nil {
		return err
	}
	idx, err := in.commit(ctx, s)
	in.unlock()
	if err != nil {
		return err
	}
	ans := api.DisputeAnswer{Dispute: d.ID, Asset: d.Asset, Status: registry.DisputeStatus(res.Outcome), LogIndex: idx}
	if ans.Released, ans.Voided, err = s.money.DisputeResolved(ctx, d.Asset, res.Outcome); err != nil {
		return err
	}
	s.log.Info("dispute resolved", "dispute", d.ID, "asset", d.Asset, "outcome", res.Outcome)
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// unsettled handles GET /v1/assets/{id}/unsettled: the uses of the asset
// the last settlement run could not charge, with the reason (no funds, a
// lineage that cannot be split). Like all money, only the asset's owners
// and the operator may read it (a signed request). The list is the last
// run's, refreshed by every run (every minute by default).
func (s *Server) unsettled(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAsset(r, "asset")
	if err != nil {
		return err
	}
	rec, err := s.cat.Asset(r.Context(), id)
	if err != nil {
		return noSuchAsset(id, err)
	}
	if err := s.maySign(r, "the unsettled uses of "+id.String(), func(d identity.DID) bool { return rec.State.IsOwner(d) || d == s.key.DID() }, "an owner of the asset or the operator"); err != nil {
		return err
	}
	out := []metering.FailedUse{}
	if fs, ran := s.money.LastFailed(id.String()); ran {
		out = append(out, fs...)
	} else {
		// No run since the start: the last run's list, from the catalog.
		rs, err := s.cat.UnsettledReasons(r.Context(), id.String())
		if err != nil {
			return err
		}
		for _, x := range rs {
			out = append(out, metering.FailedUse{Use: x.Use, Error: x.Error})
		}
	}
	writeJSON(w, http.StatusOK, api.UnsettledAnswer{Asset: id.String(), Failed: out})
	return nil
}
