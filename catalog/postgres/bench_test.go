package postgres

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/charter-dev/charter/catalog/catalogtest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkPages is catalogtest.BenchPages on PostgreSQL, filled through
// COPY (the bulk path), 50,000 entry groups at a time:
//
//	go test ./catalog/postgres -run XXX -bench Pages -benchtime 400x -timeout 2h
//
// CHARTER_BENCH_SCHEMA=name keeps the filled catalog in that schema for the
// next run (which fills only what it lacks); drop it when done.
func BenchmarkPages(b *testing.B) {
	var c *Catalog
	kept := 0
	if name := os.Getenv("CHARTER_BENCH_SCHEMA"); name != "" {
		needPostgres(b)
		conn, err := pgx.Connect(b.Context(), testURL())
		if err != nil {
			b.Fatal(err)
		}
		_, err = conn.Exec(b.Context(), `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{name}.Sanitize())
		conn.Close(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		c = openSchema(b, name)
		if err := c.pool.QueryRow(b.Context(), `SELECT COUNT(*) FROM assets`).Scan(&kept); err != nil {
			b.Fatal(err)
		}
	} else {
		c = openTest(b)
	}
	catalogtest.BenchPages(b, c, func(from, to int) {
		if from = max(from, kept); from < to {
			benchFill(b, c, from, to)
		}
	})
}

// benchFill adds entry groups [from, to) through COPY.
func benchFill(b testing.TB, c *Catalog, from, to int) {
	ctx := b.Context()
	env := string(catalogtest.BenchEnvelope())
	const chunk = 50_000
	for lo := from; lo < to; lo += chunk {
		hi := min(lo+chunk, to)
		var assets, owners, grants, disputes, proposals, approvals [][]any
		for i := lo; i < hi; i++ {
			g := catalogtest.Bench(i)
			st := g.Asset.State
			j, err := json.Marshal(st)
			if err != nil {
				b.Fatal(err)
			}
			a, m := st.Asset.String(), st.Manifest
			assets = append(assets, []any{a, m.Content.String(), string(j), g.Asset.Claim, g.Asset.Priority.String(), int64(g.Asset.LogIndex), m.Name, m.MediaType})
			for _, o := range st.Owners {
				owners = append(owners, []any{o.DID.String(), int64(g.Asset.LogIndex), a, m.MediaType})
			}
			grants = append(grants, []any{g.GrantID, g.GrantAsset, g.Licensee, env, false, int64(g.GrantIndex)})
			var resolved int64
			if g.DisputeStatus != "open" {
				resolved = int64(g.DisputeIndex)
			}
			disputes = append(disputes, []any{g.DisputeID, g.DisputeAsset, g.Licensee, "bench", g.DisputeStatus, env, int64(g.DisputeIndex), resolved})
			proposals = append(proposals, []any{g.Proposal.String(), g.ProposalAsset.String(), env, g.ProposalStatus, int64(g.ProposalIndex)})
			approvals = append(approvals, []any{g.Proposal.String(), g.Licensee, env, int64(g.ProposalIndex)})
		}
		for _, t := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"assets", []string{"asset", "content", "state", "claim", "priority", "log_index", "name", "media"}, assets},
			{"asset_owners", []string{"owner", "log_index", "asset", "media"}, owners},
			{"grants", []string{"id", "asset", "licensee", "envelope", "revoked", "log_index"}, grants},
			{"disputes", []string{"id", "asset", "opener", "reason", "status", "envelope", "log_index", "resolved"}, disputes},
			{"proposals", []string{"proposal", "asset", "envelope", "status", "log_index"}, proposals},
			{"approvals", []string{"proposal", "approver", "envelope", "log_index"}, approvals},
		} {
			if _, err := c.pool.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				b.Fatalf("copy into %s: %v", t.table, err)
			}
		}
	}
	for _, t := range []string{"assets", "asset_owners", "grants", "disputes", "proposals", "approvals"} {
		if _, err := c.pool.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
			b.Fatal(err)
		}
	}
}
