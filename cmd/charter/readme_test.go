package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestREADME runs the README's walkthrough as written: every ```sh block,
// in order, in one bash script, against a real server, with the charter
// binary on PATH in place of ./charter. A README that drifts from what
// Charter does fails here.
func TestREADME(t *testing.T) {
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
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"startserver": cmdStartServer,
		},
	})
}
