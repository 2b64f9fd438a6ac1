package server

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/charter-dev/charter/assetfilter"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/license"
)

// The filters of GET /v1/assets that no catalog index serves: q (a part of
// the name), contributor (a DID among the contributors), license (the
// terms' name), purpose (one the terms allow) and price (free, paid, or
// none: no licence), matched by assetfilter. They narrow the pages the
// catalog reads (catalog.Pages, with its indexed filters content, media
// and owner), and one request reads at most assetScanBudget records, so a
// filtered page costs at most that much whatever the catalog holds. A
// page that ran out of budget answers the matches it found, possibly
// none, and a next cursor where the reading stopped: clients follow next
// as for any page (the console says it searched part of the catalog and
// offers to search on).

// assetScanBudget is the most catalog records one filtered request reads.
var assetScanBudget = 2 * catalog.MaxPage // a var: tests lower it

// assetScanOf reads the unindexed filters of a list request
// (assetfilter.Filter, which matches them).
func assetScanOf(q url.Values) (assetfilter.Filter, error) {
	var f assetfilter.Filter
	if s := q.Get("q"); s != "" {
		var err error
		if f.Q, err = assetfilter.Query(s); err != nil {
			return f, badQuery("q", fmt.Sprintf("a search of %d bytes", len(s)), fmt.Sprintf("search for a part of a name, at most %d bytes of UTF-8", assetfilter.MaxQuery), nil)
		}
	}
	var err error
	if f.Contributor, err = didParam(q, "contributor"); err != nil {
		return f, err
	}
	if s := q.Get("license"); s != "" {
		if !assetfilter.LicenseName(s) {
			return f, badQuery("license", fmt.Sprintf("%q is not a licence name", s), "a licence name as `charter license templates` lists them, e.g. research-only", nil)
		}
		f.License = s
	}
	if s := q.Get("purpose"); s != "" {
		if !license.Purpose(s).Valid() {
			return f, badQuery("purpose", fmt.Sprintf("purpose %q is none of %q", s, license.Purposes()), "leave it out to list every purpose", nil)
		}
		f.Purpose = license.Purpose(s)
	}
	f.Price, err = oneOf(q, "price", assetfilter.Prices()...)
	return f, err
}

// scanAssets answers a page of the assets that pass aq's indexed filters
// and f, reading at most assetScanBudget records from aq.From on, and the
// position the next page starts at (0: no record follows).
func (s *Server) scanAssets(ctx context.Context, aq catalog.AssetQuery, f assetfilter.Filter) ([]*catalog.AssetListing, uint64, error) {
	want := aq.Bound()
	var out []*catalog.AssetListing
	read := 0
	for read < assetScanBudget {
		q := aq
		q.Limit = min(catalog.MaxPage, assetScanBudget-read)
		page, next, err := s.cat.AssetPage(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		for i, l := range page {
			read++
			// The unindexed filters read the state: decoded here, and
			// only here (a page without them passes the stored JSON on).
			a, err := l.Record()
			if err != nil {
				return nil, 0, err
			}
			if !f.Match(a.State, func(ref string) *license.Terms { return s.cachedTerms(ctx, ref) }) {
				continue
			}
			out = append(out, l)
			if len(out) == want {
				if i == len(page)-1 && next == 0 {
					return out, 0, nil
				}
				return out, a.LogIndex + 1, nil
			}
		}
		if next == 0 {
			return out, 0, nil
		}
		aq.From = next
	}
	return out, aq.From, nil
}

// cachedTerms returns the parsed terms ref names, or nil when ref is empty
// or the terms cannot be read (a list does not fail on one asset's terms:
// the asset just does not match a terms filter). It shares loadTerms'
// cache; terms are content-addressed, so a parsed copy never goes stale.
func (s *Server) cachedTerms(ctx context.Context, ref string) *license.Terms {
	if ref == "" {
		return nil
	}
	id, err := content.ParseID(ref)
	if err != nil {
		return nil
	}
	if t, ok := s.termsCache.Load(id); ok {
		return t.(*license.Terms)
	}
	v, err := blob.Get(ctx, s.blobs, id)
	if err != nil {
		return nil
	}
	defer v.Close()
	raw, err := io.ReadAll(io.LimitReader(v, license.MaxTermsSize+1))
	if err != nil {
		return nil
	}
	t, err := license.Parse(raw)
	if err != nil {
		return nil
	}
	s.termsCache.Store(id, t)
	return t
}
