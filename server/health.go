package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"io"
	"net/http"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/metering"
)

// Health is api.Health.
type Health = api.Health

// UnindexedDataset is api.UnindexedDataset.
type UnindexedDataset = api.UnindexedDataset

type scrubReport = api.ScrubReport

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	bad, err := s.cat.Corruptions(r.Context())
	if err != nil {
		return err
	}
	h := Health{Status: "ok", Corrupt: make([]api.Corruption, 0, len(bad))}
	for _, c := range bad {
		h.Corrupt = append(h.Corrupt, api.Corruption{ID: c.ID.String(), Offset: c.Offset, Length: c.Length, Detail: c.Detail, Found: c.Found})
	}
	un, err := s.cat.Unindexed(r.Context())
	if err != nil {
		return err
	}
	for _, u := range un {
		h.Unindexed = append(h.Unindexed, UnindexedDataset{Asset: u.Asset.String(), Index: u.Content, LogIndex: u.LogIndex})
	}
	s.scrubMu.Lock()
	if !s.lastScrub.Finished.IsZero() {
		rep := s.lastScrub
		h.LastScrub = &rep
	}
	audit := s.lastAudit
	s.scrubMu.Unlock()
	h.Log = s.logHealth(r.Context(), audit)
	status := http.StatusOK
	if len(bad) > 0 || len(un) > 0 || h.Log.Status != "ok" {
		h.Status = "degraded"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

// logAudit is the outcome of the last full audit of the log.
type logAudit struct {
	finished time.Time
	err      error
}

// logHealth reads and verifies the log's latest checkpoint now and adds
// what the last full audit found.
func (s *Server) logHealth(ctx context.Context, audit logAudit) *api.LogHealth {
	lh := &api.LogHealth{Status: "ok"}
	if !audit.finished.IsZero() {
		t := audit.finished
		lh.Audited = &t
	}
	verdict := func(err error) {
		lh.Status, lh.Detail = "unreadable", err.Error()
		if errors.Is(err, auditlog.ErrTampered) {
			lh.Status = "tampered"
		}
	}
	cp, err := s.tlog.Checkpoint(ctx)
	if err != nil {
		verdict(err)
		return lh
	}
	lh.Size = cp.Size
	if audit.err != nil {
		verdict(audit.err)
	}
	return lh
}

func (s *Server) corrupt(ctx context.Context, id content.ID) (catalog.Corruption, bool) {
	c, bad, err := s.cat.Corruption(ctx, id)
	if err != nil {
		s.log.Warn("reading corruption records", "id", id, "err", err)
	}
	return c, bad
}

// recordCorruption logs and records a blob that failed verification.
func (s *Server) recordCorruption(ctx context.Context, id content.ID, verr error) {
	c := catalog.Corruption{ID: id, Detail: verr.Error(), Found: time.Now().UTC()}
	var ce *content.CorruptError
	if errors.As(verr, &ce) {
		c.Offset, c.Length = ce.Start, ce.End-ce.Start
	}
	s.log.Error("CORRUPT BLOB: stored bytes do not match their id", "id", id, "offset", c.Offset, "length", c.Length, "err", verr)
	if err := s.cat.MarkCorrupt(ctx, c); err != nil {
		s.log.Error("recording corruption", "id", id, "err", err)
	}
}

// verifyBlob checks a whole stored blob against its id.
func (s *Server) verifyBlob(ctx context.Context, id content.ID) (int64, error) {
	data, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Data})
	if err != nil {
		return 0, err
	}
	defer data.Close()
	ob, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Outboard})
	if err != nil {
		return 0, fmt.Errorf("%w: outboard of %s: %v", content.ErrCorrupt, id, err)
	}
	defer ob.Close()
	if data.Size() == 0 {
		return 0, verifyRange(id, data, ob, 0, 0, 0)
	}
	return data.Size(), verifyRange(id, data, ob, data.Size(), 0, data.Size())
}

// VerifyRequest is api.VerifyRequest.
type VerifyRequest = api.VerifyRequest

