package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charter-dev/charter/internal/testenv"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestAdminBackends runs `charter serve` on stores outside the data
// folder (catalog and ledger in PostgreSQL, the log in MariaDB, the blobs
// in a folder of their own, the keys made by `admin keys`), all named in a
// config file, publishes, stops the server, and then, as an operator
// would, runs the admin commands with the same settings each way serve
// takes them: `admin rebuild --config` replays the MariaDB log into the
// PostgreSQL catalog, `admin check` with flags finds it equal to the log
// and later finds a row deleted by hand, and `admin rebuild` with
// CHARTER_* variables repairs it. Before, rebuild took --catalog alone and
// rebuilt from the data folder's log, which a deployment on these stores
// does not have. Without PostgreSQL or MariaDB it skips, except under
// CI=true.
func TestAdminBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server on PostgreSQL and MariaDB; not with -short")
	}
	pgURL := func(schema string) string {
		u := pgtest.DSN()
		if strings.Contains(u, "?") {
			return u + "&search_path=" + schema
		}
		return u + "?search_path=" + schema
	}
	catSchema := pgtest.Schema(t, "charter_corefin_cat")
	cat, ldg := pgURL(catSchema), pgURL(pgtest.Schema(t, "charter_corefin_ldg"))
	mysqlLog := testenv.MySQLLog(t)
	t.Cleanup(func() {
		// Each rebuild keeps the catalog it replaced as <schema>_old_<time>.
		c := pgtest.Connect(t)
		defer c.Close(context.Background())
		rows, err := c.Query(context.Background(), `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, catSchema+"_old_")
		if err != nil {
			return
		}
		old, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, s := range old {
			c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{s}.Sanitize()+` CASCADE`)
		}
	})

	dir := t.TempDir()
	data, scratch, blobs, keys := filepath.Join(dir, "data"), filepath.Join(dir, "scratch"), filepath.Join(dir, "blobs"), filepath.Join(dir, "keys")
	if code, out, stderr := runCLI(context.Background(), "admin", "keys", "--out", keys); code != 0 {
		t.Fatalf("admin keys: %s %s", out, stderr)
	}
	config := filepath.Join(dir, "charter.toml")
	// listen and the intervals are settings of serve alone: the admin
	// commands skip them.
	toml := fmt.Sprintf("catalog = %q\nledger = %q\nlog = %q\nblobs = %q\nserver-key = %q\nlog-key = %q\nlisten = \"127.0.0.1:0\"\nscrub-interval = \"0\"\nsettle-interval = \"0\"\n",
		cat, ldg, mysqlLog, blobs, filepath.Join(keys, "server.key"), filepath.Join(keys, "log.key"))
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		var errb bytes.Buffer
		env := &Env{Server: "http://127.0.0.1:1", Key: filepath.Join(dir, "unused"), Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb}
		code := runArgs(ctx, env, []string{"serve", "--config", config, "--data", data})
		if code != 0 {
			t.Log(errb.String())
		}
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "charter serving") {
		cancel()
		t.Fatalf("serve: %q %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &Env{Server: addr, Key: filepath.Join(dir, "key"), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
		return runArgs(context.Background(), env, args), out.String(), errb.String()
	}
	if code, _, stderr := cli("key", "new"); code != 0 {
		cancel()
		t.Fatal(stderr)
	}
	for i, lic := range []string{"open", "research-only"} {
		file := filepath.Join(dir, fmt.Sprintf("notes%d.txt", i))
		os.WriteFile(file, []byte(fmt.Sprintf("rebuilt from MariaDB into PostgreSQL, %d", i)), 0o644)
		if code, out, stderr := cli("publish", file, "--name", fmt.Sprintf("notes %d", i), "--license", lic); code != 0 {
			cancel()
			t.Fatalf("publish: %s %s", out, stderr)
		}
	}
	cancel()
	<-done
	if _, err := os.Stat(filepath.Join(data, "log")); err == nil {
		t.Fatal("the server wrote a log into the data folder: the test would not tell the stores apart")
	}

	conn := pgtest.Connect(t)
	defer conn.Close(context.Background())
	count := func(table string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{catSchema, table}.Sanitize()).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", table, err)
		}
		return n
	}

	// Rebuild with the config file, into a scratch data folder (the
	// admin commands' lock): the catalog is replaced by one replayed
	// from the MariaDB log, the old one kept.
	code, out, stderr := runCLI(context.Background(), "admin", "rebuild", "--config", config, "--data", scratch, "--json")
	if code != 0 {
		t.Fatalf("admin rebuild --config: %s %s", out, stderr)
	}
	var rep struct {
		Old string `json:"old_catalog"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !strings.HasPrefix(rep.Old, catSchema+"_old_") {
		t.Fatalf("rebuild report %s: %v (want the old schema kept)", out, err)
	}
	if n := count("assets"); n != 2 {
		t.Fatalf("%d assets in the rebuilt catalog, want 2", n)
	}

	// Check with flags: the rebuilt catalog equals the log, and the
	// ledger in PostgreSQL verifies against it.
	flags := []string{"--data", scratch, "--catalog", cat, "--ledger", ldg, "--log", mysqlLog, "--blobs", blobs,
		"--server-key", filepath.Join(keys, "server.key"), "--log-key", filepath.Join(keys, "log.key")}
	if code, out, stderr := runCLI(context.Background(), append([]string{"admin", "check"}, flags...)...); code != 0 || !strings.Contains(out, "catalog matches the log") {
		t.Fatalf("admin check with flags after the rebuild: %d %s %s", code, out, stderr)
	}
	if _, err := conn.Exec(context.Background(), `DELETE FROM `+pgx.Identifier{catSchema, "trail"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(context.Background(), append([]string{"admin", "check"}, flags...)...)
	if code == 0 || !strings.Contains(out, "missing or changed: trail ") || !strings.Contains(stderr, "charter admin rebuild with the same backends") {
		t.Fatalf("admin check after a row was deleted: %d %s %s", code, out, stderr)
	}

	// Rebuild with CHARTER_* variables (the settings serve reads from its
	// environment) puts the row back.
	for k, v := range map[string]string{"catalog": cat, "ledger": ldg, "log": mysqlLog, "blobs": blobs,
		"server-key": filepath.Join(keys, "server.key"), "log-key": filepath.Join(keys, "log.key")} {
		t.Setenv(envName(k), v)
	}
	if code, out, stderr := runCLI(context.Background(), "admin", "rebuild", "--data", scratch); code != 0 || !strings.Contains(out, "catalog rebuilt from the log and blobs in the stores given") {
		t.Fatalf("admin rebuild with CHARTER_* variables: %d %s %s", code, out, stderr)
	}
	if count("trail") == 0 {
		t.Fatal("the rebuild with CHARTER_* variables did not restore the trail")
	}
	if code, out, stderr := runCLI(context.Background(), "admin", "check", "--data", scratch); code != 0 || !strings.Contains(out, "catalog matches the log") {
		t.Fatalf("admin check with CHARTER_* variables after the second rebuild: %d %s %s", code, out, stderr)
	}
}
