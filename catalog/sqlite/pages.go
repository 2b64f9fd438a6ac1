package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
)

// Pages of lists (catalog.Pages): keyset pagination by log index. Every
// filter, and every pair of filters a list takes, is served by an index
// that ends in log_index, so a page reads the rows it answers and the
// index entries before them, whatever the catalog holds.

// pagesSchema is migration 1: the indexes and the asset_owners table the
// pages read (the single-column indexes on grants and disputes it drops
// were in the schema before). asset_owners holds the owners of each asset as its current
// state names them, with the asset's media type (the owner filter, alone
// or with a media type); it is derived from assets, kept by PutAsset and
// SetState, and not in Dump.
const pagesSchema = `
CREATE INDEX IF NOT EXISTS assets_log_index ON assets(log_index);
CREATE INDEX IF NOT EXISTS assets_media ON assets(media, log_index);
CREATE TABLE IF NOT EXISTS asset_owners (
	owner     TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	asset     TEXT NOT NULL,
	media     TEXT NOT NULL,
	PRIMARY KEY (owner, log_index, asset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_owners_media ON asset_owners(owner, media, log_index);
CREATE INDEX IF NOT EXISTS asset_owners_asset ON asset_owners(asset);
INSERT INTO asset_owners(owner, log_index, asset, media)
	SELECT json_extract(o.value, '$.did'), a.log_index, a.asset, a.media
	FROM assets a, json_each(a.state, '$.owners') o
	WHERE json_extract(o.value, '$.did') IS NOT NULL
	ON CONFLICT DO NOTHING;
CREATE INDEX IF NOT EXISTS grants_log_index ON grants(log_index);
CREATE INDEX IF NOT EXISTS grants_asset_index ON grants(asset, log_index);
CREATE INDEX IF NOT EXISTS grants_licensee_index ON grants(licensee, log_index);
DROP INDEX IF EXISTS grants_asset;
DROP INDEX IF EXISTS grants_licensee;
CREATE INDEX IF NOT EXISTS grant_requests_log_index ON grant_requests(log_index);
CREATE INDEX IF NOT EXISTS grant_requests_status ON grant_requests(status, log_index);
CREATE INDEX IF NOT EXISTS grant_requests_asset ON grant_requests(asset, log_index);
CREATE INDEX IF NOT EXISTS grant_requests_asset_status ON grant_requests(asset, status, log_index);
CREATE INDEX IF NOT EXISTS disputes_log_index ON disputes(log_index);
DROP INDEX IF EXISTS disputes_asset;
CREATE INDEX IF NOT EXISTS disputes_asset_index ON disputes(asset, log_index);
CREATE INDEX IF NOT EXISTS disputes_status ON disputes(status, log_index);
CREATE INDEX IF NOT EXISTS disputes_asset_status ON disputes(asset, status, log_index);
CREATE INDEX IF NOT EXISTS proposals_log_index ON proposals(log_index);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals(status, log_index);
CREATE INDEX IF NOT EXISTS proposals_asset_status ON proposals(asset, status, log_index);
`

// approversSchema is migration 2: the approvers of a page of proposals
// are read from an index that holds them (the approvals rows, with their
// envelopes, are not read).
const approversSchema = `
CREATE INDEX IF NOT EXISTS approvals_approvers ON approvals(proposal, log_index, approver);
`

// coverSchema is migration 3: the pages of one asset's proposals read
// their rows from an index that holds them. The rows of one asset were
// inserted over the whole log, so in the table each sits on a page of its
// own: a page of 100 read ~180 pages scattered over the file; from
// proposals_asset_page it reads ~14 (1,000,000 entry groups). Grants on
// one asset and one licensee together get an index of their own.
//
// (As first landed it also gave grants and disputes covering indexes
// holding their envelopes; migration 4 drops them.)
const coverSchema = `
CREATE INDEX IF NOT EXISTS grants_asset_licensee ON grants(asset, licensee, log_index);
CREATE INDEX IF NOT EXISTS proposals_asset_page ON proposals(asset, log_index, proposal, status);
CREATE INDEX IF NOT EXISTS proposals_asset_status_page ON proposals(asset, status, log_index, proposal);
DROP INDEX IF EXISTS proposals_asset;
DROP INDEX IF EXISTS proposals_asset_status;
`

