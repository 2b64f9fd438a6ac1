package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestREADME runs the README's walkthrough as written: every ```sh block,
// in order, in one bash script, against a real server, with the charter
// binary on PATH in place of ./charter. A README that drifts from what
// Charter does fails here.
func TestREADME(t *testing.T) { runREADME(t, "", "") }

// TestREADMEPostgres runs the same walkthrough against a server whose
// catalog and ledger are fresh schemas of the PostgreSQL database
// (127.0.0.1:5432, database test; CHARTER_TEST_POSTGRES overrides). It
// skips without PostgreSQL outside CI and fails under CI=true.
func TestREADMEPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("the walkthrough on PostgreSQL runs without -short")
	}
	schema := pgtest.Schema(t, "charter_readme")
	ledgerSchema := pgtest.Schema(t, "charter_readme_ledger")
	withSchema := func(s string) string {
		if url := pgtest.DSN(); strings.Contains(url, "?") {
			return url + "&search_path=" + s
		} else {
			return url + "?search_path=" + s
		}
	}
	// The walkthrough's assets and money must be in PostgreSQL, not in a
	// catalog.db or a ledger.db.
	// testscript runs the script as a parallel subtest, after this
	// function returns: check in a cleanup (it runs before the schema's).
	t.Cleanup(func() {
		conn := pgtest.Connect(t)
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema, "assets"}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("the walkthrough registered no asset in PostgreSQL schema %s", schema)
		}
		var j int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{ledgerSchema, "journal"}.Sanitize()).Scan(&j); err != nil {
			t.Fatal(err)
		}
		if j == 0 {
			t.Fatalf("the walkthrough wrote no ledger journal entry in PostgreSQL schema %s", ledgerSchema)
		}
		t.Logf("%d assets in PostgreSQL schema %s, %d journal entries in %s", n, schema, j, ledgerSchema)
	})
	runREADME(t, withSchema(schema), withSchema(ledgerSchema))
}

// runREADME runs the walkthrough; catalogURL and ledgerURL, when set, are
// the server's --catalog and --ledger.
func runREADME(t *testing.T, catalogURL, ledgerURL string) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no bash")
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) < 5 {
		t.Fatalf("README has %d sh blocks; the walkthrough is missing", len(blocks))
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\nset -x\n")
	for _, b := range blocks {
		script.WriteString(strings.ReplaceAll(b[1], "./charter ", "charter "))
	}
	dir := t.TempDir()
	ts := "startserver\nexec bash walkthrough.sh\n\n-- walkthrough.sh --\n" + script.String()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(ts), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CHARTER_KEY", filepath.Join(e.WorkDir, ".charter", "key"))
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("CHARTER_TEST_CATALOG", catalogURL)
			e.Setenv("CHARTER_TEST_LEDGER", ledgerURL)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"startserver": cmdStartServer,
		},
	})
}
