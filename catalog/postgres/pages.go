package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5/pgtype"
)

// Pages of lists (catalog.Pages): keyset pagination by log index. Every
// filter, and every pair of filters a list takes, is served by an index
// that ends in log_index (migrations 0003 and 0005), so a page reads the
// rows it answers and the index entries before them, whatever the catalog
// holds.

// where builds the conditions of a page query: each filter set adds one.
type where struct {
	conds []string
	args  []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.conds = append(w.conds, col+" = "+w.arg(v))
	}
}

// page finishes a query: from, the filters, log order, one row over limit.
func (w *where) page(sel, idx string, q catalog.PageQuery) (string, []any) {
	conds := append([]string{idx + " >= " + w.arg(int64(q.From))}, w.conds...)
	return sel + " WHERE " + strings.Join(conds, " AND ") + " ORDER BY " + idx + " LIMIT " + w.arg(q.Bound()+1), w.args
}

// covered finishes the query of a page read from a covering index of
// migration 0009, whose predicate small leaves out rows too large for a
// B-tree entry (large, its negation, has a partial index of its own): the
// page of each, in log order, merged. The first is an index-only scan;
// the second finds nothing in practice, in one probe.
func (w *where) covered(sel, idx, small, large string, q catalog.PageQuery) (string, []any) {
	conds := strings.Join(append([]string{idx + " >= " + w.arg(int64(q.From))}, w.conds...), " AND ")
	limit := w.arg(q.Bound() + 1)
	branch := func(pred string) string {
		return "(" + sel + " WHERE " + conds + " AND " + pred + " ORDER BY " + idx + " LIMIT " + limit + ")"
	}
	return branch(small) + " UNION ALL " + branch(large) + " ORDER BY log_index LIMIT " + limit, w.args
}

// The predicates of the covering indexes of migration 0009 (written as
// there, so the planner sees they imply them).
const (
	grantSmall   = `octet_length(g.envelope) <= 2000`
	grantLarge   = `octet_length(g.envelope) > 2000`
	disputeSmall = `octet_length(reason) + octet_length(envelope) <= 2000`
	disputeLarge = `octet_length(reason) + octet_length(envelope) > 2000`
)

// grantPageQuery is the query of GrantPage: of one asset or one
// licensee, from a covering index; of both, from grants_asset_licensee;
// else in log order.
func grantPageQuery(q catalog.GrantQuery) (string, []any) {
	var w where
	w.eq("g.asset", q.Asset)
	w.eq("g.licensee", q.Licensee)
	if (q.Asset == "") != (q.Licensee == "") {
		return w.covered(grantQuery, "g.log_index", grantSmall, grantLarge, q.PageQuery)
	}
	return w.page(grantQuery, "g.log_index", q.PageQuery)
}

// disputePageQuery is the query of DisputePage: of one asset (with a
// status or not), from a covering index.
func disputePageQuery(q catalog.DisputeQuery) (string, []any) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	if q.Asset != "" {
		return w.covered(`SELECT `+disputeCols+` FROM disputes`, "log_index", disputeSmall, disputeLarge, q.PageQuery)
	}
	return w.page(`SELECT `+disputeCols+` FROM disputes`, "log_index", q.PageQuery)
}

// assetPageQuery is the query of AssetPage. The content filter, when set,
// leads (an index on content and log index); else the owner filter (the
// owners table, by owner and media type); else the media type.
func assetPageQuery(q catalog.AssetQuery) (string, []any) {
	const cols = `SELECT a.state, a.claim, a.priority, a.log_index, a.asset`
	var w where
	switch {
	case q.Content != "":
		w.eq("a.content", q.Content)
		w.eq("a.media", q.MediaType)
		if q.Owner != "" {
			w.conds = append(w.conds, `EXISTS (SELECT 1 FROM asset_owners o WHERE o.owner = `+w.arg(q.Owner)+` AND o.log_index = a.log_index AND o.asset = a.asset)`)
		}
		return w.page(cols+` FROM assets a`, "a.log_index", q.PageQuery)
	case q.Owner != "":
		w.eq("o.owner", q.Owner)
		w.eq("o.media", q.MediaType)
		// Joined by asset id. By log index (an index a fifth the size)
		// had half the buffer misses, but the planner multiplies the two
		// join conditions' selectivities, expects one row, and sorted
		// every asset of the owner and media type (1.2 s at 1,000,000).
		return w.page(cols+` FROM asset_owners o JOIN assets a ON a.asset = o.asset`, "o.log_index", q.PageQuery)
	}
	w.eq("a.media", q.MediaType)
	return w.page(cols+` FROM assets a`, "a.log_index", q.PageQuery)
}