// uncoverSchema is migration 4: grants and disputes are read from the
// table again. An index entry of SQLite's 4 KiB pages keeps at most ~1,000
// bytes on its page; a grant's row with its envelope is ~1,150 (the
// envelope 970), so every entry put its tail on an overflow page of its
// own: 4 KiB for ~660 bytes (an index of 200,000 grants took 1.2 GB
// instead of 450 MB) and a page of 100 read 135 pages instead of 38. With
// 8 KiB database pages the same index holds them whole (24 pages read,
// 504 MB); catalogs are made with 4 KiB pages (docs/design/catalog.md).
const uncoverSchema = `
DROP INDEX IF EXISTS grants_asset_page;
DROP INDEX IF EXISTS grants_licensee_page;
DROP INDEX IF EXISTS disputes_asset_page;
DROP INDEX IF EXISTS disputes_asset_status_page;
CREATE INDEX IF NOT EXISTS grants_asset_index ON grants(asset, log_index);
CREATE INDEX IF NOT EXISTS grants_licensee_index ON grants(licensee, log_index);
CREATE INDEX IF NOT EXISTS disputes_asset_index ON disputes(asset, log_index);
CREATE INDEX IF NOT EXISTS disputes_asset_status ON disputes(asset, status, log_index);
`

// pageSchema is migration 5: grants and disputes get a column holding
// their envelope's page form (envpage.go: ~700 bytes for a grant's ~970),
// filled by fillPages, which then builds covering indexes over it
// (pageIndexes) in place of the narrow ones: an entry of ~900 bytes stays
// on its 4 KiB index page, so a page of 100 grants of one asset reads
// ~25 index pages instead of one table page per grant.
const pageSchema = `
DROP INDEX IF EXISTS grants_asset_index;
DROP INDEX IF EXISTS grants_licensee_index;
DROP INDEX IF EXISTS disputes_asset_index;
DROP INDEX IF EXISTS disputes_asset_status;
`

const pageIndexes = `
CREATE INDEX IF NOT EXISTS grants_asset_page ON grants(asset, log_index, id, licensee, revoked, page);
CREATE INDEX IF NOT EXISTS grants_licensee_page ON grants(licensee, log_index, id, asset, revoked, page);
CREATE INDEX IF NOT EXISTS disputes_asset_page ON disputes(asset, log_index, id, opener, reason, status, page, resolved);
CREATE INDEX IF NOT EXISTS disputes_asset_status_page ON disputes(asset, status, log_index, id, opener, reason, page, resolved);
`

// fillPages adds the page column to grants and disputes (unless there:
// the step, like the schema, may run again), writes the page form of every
// row's envelope, in rowid order, 10,000 rows a round, then builds the
// covering indexes.
func fillPages(ctx context.Context, tx *sql.Tx) error {
	for _, table := range []string{"grants", "disputes"} {
		var has int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = 'page'`, table).Scan(&has); err != nil {
			return err
		}
		if has == 0 {
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN page BLOB`); err != nil {
				return err
			}
		}
		var last int64
		for {
			rows, err := tx.QueryContext(ctx, `SELECT rowid, envelope FROM `+table+` WHERE rowid > ? ORDER BY rowid LIMIT 10000`, last)
			if err != nil {
				return err
			}
			type row struct {
				id   int64
				page []byte
			}
			var batch []row
			for rows.Next() {
				var r row
				var env sql.RawBytes
				if err := rows.Scan(&r.id, &env); err != nil {
					rows.Close()
					return err
				}
				r.page = pageForm(env)
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			st, err := tx.PrepareContext(ctx, `UPDATE `+table+` SET page = ? WHERE rowid = ?`)
			if err != nil {
				return err
			}
			for _, r := range batch {
				if _, err := st.ExecContext(ctx, r.page, r.id); err != nil {
					st.Close()
					return err
				}
			}
			st.Close()
			last = batch[len(batch)-1].id
		}
	}
	_, err := tx.ExecContext(ctx, pageIndexes)
	return err
}

func init() {
	migrations = append(migrations, pagesSchema, approversSchema, coverSchema, uncoverSchema, pageSchema)
	migrationFills[len(migrations)] = fillPages
}

// putOwners records the owners of an asset registered at index (in
// PutAsset; a duplicate registration, which kept the first, adds none).
func (t *Tx) putOwners(s *asset.State, index uint64) error {
	for _, o := range s.Owners {
		if _, err := t.exec(`INSERT INTO asset_owners(owner, log_index, asset, media)
			SELECT ?, log_index, asset, media FROM assets WHERE asset = ? AND log_index = ? ON CONFLICT DO NOTHING`,
			o.DID.String(), s.Asset.String(), int64(index)); err != nil {
			return fmt.Errorf("catalog: owners of %s: %w", s.Asset, err)
		}
	}
	return nil
}