// VerifyResult is api.VerifyResult.
type VerifyResult = api.VerifyResult

// verifyReport re-verifies a blob a client reported as bad. The report is
// not trusted: the server checks its own bytes and records corruption only
// when it finds it.
func (s *Server) verifyReport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req VerifyRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "bad-request", "Malformed verify request", err.Error(), `send {"offset":N,"length":N}`, err)
	}
	obj, err := s.cat.Object(r.Context(), id)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errorf(http.StatusNotFound, "not-found", "No such blob", fmt.Sprintf("%s is not stored on this server", id), "", err)
		}
		return err
	}
	off, n, err := reportedRange(req, obj.Size)
	if err != nil {
		return err
	}
	res := VerifyResult{ID: id.String(), OK: true}
	// Only the range reported, one report at a time (verifyreport.go).
	if err := s.verifyReported(r.Context(), id, obj.Size, off, n); err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return err
		}
		if !errors.Is(err, content.ErrCorrupt) {
			return err
		}
		s.recordCorruption(r.Context(), id, err)
		res.OK, res.Detail = false, err.Error()
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// Scrub verifies every stored blob once and records what is corrupt.
func (s *Server) Scrub(ctx context.Context) (scrubReport, error) {
	rep := scrubReport{Started: time.Now().UTC()}
	s.obs.scrubRunning.Store(true)
	s.obs.scrubBlobs.Store(0)
	s.obs.scrubBytes.Store(0)
	defer s.obs.scrubRunning.Store(false)
	err := s.blobs.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		n, err := s.verifyBlob(ctx, id)
		rep.Blobs++
		rep.Bytes += n
		s.obs.scrubBlobs.Add(1)
		s.obs.scrubBytes.Add(n)
		if err != nil {
			if !errors.Is(err, content.ErrCorrupt) {
				return err
			}
			rep.Corrupt++
			s.recordCorruption(ctx, id, err)
		}
		return ctx.Err()
	})
	// The log is audited with every scrub: every tile and entry bundle
	// against its checkpoint (healthz reports what it found).
	var audit logAudit
	if err == nil {
		_, aerr := s.tlog.Verify(ctx)
		if aerr != nil && errors.Is(aerr, auditlog.ErrMalformed) {
			aerr = nil // the storage is intact
		}
		if aerr != nil && ctx.Err() == nil {
			s.log.Error("LOG AUDIT FAILED: the transparency log's storage does not verify", "err", aerr)
		}
		audit = logAudit{finished: time.Now().UTC(), err: aerr}
	}
	rep.Finished = time.Now().UTC()
	s.obs.scrubFinished.Store(rep.Finished.Unix())
	s.scrubMu.Lock()
	s.lastScrub = rep
	if !audit.finished.IsZero() {
		s.lastAudit = audit
	}
	s.scrubMu.Unlock()
	s.log.Info("scrub finished", "blobs", rep.Blobs, "bytes", rep.Bytes, "corrupt", rep.Corrupt, "took", rep.Finished.Sub(rep.Started))
	return rep, err
}

func (s *Server) scrubLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Scrub(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scrub", "err", err)
		}
		t.Reset(s.cfg.ScrubInterval)
	}
}

