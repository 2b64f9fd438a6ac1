package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

// maxMissingBody bounds the body of POST /v1/blobs/missing: MaxMissingIDs
// ids of 59 characters, quoted and separated, and some room.
const maxMissingBody = api.MaxMissingIDs*64 + 4096

// parseIDs reads a list of content ids, {"ids": [...]}, as POST
// /v1/blobs/missing and POST /v1/blobs/batch-read take it: at most max
// well-formed ids (duplicates allowed, answered once each time asked).
func parseIDs(b []byte, max int) ([]content.ID, error) {
	var req api.MissingRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("not a JSON object with \"ids\": %w", err)
	}
	if len(req.IDs) > max {
		return nil, fmt.Errorf("%d ids; ask for at most %d at a time", len(req.IDs), max)
	}
	ids := make([]content.ID, len(req.IDs))
	for i, v := range req.IDs {
		id, err := content.ParseID(v)
		if err != nil {
			return nil, fmt.Errorf("ids[%d]: %q is not a Charter content id: %w", i, v, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// missing answers which of the listed content ids the server lacks, so a
// client uploads only those ("ask first"). The answer tells nothing that
// GET /v1/blobs/{id}/info does not already tell anyone, and it changes
// nothing: knowing an id grants no read (reads of licensed content still
// need a grant), records no upload, no owner and no kind. A copy known
// corrupt counts as missing, so the client re-sends it declaring its id,
// which repairs it. No key is needed; one request asks about at most
// MaxMissingIDs ids, each one catalog lookup.
func (s *Server) missing(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMissingBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "too-large", "Request too large", fmt.Sprintf("the list is over %d bytes", maxMissingBody), fmt.Sprintf("ask about at most %d ids at a time", api.MaxMissingIDs), err)
		}
		return err
	}
	ids, err := parseIDs(b, api.MaxMissingIDs)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-request", "Malformed missing-blobs request", err.Error(), `send {"ids":["bafk…",…]}`, err)
	}
	ctx := r.Context()
	ans := api.MissingAnswer{Missing: []string{}}
	for _, id := range ids {
		_, err := s.cat.Object(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			ans.Missing = append(ans.Missing, id.String())
			continue
		}
		if err != nil {
			return err
		}
		if _, bad := s.corrupt(ctx, id); bad {
			ans.Missing = append(ans.Missing, id.String())
		}
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}
