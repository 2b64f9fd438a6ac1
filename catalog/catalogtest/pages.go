package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
)

// walk reads every page of a list from q on and checks each page against
// the rules of catalog.Pages: at most the limit, in log order, a next
// position after the page's last record, and 0 exactly when nothing
// follows. It returns the records of all pages.
func walk[R any](t *testing.T, what string, q *catalog.PageQuery, logIndex func(R) uint64, page func() ([]R, uint64, error)) []R {
	t.Helper()
	var all []R
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("%s: the pages do not end", what)
		}
		rs, next, err := page()
		if err != nil {
			t.Fatalf("%s from %d: %v", what, q.From, err)
		}
		if len(rs) > q.Bound() {
			t.Fatalf("%s: a page of %d, limit %d", what, len(rs), q.Bound())
		}
		for i, r := range rs {
			if logIndex(r) < q.From || (i > 0 && logIndex(r) <= logIndex(rs[i-1])) {
				t.Fatalf("%s from %d: record %d at log index %d is out of order", what, q.From, i, logIndex(r))
			}
		}
		all = append(all, rs...)
		if next == 0 {
			return all
		}
		if len(rs) == 0 || next <= logIndex(rs[len(rs)-1]) {
			t.Fatalf("%s from %d: next position %d after a page of %d", what, q.From, next, len(rs))
		}
		q.From = next
	}
}