// mapDomainError maps the sentinel errors of the packages below the server
// to problems.
func mapDomainError(err error) (Problem, bool) {
	switch {
	case errors.Is(err, blob.ErrNotFound), errors.Is(err, catalog.ErrNotFound):
		return Problem{Type: ProblemTypeBase + "not-found", Title: "Not found", Status: http.StatusNotFound, Detail: "the requested object is not stored on this server"}, true
	case errors.Is(err, content.ErrBadID):
		return Problem{Type: ProblemTypeBase + "bad-id", Title: "Malformed content id", Status: http.StatusBadRequest, Detail: err.Error()}, true
	case errors.Is(err, identity.ErrBadSignature), errors.Is(err, identity.ErrUnknownKey), errors.Is(err, identity.ErrNoSignature), errors.Is(err, identity.ErrDuplicateSignature):
		return Problem{Type: ProblemTypeBase + "bad-signature", Title: "Signature does not verify", Status: http.StatusUnauthorized, Detail: err.Error()}, true
	case errors.Is(err, identity.ErrBadEnvelope), errors.Is(err, identity.ErrWrongPayloadType), errors.Is(err, identity.ErrEnvelopeTooLarge):
		return Problem{Type: ProblemTypeBase + "bad-envelope", Title: "Malformed signed statement", Status: http.StatusBadRequest, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrNotOwner), errors.Is(err, asset.ErrThresholdNotMet):
		return Problem{Type: ProblemTypeBase + "not-authorized", Title: "Not signed by enough owners", Status: http.StatusForbidden, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrExpired):
		return Problem{Type: ProblemTypeBase + "expired", Title: "Proposal expired", Status: http.StatusConflict, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrDuplicateApproval):
		return Problem{Type: ProblemTypeBase + "replay", Title: "Approval already counted", Status: http.StatusConflict, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrStaleVersion), errors.Is(err, asset.ErrWrongProposal):
		return Problem{Type: ProblemTypeBase + "stale", Title: "Statement does not match the current state", Status: http.StatusConflict, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrUnknownAsset):
		return Problem{Type: ProblemTypeBase + "unknown-asset", Title: "Unknown asset", Status: http.StatusUnprocessableEntity, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrInvalid), errors.Is(err, asset.ErrMalformed), errors.Is(err, asset.ErrNotCanonical), errors.Is(err, asset.ErrField),
		errors.Is(err, asset.ErrOwners), errors.Is(err, asset.ErrThreshold), errors.Is(err, asset.ErrContributors), errors.Is(err, asset.ErrParents),
		errors.Is(err, asset.ErrLineageTooLarge), errors.Is(err, asset.ErrCycle):
		return Problem{Type: ProblemTypeBase + "invalid-statement", Title: "Invalid statement", Status: http.StatusUnprocessableEntity, Detail: err.Error()}, true
	case errors.Is(err, grant.ErrInvalid), errors.Is(err, grant.ErrMalformed):
		return Problem{Type: ProblemTypeBase + "invalid-statement", Title: "Invalid statement", Status: http.StatusUnprocessableEntity, Detail: err.Error()}, true
	case errors.Is(err, asset.ErrRoyalties):
		return Problem{Type: ProblemTypeBase + "lineage-limit", Title: "Lineage could not be settled", Status: http.StatusUnprocessableEntity, Detail: err.Error()}, true
	case errors.Is(err, metering.ErrGrantRevoked):
		return Problem{Type: ProblemTypeBase + "revoked", Title: "Grant revoked", Status: http.StatusForbidden, Detail: err.Error()}, true
	case errors.Is(err, metering.ErrGrantExpired):
		return Problem{Type: ProblemTypeBase + "expired", Title: "Grant not valid for this usage", Status: http.StatusForbidden, Detail: err.Error(), Hint: "usage dated within the grant's validity is accepted until 7 days after it expires"}, true
	case errors.Is(err, metering.ErrInvalid), errors.Is(err, metering.ErrMalformed), errors.Is(err, metering.ErrQuantity), errors.Is(err, metering.ErrOverflow), errors.Is(err, metering.ErrCurrency):
		return Problem{Type: ProblemTypeBase + "invalid-statement", Title: "Invalid statement", Status: http.StatusUnprocessableEntity, Detail: err.Error()}, true
	case errors.Is(err, ledger.ErrExceedsLimit):
		return Problem{Type: ProblemTypeBase + "insufficient-funds", Title: "Insufficient funds", Status: http.StatusConflict, Detail: err.Error()}, true
	case errors.Is(err, ledger.ErrIDConflict):
		return Problem{Type: ProblemTypeBase + "conflict", Title: "Id already used", Status: http.StatusConflict, Detail: err.Error()}, true
	}
	return Problem{}, false
}
