package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestAdminCatalogPostgres runs `charter serve --catalog postgres://…`,
// publishes an asset, stops the server, and then, as an operator would:
// `admin rebuild --catalog` replays the folder's log into PostgreSQL
// (keeping the old schema), `admin check --catalog` finds the rebuilt
// catalog equal to the log, and finds a row deleted by hand. Without
// PostgreSQL it skips, except under CI=true.
func TestAdminCatalogPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server on PostgreSQL; not with -short")
	}
	schema := pgtest.Schema(t, "charter_admin")
	url := pgtest.DSN()
	if strings.Contains(url, "?") {
		url += "&search_path=" + schema
	} else {
		url += "?search_path=" + schema
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		var errb bytes.Buffer
		env := &Env{Server: "http://127.0.0.1:1", Key: filepath.Join(dir, "unused"), Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb}
		code := runArgs(ctx, env, []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--catalog", url, "--scrub-interval", "0", "--settle-interval", "0"})
		if code != 0 {
			t.Log(errb.String())
		}
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "charter serving") {
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
		t.Fatal(stderr)
	}
	file := filepath.Join(dir, "notes.txt")
	os.WriteFile(file, []byte("rebuilt into PostgreSQL"), 0o644)
	if code, out, stderr := cli("publish", file, "--name", "notes", "--license", "open"); code != 0 {
		t.Fatalf("publish: %s %s", out, stderr)
	}
	cancel()
	<-done

	code, out, stderr := runCLI(context.Background(), "admin", "rebuild", "--data", data, "--catalog", url, "--json")
	if code != 0 {
		t.Fatalf("admin rebuild --catalog: %s %s", out, stderr)
	}
	var rep struct {
		Old string `json:"old_catalog"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !strings.HasPrefix(rep.Old, schema+"_old_") {
		t.Fatalf("rebuild report %s: %v (want the old schema kept)", out, err)
	}
	conn := pgtest.Connect(t)
	defer conn.Close(context.Background())
	t.Cleanup(func() {
		c := pgtest.Connect(t)
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{rep.Old}.Sanitize()+` CASCADE`)
	})
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "assets"}.Sanitize()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d assets in the rebuilt schema (%v), want 1", n, err)
	}
	if code, out, stderr := runCLI(context.Background(), "admin", "check", "--data", data, "--catalog", url); code != 0 || !strings.Contains(out, "catalog matches the log") {
		t.Fatalf("admin check --catalog after the rebuild: %d %s %s", code, out, stderr)
	}
	if _, err := conn.Exec(context.Background(), `DELETE FROM `+pgx.Identifier{schema, "trail"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(context.Background(), "admin", "check", "--data", data, "--catalog", url)
	if code == 0 || !strings.Contains(out, "missing or changed: trail ") || !strings.Contains(stderr, "--catalog <the same URL>") {
		t.Fatalf("admin check after a row was deleted: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCLI(context.Background(), "admin", "rebuild", "--data", data, "--catalog", "mysql://x"); code == 0 || !strings.Contains(stderr, "not a catalog URL") {
		t.Fatalf("admin rebuild --catalog mysql://: %d %s", code, stderr)
	}
}
