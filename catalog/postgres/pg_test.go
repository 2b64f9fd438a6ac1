package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testURL is the test server: CHARTER_TEST_POSTGRES, or the local server
// development machines and CI run.
func testURL() string {
	if u := os.Getenv("CHARTER_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// needPostgres skips the test when no PostgreSQL answers, except under CI
// (CI=true) or when CHARTER_TEST_POSTGRES names a server: then it fails.
func needPostgres(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" || os.Getenv("CHARTER_TEST_POSTGRES") != "" {
		t.Fatalf("PostgreSQL at %s: %v\nhint: .ci/run starts it", testURL(), err)
	}
	t.Skipf("no PostgreSQL at %s (%v): skipping; start one or set CHARTER_TEST_POSTGRES (under CI=true this fails)", testURL(), err)
}

// newSchema returns a fresh schema name, dropped when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	needPostgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "charter_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

// openSchema opens the catalog in schema, closed when the test ends.
func openSchema(t testing.TB, schema string) *Catalog {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	c, err := OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// openTest opens a catalog in a schema of its own.
func openTest(t testing.TB) *Catalog {
	t.Helper()
	return openSchema(t, newSchema(t))
}