// setOwners replaces the owners of an asset with those of its new state
// (in SetState).
func (t *Tx) setOwners(s *asset.State) error {
	if _, err := t.exec(`DELETE FROM asset_owners WHERE asset = ?`, s.Asset.String()); err != nil {
		return err
	}
	for _, o := range s.Owners {
		if _, err := t.exec(`INSERT INTO asset_owners(owner, log_index, asset, media)
			SELECT ?, log_index, asset, media FROM assets WHERE asset = ? ON CONFLICT DO NOTHING`,
			o.DID.String(), s.Asset.String()); err != nil {
			return fmt.Errorf("catalog: owners of %s: %w", s.Asset, err)
		}
	}
	return nil
}

// where builds the conditions of a page query: each filter set adds one.
type where struct {
	conds []string
	args  []any
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.conds = append(w.conds, col+" = ?")
		w.args = append(w.args, v)
	}
}

// page finishes a query: from, the filters, log order, one row over limit.
func (w *where) page(sel, idx string, q catalog.PageQuery) (string, []any) {
	conds := append([]string{idx + " >= ?"}, w.conds...)
	args := append([]any{int64(q.From)}, w.args...)
	args = append(args, q.Bound()+1)
	return sel + " WHERE " + strings.Join(conds, " AND ") + " ORDER BY " + idx + " LIMIT ?", args
}

// AssetPage answers a page of assets. The content filter, when set,
// leads (an index on content and log index); else the owner filter (the
// owners table, by owner and media type); else the media type.
func (c *Catalog) AssetPage(ctx context.Context, q catalog.AssetQuery) ([]*catalog.AssetListing, uint64, error) {
	const cols = `SELECT a.state, a.claim, a.priority, a.log_index, a.asset`
	var w where
	var sel, idx string
	switch {
	case q.Content != "":
		sel, idx = cols+` FROM assets a`, "a.log_index"
		w.eq("a.content", q.Content)
		w.eq("a.media", q.MediaType)
		if q.Owner != "" {
			w.conds = append(w.conds, `EXISTS (SELECT 1 FROM asset_owners o WHERE o.owner = ? AND o.log_index = a.log_index AND o.asset = a.asset)`)
			w.args = append(w.args, q.Owner)
		}
	case q.Owner != "":
		// CROSS JOIN: SQLite walks asset_owners first, in index order,
		// and finds each asset by its log index (+: not by its id), whose
		// index is smaller and read in order.
		sel, idx = cols+` FROM asset_owners o CROSS JOIN assets a ON a.log_index = o.log_index AND +a.asset = o.asset`, "o.log_index"
		w.eq("o.owner", q.Owner)
		w.eq("o.media", q.MediaType)
	default:
		sel, idx = cols+` FROM assets a`, "a.log_index"
		w.eq("a.media", q.MediaType)
	}
	query, args := w.page(sel, idx, q.PageQuery)
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	as, err := scanListings(rows)
	if err != nil {
		return nil, 0, err
	}
	as, next := catalog.TrimPage(as, q.Bound(), func(a *catalog.AssetListing) uint64 { return a.LogIndex })
	return as, next, nil
}

// scanListings reads the rows of an asset page (state, claim, priority,
// log index, asset): one allocation for the strings of a row, the state
// not decoded.
func scanListings(rows *sql.Rows) ([]*catalog.AssetListing, error) {
	defer rows.Close()
	var out []*catalog.AssetListing
	var st, claim, prio, id sql.RawBytes
	var idx int64
	for rows.Next() {
		if err := rows.Scan(&st, &claim, &prio, &idx, &id); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		buf := make([]byte, 0, len(st)+len(claim)+len(prio)+len(id))
		buf = append(append(append(append(buf, st...), claim...), prio...), id...)
		s := string(buf[len(st):])
		l := &catalog.AssetListing{State: buf[:len(st):len(st)], LogIndex: uint64(idx)}
		l.Claim, s = s[:len(claim)], s[len(claim):]
		l.Priority, l.Asset = s[:len(prio)], s[len(prio):]
		out = append(out, l)
	}
	return out, rows.Err()
}

// The page queries of grants, disputes and proposals: by asset or
// licensee, each reads one index that holds the page's columns, the
// envelopes in their page form (migrations 3 and 5; TestPagesCovered).

const grantPageCols = `SELECT g.id, g.asset, g.licensee, g.page, g.revoked, g.log_index, COALESCE(u.bytes, 0), COALESCE(u.requests, 0)
	FROM grants g LEFT JOIN grant_usage u ON u.grant = g.id`

func grantPageQuery(q catalog.GrantQuery) (string, []any) {
	var w where
	w.eq("g.asset", q.Asset)
	w.eq("g.licensee", q.Licensee)
	return w.page(grantPageCols, "g.log_index", q.PageQuery)
}

const disputePageCols = `id, asset, opener, reason, status, page, log_index, resolved`

func disputePageQuery(q catalog.DisputeQuery) (string, []any) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	return w.page(`SELECT `+disputePageCols+` FROM disputes`, "log_index", q.PageQuery)
}

