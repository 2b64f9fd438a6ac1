package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
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

// Schemas are costly to create (thirty tables and their indexes), so a
// test's schema is emptied at its end and handed to the next test; the
// last ones are dropped when the tests end (TestMain).
var (
	freeMu  sync.Mutex
	free    []string // emptied schemas, ready for reuse
	created []string // every schema this process created
)

// newSchema returns a schema of its own for the test, created or reused
// empty.
func newSchema(t testing.TB) string {
	t.Helper()
	needPostgres(t)
	freeMu.Lock()
	var schema string
	if n := len(free); n > 0 {
		schema, free = free[n-1], free[:n-1]
	} else {
		b := make([]byte, 6)
		rand.Read(b)
		schema = "charter_test_" + hex.EncodeToString(b)
		created = append(created, schema)
	}
	freeMu.Unlock()
	t.Cleanup(func() {
		if err := emptySchema(schema); err != nil {
			t.Logf("emptying test schema %s: %v", schema, err)
			return
		}
		freeMu.Lock()
		free = append(free, schema)
		freeMu.Unlock()
	})
	return schema
}

// emptySchema deletes every row of the schema's tables but its migration
// record (so that reopening it finds it migrated).
func emptySchema(schema string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`, schema)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		return err
	}
	q := make([]string, len(tables))
	for i, tb := range tables {
		q[i] = pgx.Identifier{schema, tb}.Sanitize()
	}
	_, err = conn.Exec(ctx, `TRUNCATE `+strings.Join(q, ", ")+` RESTART IDENTITY`)
	return err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if len(created) > 0 {
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, testURL()); err == nil {
			for _, s := range created {
				conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{s}.Sanitize()+` CASCADE`)
			}
			conn.Close(ctx)
		}
	}
	os.Exit(code)
}

// openSchema opens the catalog in schema, closed when the test ends.
func openSchema(t testing.TB, schema string) *Catalog {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	// Tests do not test durability: commits need not wait for the disk.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
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
