package sqlite

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/catalogtest"
)

// TestPagesUpgrade: a catalog file made before pages (no asset_owners, user
// version 0) is upgraded when opened: the owners of its assets are filled
// in from their states, so the owner filter finds them.
func TestPagesUpgrade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var changes []catalog.Change
	for i := range 5 {
		changes = append(changes, catalogtest.Bench(i).Changes()...)
	}
	for _, err := range c.UpdateSeq(ctx, changes) {
		if err != nil {
			t.Fatal(err)
		}
	}
	owner := catalogtest.Bench(3).Asset.State.Owners[0].DID.String()
	want, _, err := c.AssetPage(ctx, catalog.AssetQuery{Owner: owner})
	if err != nil || len(want) != 1 {
		t.Fatalf("owner %s: %d assets, %v", owner, len(want), err)
	}
	// As an older Charter left the file.
	for _, q := range []string{`DROP TABLE asset_owners`, `DROP INDEX assets_media`, `PRAGMA user_version = 0`} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, _, err := c.AssetPage(ctx, catalog.AssetQuery{Owner: owner, MediaType: catalogtest.Bench(3).Asset.State.Manifest.MediaType})
	if err != nil || len(got) != 1 || got[0].Asset != want[0].Asset {
		t.Fatalf("after the upgrade, owner %s: %d assets, %v", owner, len(got), err)
	}
	var v int
	if err := c.DB().QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("user_version %d, %v; want %d", v, err, len(migrations))
	}
	tables, err := c.Tables(ctx)
	if err != nil || !slices.Contains(tables, "asset_owners") {
		t.Fatalf("tables %v, %v", tables, err)
	}
}