// AssetPage answers a page of assets.
func (c *Catalog) AssetPage(ctx context.Context, q catalog.AssetQuery) ([]*catalog.AssetListing, uint64, error) {
	sql, args := assetPageQuery(q)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var as []*catalog.AssetListing
	for rows.Next() {
		// The row's bytes are copied once, into one buffer; the state is
		// passed on, not decoded (catalog.AssetListing).
		var st, claim, prio, id pgtype.DriverBytes
		var idx int64
		if err := rows.Scan(&st, &claim, &prio, &idx, &id); err != nil {
			return nil, 0, fmt.Errorf("catalog: %w", err)
		}
		buf := make([]byte, 0, len(st)+len(claim)+len(prio)+len(id))
		buf = append(append(append(append(buf, st...), claim...), prio...), id...)
		s := string(buf[len(st):])
		l := &catalog.AssetListing{State: buf[:len(st):len(st)], LogIndex: uint64(idx)}
		l.Claim, s = s[:len(claim)], s[len(claim):]
		l.Priority, l.Asset = s[:len(prio)], s[len(prio):]
		as = append(as, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	as, next := catalog.TrimPage(as, q.Bound(), func(a *catalog.AssetListing) uint64 { return a.LogIndex })
	return as, next, nil
}

// GrantPage answers a page of grants with what was served under them.
func (c *Catalog) GrantPage(ctx context.Context, q catalog.GrantQuery) ([]*catalog.GrantRecord, uint64, error) {
	sql, args := grantPageQuery(q)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.GrantRecord
	for rows.Next() {
		g, err := scanGrant(rows, "")
		if err != nil {
			return nil, 0, err
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(g *catalog.GrantRecord) uint64 { return g.LogIndex })
	return out, next, nil
}

// GrantRequestPage answers a page of queued grant requests with their
// votes, in one query (one round trip): the page, then its votes joined
// to it.
func (c *Catalog) GrantRequestPage(ctx context.Context, q catalog.GrantRequestQuery) ([]*catalog.GrantRequestRecord, uint64, error) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	page, args := w.page(`SELECT id, asset, envelope, decision, status, log_index FROM grant_requests`, "log_index", q.PageQuery)
	rows, err := c.pool.Query(ctx, `WITH page AS (`+page+`)
		SELECT p.id, p.asset, p.envelope, p.decision, p.status, p.log_index, v.approver, v.approve
		FROM page p LEFT JOIN grant_approvals v ON v.request = p.id
		ORDER BY p.log_index, v.log_index`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.GrantRequestRecord
	for rows.Next() {
		var r catalog.GrantRequestRecord
		var env pgtype.DriverBytes
		var dec, idx int64
		var who pgtype.Text
		var ok pgtype.Bool
		if err := rows.Scan(&r.ID, &r.Asset, &env, &dec, &r.Status, &idx, &who, &ok); err != nil {
			return nil, 0, err
		}
		if n := len(out); n == 0 || out[n-1].LogIndex != uint64(idx) {
			r.Envelope, r.Decision, r.LogIndex, r.Votes = bytes.Clone(env), uint64(dec), uint64(idx), map[string]bool{}
			out = append(out, &r)
		}
		if who.Valid {
			out[len(out)-1].Votes[who.String] = ok.Bool
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(r *catalog.GrantRequestRecord) uint64 { return r.LogIndex })
	return out, next, nil
}

// DisputePage answers a page of disputes.
func (c *Catalog) DisputePage(ctx context.Context, q catalog.DisputeQuery) ([]*catalog.DisputeRecord, uint64, error) {
	sql, args := disputePageQuery(q)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.DisputeRecord
	for rows.Next() {
		d, err := scanDispute(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(d *catalog.DisputeRecord) uint64 { return d.LogIndex })
	return out, next, nil
}

// proposalPageQuery is the query of ProposalPage: the page (of one asset,
// an index-only scan of proposals_asset_page or _asset_status_page,
// migration 0009), then its approvers joined to it.
func proposalPageQuery(q catalog.ProposalQuery) (string, []any) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	page, args := w.page(`SELECT proposal, asset, status, log_index FROM proposals`, "log_index", q.PageQuery)
	return `WITH page AS (` + page + `)
		SELECT p.proposal, p.asset, p.status, p.log_index, a.approver
		FROM page p LEFT JOIN approvals a ON a.proposal = p.proposal
		ORDER BY p.log_index, a.log_index`, args
}

// ProposalPage answers a page of proposals with their approvers (not the
// envelopes: catalog.Pages), in one query (one round trip): the page, then
// its approvers joined to it from approvals_approvers (migration 0008, an
// index-only scan).
func (c *Catalog) ProposalPage(ctx context.Context, q catalog.ProposalQuery) ([]*catalog.ProposalRecord, uint64, error) {
	sql, args := proposalPageQuery(q)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.ProposalRecord
	var last int64 = -1
	for rows.Next() {
		var id, a pgtype.DriverBytes // parsed, not kept
		var status string
		var idx int64
		var who pgtype.Text
		if err := rows.Scan(&id, &a, &status, &idx, &who); err != nil {
			return nil, 0, err
		}
		if idx != last {
			p := &catalog.ProposalRecord{Status: status, LogIndex: uint64(idx)}
			var err error
			if p.ID, err = asset.ParseID(string(id)); err == nil {
				p.Asset, err = asset.ParseID(string(a))
			}
			if err != nil {
				return nil, 0, fmt.Errorf("catalog: proposal %s: %w", id, err)
			}
			out, last = append(out, p), idx
		}
		if who.Valid {
			p := out[len(out)-1]
			p.Approvers = append(p.Approvers, who.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(p *catalog.ProposalRecord) uint64 { return p.LogIndex })
	return out, next, nil
}
