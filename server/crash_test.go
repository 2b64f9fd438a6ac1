package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// TestServeChild is not a test: run by TestCrashKeepsSession as a child
// process, it serves the data folder in $CHARTER_TEST_SERVE_DIR until it is
// killed.
func TestServeChild(t *testing.T) {
	dir := os.Getenv("CHARTER_TEST_SERVE_DIR")
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKeepsSession")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1, SessionIdle: time.Hour})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	fmt.Println("listening http://" + l.Addr().String())
	s.Serve(ctx, l)
}

// child starts a server process on dir and returns its URL and process.
func child(t *testing.T, dir string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), "CHARTER_TEST_SERVE_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		t.Fatalf("child server: %q %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening ")), cmd
}

// TestCrashKeepsSession: a licensee downloads, the server is killed (-9)
// before the session's receipt is logged, and after the restart the
// licensee's close gets a receipt for every byte. Before, sessions lived
// in memory only and a crash lost their receipts.
func TestCrashKeepsSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	url, cmd := child(t, dir)
	owner, consumer := mustKey(t), mustKey(t)
	c0, _ := client.New(url)
	c := c0.WithKey(owner)
	put := func(b []byte) content.ID {
		info, err := c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		return id
	}
	terms, _ := license.Template("inference-metered")
	perGiB(0)(terms)
	tb, _ := terms.Encode()
	model := bytes.Repeat([]byte("weights "), 100_000)
	mid := put(model)
	man := &asset.Manifest{Content: mid, Name: "model", MediaType: "application/octet-stream", Created: asset.NewTime(time.Now()), Threshold: 1, License: put(tb).String(),
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(owner)
	reg, err := c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	aid, _ := asset.ParseID(reg.Asset)
	ans, err := c.RequestGrant(ctx, consumer, aid, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant: %v %+v", err, ans)
	}
	gc := c.WithGrant(consumer, ans.Grant.ID.String())
	gc.ChunkSize = 256 << 10
	if _, err := gc.DownloadFile(ctx, mid, filepath.Join(t.TempDir(), "model"), client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	sid := gc.Session()

	cmd.Process.Kill() // kill -9: nothing runs at exit
	cmd.Wait()
	url, _ = child(t, dir)
	c2, _ := client.New(url)
	a, err := c2.WithGrant(consumer, ans.Grant.ID.String()).WithSession(sid).CloseSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Receipts) != 1 || a.Receipts[0].Bytes != int64(len(model)) {
		t.Fatalf("after a crash, receipts %+v; want one of %d bytes", a.Receipts, len(model))
	}
}

func mustKey(t *testing.T) *identity.Key {
	k, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