// BenchmarkPages is catalogtest.BenchPages on SQLite, filled through the
// apply path (UpdateSeq, 4,096 entries a call):
//
//	go test ./catalog/sqlite -run XXX -bench Pages -benchtime 400x -timeout 2h
//
// CHARTER_BENCH_DB=/path/catalog.db keeps the filled catalog in that file
// for the next run (which fills only what it lacks).
func BenchmarkPages(b *testing.B) {
	ctx := b.Context()
	path := os.Getenv("CHARTER_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "catalog.db")
	}
	c, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var kept int
	if err := c.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets`).Scan(&kept); err != nil {
		b.Fatal(err)
	}
	catalogtest.BenchPages(b, c, func(from, to int) {
		from = max(from, kept)
		if to-from > 100_000 && os.Getenv("CHARTER_BENCH_APPLY") == "" {
			benchBulk(b, c, from, to)
			return
		}
		var changes []catalog.Change
		flush := func() {
			for _, err := range c.UpdateSeq(ctx, changes) {
				if err != nil {
					b.Fatal(err)
				}
			}
			changes = changes[:0]
		}
		for i := from; i < to; i++ {
			changes = append(changes, catalogtest.Bench(i).Changes()...)
			if len(changes) >= 4096 {
				flush()
			}
		}
		flush() // no ANALYZE: a catalog in use has none either
	})
}

// benchBulk adds entry groups [from, to) the way a bulk load would: the
// rows the apply path writes for the lists, inserted in large
// transactions with the secondary indexes dropped and built again after
// (the apply path, 4,096 entries a call, took over an hour for 1,000,000
// groups on the loaded machine; CHARTER_BENCH_APPLY=1 still uses it).
func benchBulk(b *testing.B, c *Catalog, from, to int) {
	ctx := b.Context()
	// The secondary indexes, as a new catalog has them (a run stopped
	// while loading leaves them dropped here).
	fresh, err := Open(ctx, filepath.Join(b.TempDir(), "fresh.db"))
	if err != nil {
		b.Fatal(err)
	}
	rows, err := fresh.db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('assets', 'asset_owners', 'grants', 'disputes', 'proposals', 'approvals')`)
	if err != nil {
		b.Fatal(err)
	}
	var names, creates []string
	for rows.Next() {
		var n, q string
		if err := rows.Scan(&n, &q); err != nil {
			b.Fatal(err)
		}
		names, creates = append(names, n), append(creates, strings.Replace(q, "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
	}
	rows.Close()
	fresh.Close()
	conn, err := c.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{`PRAGMA cache_size = -2000000`, `PRAGMA synchronous = OFF`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range names {
		if _, err := conn.ExecContext(ctx, `DROP INDEX IF EXISTS `+n); err != nil {
			b.Fatal(err)
		}
	}
	env := string(catalogtest.BenchEnvelope())
	page := pageForm(catalogtest.BenchEnvelope())
	const chunk = 50_000
	for lo := from; lo < to; lo += chunk {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		exec := func(q string, args ...any) {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
		}
		for i := lo; i < min(lo+chunk, to); i++ {
			g := catalogtest.Bench(i)
			st := g.Asset.State
			j, err := json.Marshal(st)
			if err != nil {
				b.Fatal(err)
			}
			a, m := st.Asset.String(), st.Manifest
			exec(`INSERT INTO assets(asset, content, state, claim, priority, log_index, name, media) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				a, m.Content.String(), string(j), g.Asset.Claim, g.Asset.Priority.String(), int64(g.Asset.LogIndex), m.Name, m.MediaType)
			for _, o := range st.Owners {
				exec(`INSERT INTO asset_owners(owner, log_index, asset, media) VALUES (?, ?, ?, ?)`, o.DID.String(), int64(g.Asset.LogIndex), a, m.MediaType)
			}
			exec(`INSERT INTO grants(id, asset, licensee, envelope, revoked, log_index, page) VALUES (?, ?, ?, ?, 0, ?, ?)`, g.GrantID, g.GrantAsset, g.Licensee, env, int64(g.GrantIndex), page)
			var resolved int64
			if g.DisputeStatus != "open" {
				resolved = int64(g.DisputeIndex)
			}
			exec(`INSERT INTO disputes(id, asset, opener, reason, status, envelope, log_index, resolved, page) VALUES (?, ?, ?, 'bench', ?, ?, ?, ?, ?)`,
				g.DisputeID, g.DisputeAsset, g.Licensee, g.DisputeStatus, env, int64(g.DisputeIndex), resolved, page)
			exec(`INSERT INTO proposals(proposal, asset, envelope, status, log_index) VALUES (?, ?, ?, ?, ?)`, g.Proposal.String(), g.ProposalAsset.String(), env, g.ProposalStatus, int64(g.ProposalIndex))
			exec(`INSERT INTO approvals(proposal, approver, envelope, log_index) VALUES (?, ?, ?, ?)`, g.Proposal.String(), g.Licensee, env, int64(g.ProposalIndex))
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range creates {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPagesCovered: a page of one asset's (or licensee's) grants,
// disputes or proposals reads one index that holds its rows (migrations 3
// and 5), in their order (no sort), not the table, whose rows of one
// asset lie scattered over the file.
func TestPagesCovered(t *testing.T) {
	ctx := t.Context()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g := catalogtest.Bench(1)
	page := catalog.PageQuery{From: 7, Limit: 100}
	for _, tc := range []struct {
		name, index string
		query       string
		args        []any
	}{
		{name: "grants/asset", index: "COVERING INDEX grants_asset_page "},
		{name: "grants/licensee", index: "COVERING INDEX grants_licensee_page "},
		{name: "disputes/asset", index: "COVERING INDEX disputes_asset_page "},
		{name: "disputes/asset+status", index: "COVERING INDEX disputes_asset_status_page "},
		{name: "proposals/asset", index: "COVERING INDEX proposals_asset_page "},
		{name: "proposals/asset+status", index: "COVERING INDEX proposals_asset_status_page "},
	} {
		switch tc.name {
		case "grants/asset":
			tc.query, tc.args = grantPageQuery(catalog.GrantQuery{PageQuery: page, Asset: g.GrantAsset})
		case "grants/licensee":
			tc.query, tc.args = grantPageQuery(catalog.GrantQuery{PageQuery: page, Licensee: g.Licensee})
		case "disputes/asset":
			tc.query, tc.args = disputePageQuery(catalog.DisputeQuery{PageQuery: page, Asset: g.DisputeAsset})
		case "disputes/asset+status":
			tc.query, tc.args = disputePageQuery(catalog.DisputeQuery{PageQuery: page, Asset: g.DisputeAsset, Status: "open"})
		case "proposals/asset":
			tc.query, tc.args = proposalPageQuery(catalog.ProposalQuery{PageQuery: page, Asset: g.ProposalAsset.String()})
		case "proposals/asset+status":
			tc.query, tc.args = proposalPageQuery(catalog.ProposalQuery{PageQuery: page, Asset: g.ProposalAsset.String(), Status: "pending"})
		}
		rows, err := c.rdb.QueryContext(ctx, `EXPLAIN QUERY PLAN `+tc.query, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "USING "+tc.index) || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want a scan of %s in its order", tc.name, all, tc.index)
		}
	}
}

// TestCoverUpgrade: a catalog file at user version 3 as first landed
// (covering indexes of grants and disputes holding envelopes) loses them
// when opened (migration 4) and gets covering indexes holding the
// envelopes' page form (migration 5, which fills the new column), and
// answers the same pages; TestPagesUpgrade runs every migration from
// version 0.
func TestCoverUpgrade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var changes []catalog.Change
	for i := range 2000 {
		changes = append(changes, catalogtest.Bench(i).Changes()...)
	}
	for _, err := range c.UpdateSeq(ctx, changes) {
		if err != nil {
			t.Fatal(err)
		}
	}
	g := catalogtest.Bench(5)
	pages := func(c *Catalog) string {
		gs, _, err := c.GrantPage(ctx, catalog.GrantQuery{PageQuery: catalog.PageQuery{Limit: 100}, Licensee: g.Licensee})
		if err != nil {
			t.Fatal(err)
		}
		ds, _, err := c.DisputePage(ctx, catalog.DisputeQuery{PageQuery: catalog.PageQuery{Limit: 100}, Asset: g.DisputeAsset, Status: "open"})
		if err != nil {
			t.Fatal(err)
		}
		ps, _, err := c.ProposalPage(ctx, catalog.ProposalQuery{PageQuery: catalog.PageQuery{Limit: 100}, Asset: g.ProposalAsset.String()})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal([]any{gs, ds, ps})
		return string(b)
	}
	// Half the grants and disputes carry an envelope that is not DSSE
	// JSON (kept as it is in the page column); the others the bench's, a
	// real one.
	real, odd := catalogtest.BenchEnvelope(), []byte(strings.Repeat("e", 700))
	for _, q := range []string{`UPDATE grants SET envelope = ?, page = ? WHERE rowid % 2 = 0`, `UPDATE disputes SET envelope = ?, page = ? WHERE rowid % 2 = 0`} {
		if _, err := c.DB().ExecContext(ctx, q, string(odd), pageForm(odd)); err != nil {
			t.Fatal(err)
		}
	}
	want := pages(c)
	if !strings.Contains(want, base64.StdEncoding.EncodeToString(real)) || !strings.Contains(want, base64.StdEncoding.EncodeToString(odd)) {
		t.Fatal("the pages compared lack a real or an odd envelope")
	}
	// As migration 3 first landed left the file (covering indexes of
	// grants and disputes, which migration 4 drops; no page column).
	for _, q := range []string{
		`DROP INDEX grants_asset_page`, `DROP INDEX grants_licensee_page`,
		`DROP INDEX disputes_asset_page`, `DROP INDEX disputes_asset_status_page`,
		`ALTER TABLE grants DROP COLUMN page`, `ALTER TABLE disputes DROP COLUMN page`,
		`CREATE INDEX grants_asset_page ON grants(asset, log_index, id, licensee, revoked, envelope)`,
		`CREATE INDEX grants_licensee_page ON grants(licensee, log_index, id, asset, revoked, envelope)`,
		`CREATE INDEX disputes_asset_page ON disputes(asset, log_index, id, opener, reason, status, envelope, resolved)`,
		`CREATE INDEX disputes_asset_status_page ON disputes(asset, status, log_index, id, opener, reason, envelope, resolved)`,
		`PRAGMA user_version = 3`,
	} {
		if _, err := c.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := pages(c); got != want {
		t.Fatalf("pages after the upgrade differ:\n%s\nwant\n%s", got, want)
	}
	var compact int
	if err := c.DB().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM grants WHERE substr(page, 1, 1) = x'01') + (SELECT COUNT(*) FROM disputes WHERE substr(page, 1, 1) = x'01')`).Scan(&compact); err != nil || compact != 2000 {
		t.Fatalf("%d rows in the compact page form (%v), want 2,000", compact, err)
	}
	rows, err := c.DB().QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('grants', 'disputes', 'proposals') AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	wantNames := []string{"disputes_asset_page", "disputes_asset_status_page", "disputes_log_index", "disputes_status",
		"grants_asset_licensee", "grants_asset_page", "grants_licensee_page", "grants_log_index",
		"proposals_asset_page", "proposals_asset_status_page", "proposals_log_index", "proposals_status"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("indexes %q, want %q", names, wantNames)
	}
}
