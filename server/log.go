package server

import (
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"net/http"
	"strconv"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/receipt"
)

func (s *Server) bundle(r auditlog.Receipt) (receipt.Bundle, error) {
	return receipt.New(r, s.tlog.VerifierKey())
}

func (s *Server) logProof(w http.ResponseWriter, r *http.Request) error {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-index", "Malformed log index", fmt.Sprintf("%q is not a log index", r.PathValue("index")), "", err)
	}
	rec, err := s.tlog.ProveInclusion(r.Context(), idx)
	if err != nil {
		if errors.Is(err, auditlog.ErrNotFound) {
			return errorf(http.StatusNotFound, "not-found", "No such log entry", fmt.Sprintf("the log has no entry %d yet", idx), "", err)
		}
		return err
	}
	b, err := s.bundle(rec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// ConsistencyAnswer is api.ConsistencyAnswer: a consistency proof in its text form.
type ConsistencyAnswer = api.ConsistencyAnswer

func (s *Server) logConsistency(w http.ResponseWriter, r *http.Request) error {
	old, err := strconv.ParseUint(r.URL.Query().Get("old"), 10, 64)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-request", "Malformed tree size", "?old= must be the size of a checkpoint you hold", "", err)
	}
	c, err := s.tlog.ConsistencyProof(r.Context(), old)
	if err != nil {
		if errors.Is(err, auditlog.ErrNotFound) {
			return errorf(http.StatusBadRequest, "bad-request", "Tree size beyond the log", err.Error(), "", err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, ConsistencyAnswer{OldSize: old, Proof: string(c.Marshal())})
	return nil
}

func (s *Server) logFiles(w http.ResponseWriter, r *http.Request) error {
	s.tlog.Handler().ServeHTTP(w, r)
	return nil
}