// fromPage sets *env to the envelope of a page form; a row written
// without one (by a Charter before migration 5, opening the file after
// it) is read from its table row by get.
func fromPage(env *[]byte, page []byte, get func() ([]byte, error)) error {
	var err error
	if page == nil {
		*env, err = get()
	} else {
		*env, err = pageEnvelope(page)
	}
	return err
}

func proposalPageQuery(q catalog.ProposalQuery) (string, []any) {
	var w where
	w.eq("asset", q.Asset)
	w.eq("status", q.Status)
	return w.page(`SELECT proposal, asset, status, log_index FROM proposals`, "log_index", q.PageQuery)
}

// GrantPage answers a page of grants with what was served under them.
func (c *Catalog) GrantPage(ctx context.Context, q catalog.GrantQuery) ([]*catalog.GrantRecord, uint64, error) {
	query, args := grantPageQuery(q)
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.GrantRecord
	var pages [][]byte
	for rows.Next() {
		var g catalog.GrantRecord
		var page []byte
		var idx int64
		if err := rows.Scan(&g.ID, &g.Asset, &g.Licensee, &page, &g.Revoked, &idx, &g.Bytes, &g.Requests); err != nil {
			return nil, 0, err
		}
		g.LogIndex = uint64(idx)
		out, pages = append(out, &g), append(pages, page)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	for i, g := range out {
		if err := fromPage(&g.Envelope, pages[i], func() ([]byte, error) {
			full, err := c.Grant(ctx, g.ID)
			if err != nil {
				return nil, err
			}
			return full.Envelope, nil
		}); err != nil {
			return nil, 0, fmt.Errorf("catalog: grant %s: %w", g.ID, err)
		}
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
	query, args := w.page(`SELECT id, asset, envelope, decision, status, log_index FROM grant_requests`, "log_index", q.PageQuery)
	rows, err := c.query(ctx, query, args...)
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
	err = c.each(ctx, `SELECT request, approver, approve FROM grant_approvals WHERE request IN `, keys(byID), func(rows *sql.Rows) error {
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
	query, args := disputePageQuery(q)
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []*catalog.DisputeRecord
	var pages [][]byte
	for rows.Next() {
		var d catalog.DisputeRecord
		var page []byte
		var idx, res int64
		if err := rows.Scan(&d.ID, &d.Asset, &d.Opener, &d.Reason, &d.Status, &page, &idx, &res); err != nil {
			return nil, 0, err
		}
		d.LogIndex, d.Resolved = uint64(idx), uint64(res)
		out, pages = append(out, &d), append(pages, page)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	rows.Close()
	for i, d := range out {
		if err := fromPage(&d.Envelope, pages[i], func() ([]byte, error) {
			full, err := c.Dispute(ctx, d.ID)
			if err != nil {
				return nil, err
			}
			return full.Envelope, nil
		}); err != nil {
			return nil, 0, fmt.Errorf("catalog: dispute %s: %w", d.ID, err)
		}
	}
	out, next := catalog.TrimPage(out, q.Bound(), func(d *catalog.DisputeRecord) uint64 { return d.LogIndex })
	return out, next, nil
}

// ProposalPage answers a page of proposals with their approvers (not the
// envelopes: catalog.Pages).
func (c *Catalog) ProposalPage(ctx context.Context, q catalog.ProposalQuery) ([]*catalog.ProposalRecord, uint64, error) {
	query, args := proposalPageQuery(q)
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	var out []*catalog.ProposalRecord
	for rows.Next() {
		p := &catalog.ProposalRecord{}
		var id, a string
		var idx int64
		if err := rows.Scan(&id, &a, &p.Status, &idx); err != nil {
			rows.Close()
			return nil, 0, err
		}
		p.LogIndex = uint64(idx)
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
	// The approvers only, from approvals_approvers (covering: the rows
	// with their envelopes are not read).
	err = c.each(ctx, `SELECT proposal, approver FROM approvals INDEXED BY approvals_approvers WHERE proposal IN `, keys(byID), func(rows *sql.Rows) error {
		var id, who string
		if err := rows.Scan(&id, &who); err != nil {
			return err
		}
		p := byID[id]
		p.Approvers = append(p.Approvers, who)
		return nil
	})
	return out, next, err
}

// each runs query (ending in "IN ") over ids, in log order, calling fn for
// every row; no ids, no query.
func (c *Catalog) each(ctx context.Context, query string, ids []any, fn func(*sql.Rows) error) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := c.rdb.QueryContext(ctx, query+"("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+") ORDER BY log_index", ids...)
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

func keys[V any](m map[string]V) []any {
	out := make([]any, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
