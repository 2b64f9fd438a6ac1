package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charter-dev/charter/server"
)

// trustServer runs a real server on addr ("" for a free port) with its
// data in dir and returns its URL and a stop function.
func trustServer(t *testing.T, dir, addr string) (string, func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, server.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	stop := func() { cancel(); <-done; l.Close(); srv.Close() }
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			stop()
		}
	})
	return "http://" + l.Addr().String(), stop
}

type cli struct {
	t      *testing.T
	server string
	state  string
}

// run runs charter with key (a file under the test's folder) against the
// CLI's server and state folder.
func (c *cli) run(key string, args ...string) (int, string, string) {
	c.t.Helper()
	c.t.Setenv("CHARTER_STATE", c.state)
	var out, errb bytes.Buffer
	env := &Env{Server: c.server, Key: key, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	code := runArgs(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func (c *cli) ok(key string, args ...string) (string, string) {
	c.t.Helper()
	code, out, errs := c.run(key, args...)
	if code != 0 {
		c.t.Fatalf("charter %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

// refused checks that a command fails because the log key changed, and
// says how to re-pin.
func (c *cli) refused(key string, args ...string) {
	c.t.Helper()
	code, out, errs := c.run(key, args...)
	if code == 0 || !strings.Contains(errs, "charter log trust --reset") || !strings.Contains(errs, "pinned") {
		c.t.Errorf("charter %s with a changed log key: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
}

func field(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

// TestOneTrustStore: every command that verifies what the log vouches for
// uses one pinned log key per server. First contact pins and says so (and
// `log checkpoint` does not claim a consistency it could not check); the
// same key passes; a server that comes back on the same address with
// another log key is refused by publish, get, verify and log, with the
// command to re-pin; `log trust --reset` re-pins on purpose. Before this,
// publish and get verified receipts with whatever key the receipt named.
func TestOneTrustStore(t *testing.T) {
	dir := t.TempDir()
	url1, stop1 := trustServer(t, filepath.Join(dir, "data1"), "")
	alice := &cli{t: t, server: url1, state: filepath.Join(dir, "alice-state")}
	bob := &cli{t: t, server: url1, state: filepath.Join(dir, "bob-state")}
	ak, bk := filepath.Join(dir, "alice.key"), filepath.Join(dir, "bob.key")
	alice.ok(ak, "key", "new")
	bob.ok(bk, "key", "new")
	f1 := filepath.Join(dir, "one.txt")
	os.WriteFile(f1, []byte("first server's file"), 0o644)

	out, errs := alice.ok(ak, "publish", f1, "--license", "research-only", "--receipt", filepath.Join(dir, "one.receipt"))
	if !strings.Contains(errs, "first contact with "+url1+": pinned its log key") {
		t.Fatalf("first contact not announced: %q", errs)
	}
	content1 := field(out, "content")
	f1b := filepath.Join(dir, "one-b.txt")
	os.WriteFile(f1b, []byte("another file"), 0o644)
	if _, errs := alice.ok(ak, "publish", f1b, "--license", "open"); strings.Contains(errs, "first contact") {
		t.Fatalf("second contact announced as first: %q", errs)
	}
	out, _ = alice.ok(ak, "verify", filepath.Join(dir, "one.receipt"))
	if !strings.Contains(out, "log key is the one you pinned for "+url1) {
		t.Fatalf("verify did not use the pin: %q", out)
	}
	out, _ = alice.ok(ak, "log", "checkpoint")
	if !strings.Contains(out, "first checkpoint you saw") || strings.Contains(out, "consistency with") {
		t.Fatalf("first checkpoint claims consistency: %q", out)
	}
	out, _ = alice.ok(ak, "log", "checkpoint")
	if !strings.Contains(out, "consistency with the last checkpoint you saw") {
		t.Fatalf("second checkpoint: %q", out)
	}
	// Bob's first use is a licensed download: the grant request pins.
	if _, errs := bob.ok(bk, "get", content1, "-o", filepath.Join(dir, "bob.copy"), "--purpose", "research"); !strings.Contains(errs, "pinned its log key") {
		t.Fatalf("get did not pin on first contact: %q", errs)
	}
	if _, ok, _ := (&Env{Key: ak}).pinAt(alice.state, url1); !ok {
		t.Fatal("no pin in the state folder")
	}

	// The server is replaced by one with another log on the same address.
	addr := strings.TrimPrefix(url1, "http://")
	stop1()
	url2, _ := trustServer(t, filepath.Join(dir, "data2"), addr)
	if url2 != url1 {
		t.Fatalf("restarted on %s, not %s", url2, url1)
	}
	// Carol, new to it, publishes there (she pins the new key).
	carol := &cli{t: t, server: url2, state: filepath.Join(dir, "carol-state")}
	ck := filepath.Join(dir, "carol.key")
	carol.ok(ck, "key", "new")
	f2 := filepath.Join(dir, "two.txt")
	os.WriteFile(f2, []byte("second server's file"), 0o644)
	out, _ = carol.ok(ck, "publish", f2, "--license", "research-only", "--receipt", filepath.Join(dir, "two.receipt"))
	content2 := field(out, "content")

	alice.refused(ak, "publish", f1, "--name", "third", "--license", "open")
	alice.refused(ak, "log", "checkpoint")
	alice.refused(ak, "log", "audit")
	alice.refused(ak, "log", "prove", "0")
	alice.refused(ak, "verify", filepath.Join(dir, "two.receipt"))
	bob.refused(bk, "get", content2, "-o", filepath.Join(dir, "bob.copy2"), "--purpose", "research")
	bob.refused(bk, "grant", "request", field(out, "asset"), "--purpose", "research")
	// A receipt of the log Alice pinned still verifies offline.
	alice.ok(ak, "verify", filepath.Join(dir, "one.receipt"))

	// Re-pinning on purpose.
	out, _ = alice.ok(ak, "log", "trust", "--reset")
	if !strings.Contains(out, "re-pinned "+url1) {
		t.Fatalf("log trust --reset: %q", out)
	}
	alice.ok(ak, "verify", filepath.Join(dir, "two.receipt"))
	out, _ = alice.ok(ak, "log", "checkpoint")
	if !strings.Contains(out, "first checkpoint you saw") {
		t.Fatalf("after re-pinning: %q", out)
	}
	alice.ok(ak, "publish", f1, "--name", "third", "--license", "open")
}

// TestTrustStateLocation: without CHARTER_STATE the pins live in the
// user's state folder ($XDG_STATE_HOME/charter), not in the working
// directory and not beside the key file.
func TestTrustStateLocation(t *testing.T) {
	dir := t.TempDir()
	url, _ := trustServer(t, filepath.Join(dir, "data"), "")
	state := filepath.Join(dir, "xdg-state")
	t.Setenv("CHARTER_STATE", "")
	t.Setenv("XDG_STATE_HOME", state)
	keyDir := filepath.Join(dir, "keys")
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	t.Chdir(work)
	// Pins planted where earlier versions kept them (beside the key file)
	// or in the working directory decide nothing.
	sum := sha256.Sum256([]byte(url))
	for _, d := range []string{keyDir, work} {
		planted := filepath.Join(d, "logs", hex.EncodeToString(sum[:8]))
		os.MkdirAll(planted, 0o700)
		os.WriteFile(filepath.Join(planted, "log.vkey"), []byte("evil+12345678+AQ==\n"), 0o600)
	}
	var out, errb bytes.Buffer
	env := &Env{Server: url, Key: filepath.Join(keyDir, "k"), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	if code := runArgs(context.Background(), env, []string{"log", "checkpoint"}); code != 0 || !strings.Contains(errb.String(), "first contact") {
		t.Fatalf("planted pins were read: %s%s", out.String(), errb.String())
	}
	for _, d := range []string{keyDir, work} {
		os.RemoveAll(filepath.Join(d, "logs"))
	}
	if _, ok, _ := env.pinAt(filepath.Join(state, "charter"), url); !ok {
		t.Fatal("no pin under $XDG_STATE_HOME/charter")
	}
	for _, d := range []string{work, keyDir} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Errorf("%s holds %d entries; state belongs in the state folder", d, len(ents))
		}
	}
}
