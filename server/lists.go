package server

import (
	"net/http"

	"github.com/charter-dev/charter/api"
)

// The list endpoints: GET /v1/assets, /v1/grants, /v1/assets/{id}/grants
// and /v1/disputes.

// listAssets handles GET /v1/assets.
func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) error {
	all, err := s.cat.ListAssets(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"assets": wireAll(all, assetWire)})
	return nil
}

// listGrants handles GET /v1/grants?asset=&licensee= and
// GET /v1/assets/{id}/grants.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	a := r.URL.Query().Get("asset")
	if v := r.PathValue("id"); v != "" {
		a = v
	}
	gs, err := s.cat.Grants(r.Context(), a, r.URL.Query().Get("licensee"))
	if err != nil {
		return err
	}
	reqs, err := s.cat.GrantRequests(r.Context(), a, "pending")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.GrantList{Grants: wireAll(gs, grantWire), Pending: wireAll(reqs, grantRequestWire)})
	return nil
}

// listDisputes handles GET /v1/disputes?asset=&status=.
func (s *Server) listDisputes(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.cat.Disputes(r.Context(), r.URL.Query().Get("asset"), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"disputes": wireAll(ds, disputeWire)})
	return nil
}
