package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// The list endpoints: GET /v1/assets, /v1/grants, /v1/assets/{id}/grants,
// /v1/grant-requests, /v1/disputes and /v1/proposals. Each answers one
// page in log order from a cursor (from) and a next cursor when more
// follow (api.Cursor); its cost is that of the page (catalog.Pages).

// maxMediaType bounds the media type filter (RFC 6838 allows 127+1+127).
const maxMediaType = 255

// badQuery is the problem of a list parameter that does not parse.
func badQuery(param, detail, hint string, err error) error {
	return errorf(http.StatusBadRequest, "bad-query", "Malformed "+param+" parameter", detail, hint, err)
}

// pageOf reads the page parameters of a list request: from (a cursor a
// page answered) and limit (1 to api.MaxLimit, api.DefaultLimit if none).
func pageOf(q url.Values) (catalog.PageQuery, error) {
	from, err := api.ParseCursor(q.Get("from"))
	if err != nil {
		return catalog.PageQuery{}, badQuery("from", fmt.Sprintf("from %q is not a cursor this list answered", q.Get("from")), `pass the "next" value of the previous page as it is, or leave from out for the first page`, err)
	}
	limit := api.DefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > api.MaxLimit {
			return catalog.PageQuery{}, badQuery("limit", fmt.Sprintf("limit %q is not a number from 1 to %d", s, api.MaxLimit), fmt.Sprintf(`ask for at most %d records and follow "next" for more`, api.MaxLimit), err)
		}
		limit = n
	}
	return catalog.PageQuery{From: from, Limit: limit}, nil
}

// didParam, assetParam and oneOf check a filter when it is set.
func didParam(q url.Values, name string) (string, error) {
	s := q.Get(name)
	if s == "" {
		return "", nil
	}
	d, err := identity.ParseDID(s)
	if err != nil {
		return "", badQuery(name, err.Error(), name+" is a did:key, as `charter key new` prints it", err)
	}
	return d.String(), nil
}

func assetParam(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	id, err := asset.ParseID(s)
	if err != nil {
		return "", badQuery("asset", err.Error(), "asset is an asset id, as `charter asset ls` prints it", err)
	}
	return id.String(), nil
}

func oneOf(q url.Values, name string, values ...string) (string, error) {
	s := q.Get(name)
	if s != "" && !slices.Contains(values, s) {
		return "", badQuery(name, fmt.Sprintf("%s %q is none of %q", name, s, values), "leave it out to list every "+name, nil)
	}
	return s, nil
}

// listAssets handles GET /v1/assets?content=&media=&owner=&q=&contributor=&license=&purpose=&price=&from=&limit=
// (q to price: assetScanOf, assetfilter).
func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	aq := catalog.AssetQuery{MediaType: q.Get("media")}
	var err error
	if aq.PageQuery, err = pageOf(q); err != nil {
		return err
	}
	if c := q.Get("content"); c != "" {
		id, err := content.ParseID(c)
		if err != nil {
			return badQuery("content", err.Error(), "content is a content id, as `charter put` prints it", err)
		}
		aq.Content = id.String()
	}
	if len(aq.MediaType) > maxMediaType {
		return badQuery("media", fmt.Sprintf("a media type of %d bytes", len(aq.MediaType)), fmt.Sprintf("media types are at most %d bytes", maxMediaType), nil)
	}
	if aq.Owner, err = didParam(q, "owner"); err != nil {
		return err
	}
	f, err := assetScanOf(q)
	if err != nil {
		return err
	}
	var as []*catalog.AssetListing
	var next uint64
	if f.Set() {
		as, next, err = s.scanAssets(r.Context(), aq, f)
	} else {
		as, next, err = s.cat.AssetPage(r.Context(), aq)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AssetListingPage{Assets: wireAll(as, listingWire), Next: api.Cursor(next)})
	return nil
}

// listGrants handles GET /v1/grants?asset=&licensee=&from=&limit= and
// GET /v1/assets/{id}/grants: a page of grants and, on the first page,
// the first page of the pending requests.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	a := q.Get("asset")
	if v := r.PathValue("id"); v != "" {
		a = v
	}
	var gq catalog.GrantQuery
	var err error
	if gq.PageQuery, err = pageOf(q); err != nil {
		return err
	}
	if gq.Asset, err = assetParam(a); err != nil {
		return err
	}
	if gq.Licensee, err = didParam(q, "licensee"); err != nil {
		return err
	}
	gs, next, err := s.cat.GrantPage(r.Context(), gq)
	if err != nil {
		return err
	}
	out := api.GrantList{Grants: wireAll(gs, grantWire), Pending: []api.GrantRequestRecord{}, Next: api.Cursor(next)}
	if gq.From == 0 {
		reqs, next, err := s.cat.GrantRequestPage(r.Context(), catalog.GrantRequestQuery{PageQuery: catalog.PageQuery{Limit: gq.Limit}, Asset: gq.Asset, Status: "pending"})
		if err != nil {
			return err
		}
		out.Pending, out.PendingNext = wireAll(reqs, grantRequestWire), api.Cursor(next)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listGrantRequests handles GET /v1/grant-requests?asset=&status=&from=&limit=.
func (s *Server) listGrantRequests(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var rq catalog.GrantRequestQuery
	var err error
	if rq.PageQuery, err = pageOf(q); err != nil {
		return err
	}
	if rq.Asset, err = assetParam(q.Get("asset")); err != nil {
		return err
	}
	if rq.Status, err = oneOf(q, "status", "pending", "approved", "denied", "granted"); err != nil {
		return err
	}
	reqs, next, err := s.cat.GrantRequestPage(r.Context(), rq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.GrantRequestList{Requests: wireAll(reqs, grantRequestWire), Next: api.Cursor(next)})
	return nil
}

// listDisputes handles GET /v1/disputes?asset=&status=&from=&limit=.
func (s *Server) listDisputes(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var dq catalog.DisputeQuery
	var err error
	if dq.PageQuery, err = pageOf(q); err != nil {
		return err
	}
	if dq.Asset, err = assetParam(q.Get("asset")); err != nil {
		return err
	}
	if dq.Status, err = oneOf(q, "status", "open", "released", "voided"); err != nil {
		return err
	}
	ds, next, err := s.cat.DisputePage(r.Context(), dq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.DisputeList{Disputes: wireAll(ds, disputeWire), Next: api.Cursor(next)})
	return nil
}

// listProposals handles GET /v1/proposals?asset=&status=&from=&limit=.
func (s *Server) listProposals(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var pq catalog.ProposalQuery
	var err error
	if pq.PageQuery, err = pageOf(q); err != nil {
		return err
	}
	if pq.Asset, err = assetParam(q.Get("asset")); err != nil {
		return err
	}
	if pq.Status, err = oneOf(q, "status", asset.Pending.String(), asset.Applied.String()); err != nil {
		return err
	}
	ps, next, err := s.cat.ProposalPage(r.Context(), pq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.ProposalList{Proposals: wireAll(ps, proposalWire), Next: api.Cursor(next)})
	return nil
}