// filter keeps the records of rs that keep accepts.
func filter[R any](rs []R, keep func(R) bool) []R {
	var out []R
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// match reports whether a filter left "" or equal to v accepts v.
func match(f, v string) bool { return f == "" || f == v }

func testPages(t *testing.T, open Opener) {
	c := open(t)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 150
	medias := []string{"text/plain", "image/png", "application/x-model"}
	owners := []string{"o0", "o1", "o2", "o3", "shared", "new owner", "nobody"}
	assets := make([]asset.ID, 0, n)
	grantStatus := []string{"pending", "approved", "denied", "granted"}
	proposalStatus := []string{"pending", "applied", "rejected"}
	type grantRow struct{ id, asset, licensee string }
	type requestRow struct{ id, asset, status string }
	type disputeRow struct{ id, asset, status string }
	type proposalRow struct{ id, asset, status string }
	var (
		changes   []catalog.Change
		grants    []grantRow
		requests  []requestRow
		disputes  []disputeRow
		proposals []proposalRow
	)
	idx := uint64(1)
	next := func() uint64 { idx += 1 + uint64(r.IntN(3)); return idx } // gaps in the log indexes
	add := func(fn func(i uint64) func(catalog.Tx) error) {
		i := next()
		changes = append(changes, catalog.Change{Index: i, Fn: fn(i)})
	}
	for i := range n {
		st := state(t, fmt.Sprint("page asset ", i), fmt.Sprint("content ", r.IntN(20)))
		st.Manifest.MediaType = medias[r.IntN(len(medias))]
		st.Owners = []asset.Owner{{DID: did(owners[r.IntN(4)]), Weight: 1}}
		if r.IntN(4) == 0 {
			st.Owners = append(st.Owners, asset.Owner{DID: did("shared"), Weight: 1})
		}
		assets = append(assets, st.Asset)
		add(func(i uint64) func(catalog.Tx) error {
			return func(tx catalog.Tx) error {
				return tx.PutAsset(catalog.AssetRecord{State: st, Claim: "priority", Priority: st.Asset, LogIndex: i})
			}
		})
	}
	someAsset := func() string { return assets[r.IntN(10)].String() } // a few assets hold most rows
	for i := range n {
		g := grantRow{fmt.Sprint("g", i), someAsset(), did(owners[r.IntN(4)]).String()}
		grants = append(grants, g)
		add(func(i uint64) func(catalog.Tx) error {
			return func(tx catalog.Tx) error { return tx.PutGrant(g.id, g.asset, g.licensee, []byte("grant "+g.id), i) }
		})
		if i%2 == 0 {
			q := requestRow{fmt.Sprint("r", i), someAsset(), grantStatus[r.IntN(len(grantStatus))]}
			requests = append(requests, q)
			add(func(i uint64) func(catalog.Tx) error {
				return func(tx catalog.Tx) error {
					if err := tx.PutGrantRequest(q.id, q.asset, []byte("request "+q.id), i-1, i); err != nil {
						return err
					}
					if i%3 != 0 { // some have no vote: the page's join finds none
						if err := tx.AddGrantApproval(q.id, "approver "+q.id, i%4 == 0, []byte("vote"), i); err != nil {
							return err
						}
					}
					if q.status == "pending" {
						return nil
					}
					return tx.SetGrantRequestStatus(q.id, q.status)
				}
			})
			d := disputeRow{fmt.Sprint("d", i), someAsset(), "open"}
			disputes = append(disputes, d)
			add(func(i uint64) func(catalog.Tx) error {
				return func(tx catalog.Tx) error {
					return tx.PutDispute(catalog.DisputeRecord{ID: d.id, Asset: d.asset, Opener: "opener " + d.id, Reason: "reason", Envelope: []byte("dispute " + d.id), LogIndex: i})
				}
			})
			pid := aid(t, fmt.Sprint("proposal ", i))
			pa := assets[r.IntN(10)]
			p := proposalRow{pid.String(), pa.String(), proposalStatus[r.IntN(len(proposalStatus))]}
			proposals = append(proposals, p)
			add(func(i uint64) func(catalog.Tx) error {
				return func(tx catalog.Tx) error {
					if err := tx.PutProposal(pid, pa, []byte("proposal "+p.id), p.status, i); err != nil {
						return err
					}
					if i%3 == 0 {
						return nil // no approval: the page's join finds none
					}
					return tx.AddApproval(pid, "approver of "+p.id, []byte("approval"), i)
				}
			})
			if i%3 == 2 { // a second approval, later in the log, from an approver named first
				add(func(i uint64) func(catalog.Tx) error {
					return func(tx catalog.Tx) error {
						return tx.AddApproval(pid, "another approver of "+p.id, []byte("second approval"), i)
					}
				})
			}
		}
	}
	for _, err := range c.UpdateSeq(ctx, changes) {
		must(t, err)
	}
	// Some assets change hands; some disputes end.
	all, err := c.ListAssets(ctx)
	must(t, err)
	for i, a := range all[:30] {
		st := *a.State
		st.Owners = []asset.Owner{{DID: did("new owner"), Weight: 1}}
		apply(t, c, next(), func(tx catalog.Tx) error { return tx.SetState(&st) })
		if i < len(disputes)/2 {
			disputes[i*2].status = []string{"released", "voided"}[i%2]
			d := disputes[i*2]
			apply(t, c, next(), func(tx catalog.Tx) error { return tx.ResolveDispute(d.id, d.status, idx) })
		}
	}
	all, err = c.ListAssets(ctx)
	must(t, err)

	// Every page of every list, with random filters and limits, against
	// the records filtered here.
	for trial := range 40 {
		limit := 1 + r.IntN(30)
		if trial == 0 {
			limit = 0 // DefaultPage
		}
		aq := catalog.AssetQuery{PageQuery: catalog.PageQuery{Limit: limit}}
		if r.IntN(2) == 0 {
			aq.Owner = did(owners[r.IntN(len(owners))]).String()
		}
		if r.IntN(2) == 0 {
			aq.MediaType = medias[r.IntN(len(medias))]
		}
		if r.IntN(3) == 0 {
			aq.Content = cid(fmt.Sprint("content ", r.IntN(20))).String()
		}
		got := records(t, walk(t, fmt.Sprintf("AssetPage %+v", aq), &aq.PageQuery, func(a *catalog.AssetListing) uint64 { return a.LogIndex },
			func() ([]*catalog.AssetListing, uint64, error) { return c.AssetPage(ctx, aq) }))
		want := filter(all, func(a *catalog.AssetRecord) bool {
			return match(aq.MediaType, a.State.Manifest.MediaType) && match(aq.Content, a.State.Manifest.Content.String()) &&
				(aq.Owner == "" || slices.ContainsFunc(a.State.Owners, func(o asset.Owner) bool { return o.DID.String() == aq.Owner }))
		})
		equalIDs(t, fmt.Sprintf("AssetPage %+v", aq), ids(got), ids(want))

		gq := catalog.GrantQuery{PageQuery: catalog.PageQuery{Limit: limit}}
		if r.IntN(2) == 0 {
			gq.Asset = someAsset()
		}
		if r.IntN(2) == 0 {
			gq.Licensee = did(owners[r.IntN(len(owners))]).String()
		}
		gs := walk(t, fmt.Sprintf("GrantPage %+v", gq), &gq.PageQuery, func(g *catalog.GrantRecord) uint64 { return g.LogIndex },
			func() ([]*catalog.GrantRecord, uint64, error) { return c.GrantPage(ctx, gq) })
		var gotIDs, wantIDs []string
		for _, g := range gs {
			gotIDs = append(gotIDs, g.ID)
		}
		for _, g := range filter(grants, func(g grantRow) bool { return match(gq.Asset, g.asset) && match(gq.Licensee, g.licensee) }) {
			wantIDs = append(wantIDs, g.id)
		}
		equalStrings(t, fmt.Sprintf("GrantPage %+v", gq), gotIDs, wantIDs)

		rq := catalog.GrantRequestQuery{PageQuery: catalog.PageQuery{Limit: limit}}
		if r.IntN(2) == 0 {
			rq.Asset = someAsset()
		}
		if r.IntN(2) == 0 {
			rq.Status = grantStatus[r.IntN(len(grantStatus))]
		}
		rs := walk(t, fmt.Sprintf("GrantRequestPage %+v", rq), &rq.PageQuery, func(g *catalog.GrantRequestRecord) uint64 { return g.LogIndex },
			func() ([]*catalog.GrantRequestRecord, uint64, error) { return c.GrantRequestPage(ctx, rq) })
		gotIDs, wantIDs = nil, nil
		for _, g := range rs {
			gotIDs = append(gotIDs, g.ID)
		}
		for _, g := range filter(requests, func(g requestRow) bool { return match(rq.Asset, g.asset) && match(rq.Status, g.status) }) {
			wantIDs = append(wantIDs, g.id)
		}
		equalStrings(t, fmt.Sprintf("GrantRequestPage %+v", rq), gotIDs, wantIDs)

		dq := catalog.DisputeQuery{PageQuery: catalog.PageQuery{Limit: limit}}
		if r.IntN(2) == 0 {
			dq.Asset = someAsset()
		}
		if r.IntN(2) == 0 {
			dq.Status = []string{"open", "released", "voided"}[r.IntN(3)]
		}
		ds := walk(t, fmt.Sprintf("DisputePage %+v", dq), &dq.PageQuery, func(d *catalog.DisputeRecord) uint64 { return d.LogIndex },
			func() ([]*catalog.DisputeRecord, uint64, error) { return c.DisputePage(ctx, dq) })
		gotIDs, wantIDs = nil, nil
		for _, d := range ds {
			gotIDs = append(gotIDs, d.ID)
		}
		for _, d := range filter(disputes, func(d disputeRow) bool { return match(dq.Asset, d.asset) && match(dq.Status, d.status) }) {
			wantIDs = append(wantIDs, d.id)
		}
		equalStrings(t, fmt.Sprintf("DisputePage %+v", dq), gotIDs, wantIDs)

		pq := catalog.ProposalQuery{PageQuery: catalog.PageQuery{Limit: limit}}
		if r.IntN(2) == 0 {
			pq.Asset = someAsset()
		}
		if r.IntN(2) == 0 {
			pq.Status = proposalStatus[r.IntN(len(proposalStatus))]
		}
		ps := walk(t, fmt.Sprintf("ProposalPage %+v", pq), &pq.PageQuery, func(p *catalog.ProposalRecord) uint64 { return p.LogIndex },
			func() ([]*catalog.ProposalRecord, uint64, error) { return c.ProposalPage(ctx, pq) })
		gotIDs, wantIDs = nil, nil
		for _, p := range ps {
			gotIDs = append(gotIDs, p.ID.String())
		}
		for _, p := range filter(proposals, func(p proposalRow) bool { return match(pq.Asset, p.asset) && match(pq.Status, p.status) }) {
			wantIDs = append(wantIDs, p.id)
		}
		equalStrings(t, fmt.Sprintf("ProposalPage %+v", pq), gotIDs, wantIDs)
	}

	// A page's records are the records the single lookups answer, with
	// their approvals and votes.
	q := catalog.PageQuery{Limit: catalog.MaxPage + 1} // more than the bound: the bound
	as := walk(t, "AssetPage", &q, func(a *catalog.AssetListing) uint64 { return a.LogIndex },
		func() ([]*catalog.AssetListing, uint64, error) {
			return c.AssetPage(ctx, catalog.AssetQuery{PageQuery: q})
		})
	for i, a := range records(t, as) {
		one, err := c.Asset(ctx, a.State.Asset)
		must(t, err)
		same(t, "AssetPage", a, one)
		if as[i].Asset != one.State.Asset.String() {
			t.Fatalf("AssetPage: listing of %s names %s", one.State.Asset, as[i].Asset)
		}
	}
	q = catalog.PageQuery{}
	for _, g := range walk(t, "GrantPage", &q, func(g *catalog.GrantRecord) uint64 { return g.LogIndex },
		func() ([]*catalog.GrantRecord, uint64, error) {
			return c.GrantPage(ctx, catalog.GrantQuery{PageQuery: q})
		}) {
		one, err := c.Grant(ctx, g.ID)
		must(t, err)
		same(t, "GrantPage", g, one)
	}
	q = catalog.PageQuery{}
	for _, g := range walk(t, "GrantRequestPage", &q, func(g *catalog.GrantRequestRecord) uint64 { return g.LogIndex },
		func() ([]*catalog.GrantRequestRecord, uint64, error) {
			return c.GrantRequestPage(ctx, catalog.GrantRequestQuery{PageQuery: q})
		}) {
		one, err := c.GrantRequest(ctx, g.ID)
		must(t, err)
		same(t, "GrantRequestPage", g, one)
	}
	q = catalog.PageQuery{}
	for _, d := range walk(t, "DisputePage", &q, func(d *catalog.DisputeRecord) uint64 { return d.LogIndex },
		func() ([]*catalog.DisputeRecord, uint64, error) {
			return c.DisputePage(ctx, catalog.DisputeQuery{PageQuery: q})
		}) {
		one, err := c.Dispute(ctx, d.ID)
		must(t, err)
		same(t, "DisputePage", d, one)
	}
	q = catalog.PageQuery{}
	for _, p := range walk(t, "ProposalPage", &q, func(p *catalog.ProposalRecord) uint64 { return p.LogIndex },
		func() ([]*catalog.ProposalRecord, uint64, error) {
			return c.ProposalPage(ctx, catalog.ProposalQuery{PageQuery: q})
		}) {
		one, err := c.Proposal(ctx, p.ID)
		must(t, err)
		// A page lists the approvers, not the signed statements.
		if p.Envelope != nil || p.Approvals != nil {
			t.Fatalf("ProposalPage: %s holds its envelopes", p.ID)
		}
		one.Envelope, one.Approvals = nil, nil
		same(t, "ProposalPage", p, one)
	}

	// Nothing matches: an empty page and no next position.
	empty, nextPos, err := c.AssetPage(ctx, catalog.AssetQuery{Owner: did("nobody at all").String()})
	if err != nil || len(empty) != 0 || nextPos != 0 {
		t.Fatalf("AssetPage of an owner of nothing: %d records, next %d, %v", len(empty), nextPos, err)
	}
	empty, nextPos, err = c.AssetPage(ctx, catalog.AssetQuery{PageQuery: catalog.PageQuery{From: idx + 1}})
	if err != nil || len(empty) != 0 || nextPos != 0 {
		t.Fatalf("AssetPage past the end: %d records, next %d, %v", len(empty), nextPos, err)
	}
}

// records decodes a page of asset listings.
func records(t *testing.T, ls []*catalog.AssetListing) []*catalog.AssetRecord {
	t.Helper()
	out := make([]*catalog.AssetRecord, 0, len(ls))
	for _, l := range ls {
		r, err := l.Record()
		must(t, err)
		out = append(out, r)
	}
	return out
}

// same fails the test unless a page's record equals the single lookup's.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: the page holds %+v, the lookup answers %+v", what, got, want)
	}
}

// equalStrings fails the test unless got and want hold the same strings in
// order.
func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func testPageBound(t *testing.T, _ Opener) {
	for _, c := range []struct{ limit, want int }{{-1, catalog.DefaultPage}, {0, catalog.DefaultPage}, {1, 1}, {catalog.MaxPage, catalog.MaxPage}, {catalog.MaxPage + 1, catalog.MaxPage}} {
		if got := (catalog.PageQuery{Limit: c.limit}).Bound(); got != c.want {
			t.Errorf("Bound of limit %d: %d, want %d", c.limit, got, c.want)
		}
	}
}
