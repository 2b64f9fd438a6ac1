// Package pgtest gives tests and benchmarks a PostgreSQL schema of their
// own on the test server, dropped when they end.
//
// The server is CHARTER_TEST_POSTGRES, or postgres://postgres@127.0.0.1:5432/test
// (what the development machines and .ci/run provide). When it cannot be
// reached a test is skipped with the reason, except under CI=true or when
// CHARTER_TEST_POSTGRES is set: then it fails, so that CI never passes by
// skipping the PostgreSQL backends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSN is the test server's connection string.
func DSN() string {
	if d := os.Getenv("CHARTER_TEST_POSTGRES"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Required reports whether a missing server fails tests instead of
// skipping them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("CHARTER_TEST_POSTGRES") != ""
}

// Connect connects to the test server, or skips (fails when Required).
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, DSN())
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL test server %s unreachable: %v\nhint: start it (.ci/run does) or set CHARTER_TEST_POSTGRES", DSN(), err)
		}
		t.Skipf("skipping: no PostgreSQL test server at %s (%v); start one or set CHARTER_TEST_POSTGRES", DSN(), err)
	}
	return conn
}

// Schema creates a schema with a fresh random name prefix_<hex> and drops
// it, with everything in it, when t ends.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	conn := Connect(t)
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), DSN())
		if err != nil {
			t.Logf("schema %s left behind: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("schema %s left behind: %v", name, err)
		}
	})
	return name
}
