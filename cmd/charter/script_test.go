package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/charter-dev/charter/server"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"charter": func() { os.Exit(run()) },
	})
}

// TestScript runs the CLI from outside, with the flags a user types, against
// a real server. Scripts live in testdata/script.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("CHARTER_KEY", filepath.Join(e.WorkDir, ".charter", "key"))
			e.Setenv("HOME", e.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"startserver":   cmdStartServer,
			"flipbyte":      cmdFlipByte,
			"corrupt":       cmdCorrupt,
			"flipglob":      cmdFlipGlob,
			"capture":       cmdCapture,
			"capture-field": cmdCaptureField,
			"capture-json":  cmdCaptureJSON,
			"capture-grant": cmdCaptureGrant,
			"mkfile":        cmdMkfile,
			"setquoted":     cmdSetQuoted,
		},
	})
}

// startserver [DATA]: runs a real server in the test process on a free
// port, with its data in $WORK/DATA (default data), and points
// CHARTER_SERVER at it.
func cmdStartServer(ts *testscript.TestScript, neg bool, args []string) {
	dir := "data"
	if len(args) > 0 {
		dir = args[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := backends{Catalog: ts.Getenv("CHARTER_TEST_CATALOG"), Ledger: ts.Getenv("CHARTER_TEST_LEDGER")}
	deps, closeRest, err := b.open(ctx, server.Config{
		DataDir:       ts.MkAbs(dir),
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		ScrubInterval: -1,
	})
	ts.Check(err)
	srv, err := server.New(ctx, deps)
	ts.Check(err)
	ts.Defer(closeRest)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	ts.Defer(func() { cancel(); <-done; srv.Close() })
	ts.Setenv("CHARTER_SERVER", "http://"+l.Addr().String())
}

// flipbyte FILE OFFSET: flips one bit of a file in place.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, off)
	ts.Check(err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b, off)
	ts.Check(err)
}

// setquoted NAME QUOTED: sets env NAME to the Go string literal QUOTED, so a
// script can hold characters (bidi controls) that must not appear raw in
// its text.
func cmdSetQuoted(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: setquoted NAME QUOTED")
	}
	s, err := strconv.Unquote(args[1])
	ts.Check(err)
	ts.Setenv(args[0], s)
}

// mkfile FILE SIZE: writes SIZE bytes of a fixed pseudo-random pattern.
func cmdMkfile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mkfile FILE SIZE")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	p := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
	f, err := os.Create(p)
	ts.Check(err)
	defer f.Close()
	buf := make([]byte, 1<<20)
	var x uint64 = 0x9E3779B97F4A7C15
	for n > 0 {
		for i := range buf {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			buf[i] = byte(x)
		}
		k := min(int64(len(buf)), n)
		_, err := f.Write(buf[:k])
		ts.Check(err)
		n -= k
	}
}

// corrupt ID OFFSET: flips a bit of the server's stored copy of ID (in
// $WORK/data) at OFFSET, as a failing disk would.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: corrupt ID OFFSET")
	}
	m, err := filepath.Glob(ts.MkAbs(filepath.Join("data", "blobs", "blobs", "*", args[0])))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("stored blob %s not found (%d matches)", args[0], len(m))
	}
	cmdFlipByte(ts, neg, []string{m[0], args[1]})
}

// flipglob PATTERN OFFSET: flips a bit of the one file matching PATTERN
// (relative to $WORK).
func cmdFlipGlob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipglob PATTERN OFFSET")
	}
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) == 0 {
		ts.Fatalf("no file matches %s", args[0])
	}
	cmdFlipByte(ts, neg, []string{m[len(m)-1], args[1]})
}

// capture NAME: sets env NAME to the last command's stdout, trimmed.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: capture NAME")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
}

// capture-field NAME LINE: sets NAME to the first field of line LINE
// (1-based) of the last stdout.
func cmdCaptureField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: capture-field NAME LINE")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	lines := strings.Split(strings.TrimSpace(ts.ReadFile("stdout")), "\n")
	if n < 1 || n > len(lines) {
		ts.Fatalf("stdout has %d lines", len(lines))
	}
	ts.Setenv(args[0], strings.Fields(lines[n-1])[0])
}

// capture-json NAME FIELD: sets NAME to a top-level string field of the
// last stdout, a JSON object.
func cmdCaptureJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: capture-json NAME FIELD")
	}
	var m map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &m))
	v, ok := m[args[1]].(string)
	if !ok {
		ts.Fatalf("no string field %q in stdout", args[1])
	}
	ts.Setenv(args[0], v)
}

// capture-grant NAME: sets NAME to the id of the first grant in the last
// stdout, a `grant list --json` answer.
func cmdCaptureGrant(ts *testscript.TestScript, neg bool, args []string) {
	var l struct {
		Grants []struct {
			ID string `json:"id"`
		} `json:"grants"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &l))
	if len(l.Grants) == 0 {
		ts.Fatalf("no grants in stdout")
	}
	ts.Setenv(args[0], l.Grants[0].ID)
}

var _ = fmt.Sprintf
