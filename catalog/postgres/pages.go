package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
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
		return w.page(cols+` FROM asset_owners o JOIN assets a ON a.asset = o.asset`, "o.log_index", q.PageQuery)
	}
	w.eq("a.media", q.MediaType)
	return w.page(cols+` FROM assets a`, "a.log_index", q.PageQuery)
}

// AssetPage answers a page of assets.
func (c *Catalog) AssetPage(ctx context.Context, q catalog.AssetQuery) ([]*catalog.AssetRecord, uint64, error) {
	sql, args := assetPageQuery(q)
	as, err := assetList(ctx, c.pool, sql, args...)
	if err != nil {
		return nil, 0, err
	}
	as, next := catalog.TrimPage(as, q.Bound(), func(a *catalog.AssetRecord) uint64 { return a.LogIndex })
	return as, next, nil
}

// GrantPage answers a page of grants with what was served under them.
func (c *Catalog) GrantPage(ctx context.Context, q catalog.GrantQuery) ([]*catalog.GrantRecord, uint64, error) {
	var w where
	w.eq("g.asset", q.Asset)
	w.eq("g.licensee", q.Licensee)
	sql, args := w.page(grantQuery, "g.log_index", q.PageQuery)
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
// votes.
func (c *Catalog) GrantRequestPage(ctx context.Context, q catalog.GrantRequestQuery) ([]*catalog.GrantRequestRecord, uint64, error) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	sql, args := w.page(`SELECT id, asset, envelope, decision, status, log_index FROM grant_requests`, "log_index", q.PageQuery)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	var out []*catalog.GrantRequestRecord
	for rows.Next() {
		r := &catalog.GrantRequestRecord{Votes: map[string]bool{}}
		var env string
		var dec, idx int64
		if err := rows.Scan(&r.ID, &r.Asset, &env, &dec, &r.Status, &idx); err != nil {
			rows.Close()
			return nil, 0, err
		}
		r.Envelope, r.Decision, r.LogIndex = []byte(env), uint64(dec), uint64(idx)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(r *catalog.GrantRequestRecord) uint64 { return r.LogIndex })
	byID := map[string]*catalog.GrantRequestRecord{}
	for _, r := range out {
		byID[r.ID] = r
	}
	err = each(ctx, c.pool, `SELECT request, approver, approve FROM grant_approvals WHERE request = ANY($1) ORDER BY log_index`, byID, func(rows pgx.Rows) error {
		var id, who string
		var ok bool
		if err := rows.Scan(&id, &who, &ok); err != nil {
			return err
		}
		byID[id].Votes[who] = ok
		return nil
	})
	return out, next, err
}

// DisputePage answers a page of disputes.
func (c *Catalog) DisputePage(ctx context.Context, q catalog.DisputeQuery) ([]*catalog.DisputeRecord, uint64, error) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	sql, args := w.page(`SELECT `+disputeCols+` FROM disputes`, "log_index", q.PageQuery)
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

// ProposalPage answers a page of proposals with their approvals.
func (c *Catalog) ProposalPage(ctx context.Context, q catalog.ProposalQuery) ([]*catalog.ProposalRecord, uint64, error) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	sql, args := w.page(`SELECT proposal, asset, envelope, status, log_index FROM proposals`, "log_index", q.PageQuery)
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	var out []*catalog.ProposalRecord
	for rows.Next() {
		p := &catalog.ProposalRecord{}
		var id, a, env string
		var idx int64
		if err := rows.Scan(&id, &a, &env, &p.Status, &idx); err != nil {
			rows.Close()
			return nil, 0, err
		}
		p.Envelope, p.LogIndex = []byte(env), uint64(idx)
		if p.ID, err = asset.ParseID(id); err == nil {
			p.Asset, err = asset.ParseID(a)
		}
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("catalog: proposal %s: %w", id, err)
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(p *catalog.ProposalRecord) uint64 { return p.LogIndex })
	byID := map[string]*catalog.ProposalRecord{}
	for _, p := range out {
		byID[p.ID.String()] = p
	}
	err = each(ctx, c.pool, `SELECT proposal, approver, envelope FROM approvals WHERE proposal = ANY($1) ORDER BY log_index`, byID, func(rows pgx.Rows) error {
		var id, who, env string
		if err := rows.Scan(&id, &who, &env); err != nil {
			return err
		}
		p := byID[id]
		p.Approvers = append(p.Approvers, who)
		p.Approvals = append(p.Approvals, []byte(env))
		return nil
	})
	return out, next, err
}

// each runs query over the keys of ids (its $1), calling fn for every row;
// no ids, no query.
func each[V any](ctx context.Context, q querier, query string, ids map[string]V, fn func(pgx.Rows) error) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	rows, err := q.Query(ctx, query, keys)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
