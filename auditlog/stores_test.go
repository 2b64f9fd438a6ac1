package auditlog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera/api/layout"
)

// defaultTestMySQL is the server and user the MySQL tests use unless
// CHARTER_TEST_MYSQL names others (a go-sql-driver DSN without a database;
// the user must be allowed to create databases named charterlog_*).
// .ci/run creates that user on the local MariaDB.
const defaultTestMySQL = "charter:charter@tcp(127.0.0.1:3306)/"

// store is a kind of storage a log can live on: every test that runs over
// stores runs once per driver.
type store struct {
	name string
	// new returns a fresh, empty location for OpenURL.
	new func(t testing.TB) string
	// flipBundleByte flips one byte of entry bundle k behind the log's back.
	flipBundleByte func(t *testing.T, loc string, k uint64, off int)
}

var stores = []store{
	{
		name: "posix",
		new:  func(t testing.TB) string { return t.TempDir() },
		flipBundleByte: func(t *testing.T, dir string, k uint64, off int) {
			flipByte(t, dir, layout.EntriesPath(k, 0), off)
		},
	},
	{
		name: "mysql",
		new:  newMySQLLog,
		flipBundleByte: func(t *testing.T, loc string, k uint64, off int) {
			db := mysqlDB(t, strings.TrimPrefix(loc, SchemeMySQL))
			// MySQL strings count from 1.
			_, err := db.Exec("UPDATE TiledLeaves SET data = CONCAT(SUBSTRING(data, 1, ?), CHAR(ASCII(SUBSTRING(data, ?, 1)) ^ 1), SUBSTRING(data, ?)) WHERE tile_index = ?",
				off, off+1, off+2, k)
			if err != nil {
				t.Fatal(err)
			}
		},
	},
}

// forEachStore runs f as a subtest per store.
func forEachStore(t *testing.T, f func(t *testing.T, st store)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { f(t, st) })
	}
}

// mysqlDB opens dsn and closes it at the end of the test.
func mysqlDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newMySQLLog creates an empty database for one log and drops it at the
// end of the test. Without a reachable server the test is skipped, or
// fails under CI=true.
func newMySQLLog(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CHARTER_TEST_MYSQL")
	if base == "" {
		base = defaultTestMySQL
	}
	admin := mysqlDB(t, base)
	if err := admin.Ping(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MySQL/MariaDB at %s: %v (CI=true: the MySQL log tests must run; .ci/run starts MariaDB)", base, err)
		}
		t.Skipf("no MySQL/MariaDB at %s (%v): set CHARTER_TEST_MYSQL or run .ci/run", base, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "charterlog_t" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	cfg, err := mysqldriver.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return SchemeMySQL + cfg.FormatDSN()
}

// openAt opens the log at loc (OpenURL) and closes it at the end of the
// test.
func openAt(t testing.TB, loc string, s *Signer, opts Options) *Log {
	t.Helper()
	l, err := OpenURL(context.Background(), loc, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}
