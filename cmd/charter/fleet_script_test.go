package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/internal/testenv"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// TestThreeReplicasScript runs docs/examples/three-replicas.sh as
// docs/operations.md tells an operator to: start, use the three replicas
// (publish at one, read at another), stop. The script starts versitygw
// itself; PostgreSQL and MariaDB are the test servers.
func TestThreeReplicasScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs without -short")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(t, "curl (the script waits for the servers with it)", "apt-get install curl")
	}
	vgw := testenv.Versitygw(t)
	conn := pgtest.Connect(t)
	conn.Close(context.Background())
	prefix := fmt.Sprintf("charter_script_%06x", rand.IntN(1<<24))
	t.Cleanup(func() {
		c := pgtest.Connect(t)
		defer c.Close(context.Background())
		for _, s := range []string{prefix + "_catalog", prefix + "_ledger"} {
			if _, err := c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				t.Logf("schema %s left behind: %v", s, err)
			}
		}
	})
	logURL := testenv.MySQLLog(t)
	mcfg, err := mysqldriver.ParseDSN(strings.TrimPrefix(logURL, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	logDB := mcfg.DBName
	mcfg.DBName = ""
	bin := buildCharter(t)
	port := freeRun(t, 4)
	work := t.TempDir()
	script, err := filepath.Abs("../../docs/examples/three-replicas.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "WORK="+work, "CHARTER="+bin, "VERSITYGW="+vgw, "PG="+pgtest.DSN(),
		"PREFIX="+prefix, "MYSQL="+mcfg.FormatDSN(), "LOGDB="+logDB, fmt.Sprint("PORT=", port))
	run := func(arg string) string {
		cmd := exec.Command("bash", script, arg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("three-replicas.sh %s: %v\n%s", arg, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(work, "pids")); err == nil {
			run("stop")
		}
	})
	out := run("start")
	t.Logf("three-replicas.sh start:\n%s", out)
	for i := 1; i <= 3; i++ {
		if !strings.Contains(out, fmt.Sprintf("replica %d: http://127.0.0.1:%d", i, port+i)) {
			t.Fatalf("start did not report replica %d", i)
		}
	}

	// Publish at replica 1; replica 3 shows the asset, replica 2 serves
	// its bytes.
	home := t.TempDir()
	cli := func(server int, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "HOME="+home, "CHARTER_STATE="+filepath.Join(home, "state"),
			"CHARTER_KEY="+filepath.Join(home, "key"), fmt.Sprintf("CHARTER_SERVER=http://127.0.0.1:%d", port+server))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("charter %s (replica %d): %v\n%s%s", strings.Join(args, " "), server, err, out, stderr.String())
		}
		return string(out)
	}
	cli(1, "key", "new")
	if err := os.WriteFile(filepath.Join(home, "data.txt"), []byte("three replicas, one log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var pub struct {
		Asset string `json:"asset"`
	}
	if err := json.Unmarshal([]byte(cli(1, "publish", "data.txt", "--name", "data", "--license", "open", "--json")), &pub); err != nil || pub.Asset == "" {
		t.Fatalf("publish: %v", err)
	}
	cli(3, "asset", "show", pub.Asset)
	cli(2, "get", pub.Asset, "-o", "copy.txt")
	if b, err := os.ReadFile(filepath.Join(home, "copy.txt")); err != nil || string(b) != "three replicas, one log\n" {
		t.Fatalf("copy from replica 2: %q, %v", b, err)
	}

	run("stop")
	for i := 1; i <= 3; i++ {
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port+i))
			if err != nil {
				break
			}
			resp.Body.Close()
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still answers after stop", i)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// freeRun finds n consecutive free loopback ports and returns the first.
func freeRun(t *testing.T, n int) int {
	for range 50 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}
