package testenv

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
)

// DefaultMySQL is the MySQL/MariaDB server tests use when CHARTER_TEST_MYSQL
// names none (what .ci/run and the development machines provide): a
// go-sql-driver DSN without a database.
const DefaultMySQL = "charter:charter@tcp(127.0.0.1:3306)/"

// MySQLLog creates an empty database for one transparency log and drops it
// when t ends, and returns its location for auditlog.OpenURL
// (mysql://DSN). Without a reachable server t is skipped, or fails under
// CI=true or when CHARTER_TEST_MYSQL is set.
func MySQLLog(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CHARTER_TEST_MYSQL")
	required := base != "" || os.Getenv("CI") == "true"
	if base == "" {
		base = DefaultMySQL
	}
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		if required {
			t.Fatalf("MySQL/MariaDB at %s: %v (.ci/run starts MariaDB; CHARTER_TEST_MYSQL names another)", base, err)
		}
		t.Skipf("no MySQL/MariaDB at %s (%v): skipping; set CHARTER_TEST_MYSQL or run .ci/run (under CI=true this fails)", base, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "charterlog_t" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Logf("database %s left behind: %v", name, err)
		}
	})
	cfg, err := mysqldriver.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return "mysql://" + cfg.FormatDSN()
}
