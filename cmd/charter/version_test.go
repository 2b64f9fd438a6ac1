package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestVersionFromCheckout builds charter from this git checkout as a user
// does (go build, with -buildvcs=true, whatever GOFLAGS says) and runs
// `charter version`: it shows the module version Go stamps from the
// commit, the commit itself, whether the tree had uncommitted changes, and
// the Go version. Go finds the commit only under a .git folder; in a
// linked worktree (.git is a file) the test builds a clone of its HEAD.
func TestVersionFromCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds charter")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, ".git"))
	if err != nil {
		t.Skip("not a git checkout (a module download): nothing to stamp")
	}
	git := func(dir string, args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	src := root
	if !fi.IsDir() {
		src = filepath.Join(t.TempDir(), "clone")
		git(root, "clone", "-q", "--shared", root, src)
	}
	commit := git(src, "rev-parse", "HEAD")
	dirty := git(src, "status", "--porcelain") != ""

	bin := filepath.Join(t.TempDir(), "charter")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/charter")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	// Other packages' tests run beside this one and may leave a file in
	// the tree for a moment: judge the dirty flag only when the tree was
	// the same before and after the build.
	steady := dirty == (git(src, "status", "--porcelain") != "")
	if v.Commit != commit || steady && v.Modified != dirty {
		t.Errorf("commit %q modified %v, want %q %v", v.Commit, v.Modified, commit, dirty)
	}
	// Go stamps a pseudo-version (or the tag) naming the commit; +dirty
	// when the tree had changes.
	clean := strings.TrimSuffix(v.Version, "+dirty")
	if !strings.HasPrefix(clean, "v") || module.IsPseudoVersion(clean) && !strings.HasSuffix(clean, "-"+commit[:12]) {
		t.Errorf("module version %q: want the version Go stamps from the commit", v.Version)
	}
	if strings.HasSuffix(v.Version, "+dirty") != v.Modified {
		t.Errorf("module version %q, uncommitted changes %v", v.Version, dirty)
	}
	if v.Module != "github.com/charter-dev/charter" || !strings.HasPrefix(v.Go, "go1.") || v.Time == "" {
		t.Errorf("module %q go %q time %q", v.Module, v.Go, v.Time)
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charter " + v.Version + "\n", "commit   " + commit, "go       " + v.Go} {
		if !strings.Contains(string(text), want) {
			t.Errorf("charter version prints\n%s\nwithout %q", text, want)
		}
	}
}
