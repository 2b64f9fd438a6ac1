package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs one charter command in this process and returns its exit
// code, stdout and stderr.
func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	env := &Env{Server: "http://127.0.0.1:1", Key: filepath.Join(os.TempDir(), "unused.key"), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	code := runArgs(ctx, env, args)
	return code, out.String(), errb.String()
}

// TestDataFolderOneOwner: while `charter serve` runs on a folder, a second
// serve, a demo and every admin command on it are refused with an error
// naming the process that holds it; once the server stops, admin works.
// Before the lock a second serve started, and rebuild renamed the live
// catalog under the running server.
func TestDataFolderOneOwner(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	go func() {
		var errb bytes.Buffer
		env := &Env{Server: "http://127.0.0.1:1", Key: filepath.Join(t.TempDir(), "key"), Stdin: strings.NewReader(""), Stdout: pw, Stderr: &errb}
		code := runArgs(ctx, env, []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--scrub-interval", "0", "--settle-interval", "0"})
		if code != 0 {
			t.Log(errb.String())
		}
		pw.Close()
		done <- code
	}()
	// serve prints its address once it listens.
	if line, err := bufio.NewReader(pr).ReadString('\n'); err != nil || !strings.HasPrefix(line, "charter serving") {
		t.Fatalf("serve: %q %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	for _, args := range [][]string{
		{"serve", "--data", data, "--listen", "127.0.0.1:0"},
		{"demo", "--data", data, "--listen", "127.0.0.1:0"},
		{"admin", "rebuild", "--data", data},
		{"admin", "check", "--data", data},
	} {
		code, _, stderr := runCLI(context.Background(), args...)
		if code == 0 || !strings.Contains(stderr, fmt.Sprintf("in use by process %d (charter serve --data %s", os.Getpid(), data)) || !strings.Contains(stderr, "hint:") {
			t.Errorf("charter %s while serve runs: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
	}
	// A backup runs beside the server.
	if code, out, stderr := runCLI(context.Background(), "admin", "backup", filepath.Join(filepath.Dir(data), "live-backup"), "--data", data); code != 0 || !strings.Contains(out, "backed up") {
		t.Fatalf("admin backup while serve runs: %d %s %s", code, out, stderr)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if code, out, stderr := runCLI(context.Background(), "admin", "check", "--data", data); code != 0 {
		t.Fatalf("admin check after the server stopped: %d %s %s", code, out, stderr)
	}
	if code, out, stderr := runCLI(context.Background(), "admin", "check", "--data", filepath.Join(filepath.Dir(data), "live-backup")); code != 0 {
		t.Fatalf("admin check of the backup: %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCLI(context.Background(), "admin", "backup", filepath.Join(filepath.Dir(data), "live-backup"), "--data", data); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("backup into a used folder: %d %s", code, stderr)
	}
}
