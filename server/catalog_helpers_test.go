package server

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
)

// Tests read and change the catalog through its roles, never its SQL, so
// that they hold for every backend.

// dumpCount counts the rows of derived state of one kind: the lines of
// the catalog's Dump that start with prefix (e.g. "usage ", "grant ").
func dumpCount(tb testing.TB, c catalog.Checker, prefix string) int {
	tb.Helper()
	lines, err := c.Dump(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return countPrefix(lines, prefix)
}

// operationalCount counts the rows of operational state of one kind:
// the lines of DumpOperational that start with prefix (e.g. "nonces ").
func operationalCount(tb testing.TB, c catalog.Checker, prefix string) int {
	tb.Helper()
	lines, err := c.DumpOperational(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return countPrefix(lines, prefix)
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// injected numbers the entries inject applies: far past any log a test
// writes, so the log never reaches them.
var injected atomic.Uint64

// inject changes the catalog as a log entry would, outside the log: a
// state the log cannot produce (a lineage made under older rules) or a
// bulk seed for a benchmark.
func inject(tb testing.TB, c catalog.Applier, fn func(catalog.Tx) error) {
	tb.Helper()
	if err := c.Update(context.Background(), 1<<40+injected.Add(1), fn); err != nil {
		tb.Fatal(err)
	}
}

// sqliteCatalog is the server's catalog as the SQLite backend, for the
// tests that damage it in ways only that backend offers.
func sqliteCatalog(tb testing.TB, c catalog.Catalog) *catsqlite.Catalog {
	tb.Helper()
	s, ok := c.(*catsqlite.Catalog)
	if !ok {
		tb.Fatalf("this test damages a SQLite catalog; the server's is a %T", c)
	}
	return s
}
