package server

import (
	"testing"

	"github.com/charter-dev/charter/catalog/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkGrantsPostgres runs BenchmarkGrants' load (1,024 clients, each
// grant answered with both inclusion proofs) on a server whose catalog is
// PostgreSQL, and on the embedded SQLite catalog in the same run, and
// reports both and their ratio. Target (issue 11): PostgreSQL ≥ 0.5× SQLite.
//
//	go test ./server -run '^$' -bench GrantsPostgres -benchtime 4000x
func BenchmarkGrantsPostgres(b *testing.B) {
	schema := pgtest.Schema(b, "charter_bench")
	cfg, err := pgxpool.ParseConfig(pgtest.DSN())
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pg, err := postgres.OpenConfig(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	_, hsPG, _, aidPG, _, _ := licensedFixtureOn(b, pg, 1024, "research-only")
	_, hsSQ, _, aidSQ, _, _ := licensedFixture(b, 1024, "research-only")
	runGrants(b, hsSQ, aidSQ, 256) // warm both up
	runGrants(b, hsPG, aidPG, 256)
	b.ResetTimer()
	_, sq := runGrants(b, hsSQ, aidSQ, b.N)
	_, pgRate := runGrants(b, hsPG, aidPG, b.N)
	b.StopTimer()
	b.ReportMetric(sq, "sqlite-grants/s")
	b.ReportMetric(pgRate, "postgres-grants/s")
	b.ReportMetric(pgRate/sq, "ratio")
}
