package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/charter-dev/charter/auditlog"
)

// ReceiptBundle is what Charter hands out for every logged statement: the
// entry itself (carrying the signed envelope), its C2SP tlog-proof of
// inclusion under a signed checkpoint, and the log's verifier key. `charter
// verify` checks it offline. See docs/spec/receipt-bundle.md.
type ReceiptBundle struct {
	Format    string `json:"format"` // ReceiptFormat
	LogKey    string `json:"log_key"`
	Index     uint64 `json:"index"`
	EntryType string `json:"entry_type"`
	Entry     string `json:"entry"` // base64 of the encoded log entry
	Proof     string `json:"proof"` // C2SP tlog-proof text
}

// ReceiptFormat names the receipt bundle format and its version.
const ReceiptFormat = "charter.receipt/v1"

func (s *Server) bundle(r auditlog.Receipt) (ReceiptBundle, error) {
	e, err := auditlog.DecodeEntry(r.Entry)
	if err != nil {
		return ReceiptBundle{}, err
	}
	return ReceiptBundle{
		Format:    ReceiptFormat,
		LogKey:    s.tlog.VerifierKey(),
		Index:     r.Index,
		EntryType: e.Type,
		Entry:     base64.StdEncoding.EncodeToString(r.Entry),
		Proof:     string(r.Proof),
	}, nil
}

// logAppend appends a signed statement, waits for a checkpoint covering it
// and returns its receipt. The caller applies the statement to the catalog
// only after this returns.
func (s *Server) logAppend(ctx context.Context, typ string, envelope []byte) (auditlog.Receipt, error) {
	r, err := s.tlog.AppendAndProve(ctx, typ, envelope)
	if err != nil {
		if errors.Is(err, auditlog.ErrTooLarge) {
			return r, errorf(http.StatusRequestEntityTooLarge, "too-large", "Statement too large for the log", err.Error(), "", err)
		}
		return r, fmt.Errorf("log append: %w", err)
	}
	return r, nil
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

// ConsistencyAnswer carries a consistency proof in its text form.
type ConsistencyAnswer struct {
	OldSize uint64 `json:"old_size"`
	Proof   string `json:"proof"`
}

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
