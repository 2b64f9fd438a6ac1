package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/zeebo/blake3"
)

// hfHubDir holds the npm package of the real @huggingface/hub client
// (package.json and package-lock.json committed; .ci/run runs npm ci).
const hfHubDir = "testdata/hfhub"

// needHFHub returns the node binary, or skips (fails under CI=true) when
// node or the installed client is missing.
func needHFHub(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(hfHubDir, "node_modules", "@huggingface", "hub", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or @huggingface/hub missing (%v): .ci/run installs it with npm ci in server/%s", err, hfHubDir)
		}
		t.Skipf("node or @huggingface/hub missing (%v); hint: (cd server/%s && npm ci)", err, hfHubDir)
	}
	return node
}

type hfHubFile struct {
	Path   string `json:"path,omitempty"`
	Size   int    `json:"size"`
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

func hfHubFileOf(p string, b []byte) hfHubFile {
	s := sha256.Sum256(b)
	return hfHubFile{Path: p, Size: len(b), ID: content.IDFromDigest(blake3.Sum256(b)).String(), SHA256: hex.EncodeToString(s[:])}
}

// TestHFHubClient runs the real @huggingface/hub client: it lists and
// downloads (whole, ranged, into its cache layout) a licensed dataset and
// a licensed model with the licensee's token, is refused without a token,
// with another licensee's, with a token limited to another asset and by a
// revoked grant, and every byte it read is in the session's receipt.
func TestHFHubClient(t *testing.T) {
	node := needHFHub(t)
	f := newHFFixture(t, Config{SessionIdle: time.Hour})
	spec, specPath := f.clientSpec(t)
	run := func(mode string) map[string]int64 {
		t.Helper()
		return runClient(t, hfHubDir, []string{"HF_HUB_CACHE=" + t.TempDir()}, node, "hfhub.mjs", mode, specPath)
	}
	res := run("read")
	if res["listed"] != int64(len(f.dsFiles)) || res["model"] != int64(f.modelSize) || res["ranged"] == 0 {
		t.Fatalf("read: %v", res)
	}
	// Every byte the client received is in its session's receipts; it
	// also reads one byte (Range: bytes=0-0) per probe.
	if billed := f.billed(t, spec["token"].(string)); billed != res["bytes"]+res["probes"] || res["probes"] == 0 {
		t.Fatalf("receipts bill %d bytes; the client read %d (+%d probe bytes)", billed, res["bytes"], res["probes"])
	}
	run("refuse")
	f.revoke(f.dsGrant, f.ann)
	run("revoked")
}

// TestHFPythonClient runs the real huggingface_hub (Python) client:
// dataset_info, list_repo_files, list_repo_tree, hf_hub_download (twice:
// the second from its cache), snapshot_download, a pinned revision, and
// its exceptions for refusals. Debian has no huggingface_hub package, so
// it runs only when CHARTER_TEST_PYTHON (default python3) imports it.
func TestHFPythonClient(t *testing.T) {
	py := cmp.Or(os.Getenv("CHARTER_TEST_PYTHON"), "python3")
	if err := exec.Command(py, "-c", "import huggingface_hub").Run(); err != nil {
		t.Skipf("%s cannot import huggingface_hub (%v); hint: CHARTER_TEST_PYTHON=python-with-huggingface_hub", py, err)
	}
	f := newHFFixture(t, Config{SessionIdle: time.Hour})
	spec, specPath := f.clientSpec(t)
	env := []string{"HF_ENDPOINT=" + f.hf.URL, "HF_HUB_DISABLE_TELEMETRY=1", "HF_HUB_DISABLE_XET=1", "HF_HOME=" + t.TempDir()}
	res := runClient(t, hfHubDir, env, py, "hfhub.py", "read", specPath)
	if res["listed"] != int64(len(f.dsFiles)) || res["model"] != int64(f.modelSize) {
		t.Fatalf("read: %v", res)
	}
	if billed := f.billed(t, spec["token"].(string)); billed != res["bytes"] {
		t.Fatalf("receipts bill %d bytes; the client downloaded %d", billed, res["bytes"])
	}
	runClient(t, hfHubDir, env, py, "hfhub.py", "refuse", specPath)
}

// clientSpec writes what the client scripts check against: the endpoint,
// the repos, tokens, and each file's size, content id and SHA-256.
func (f *hfFixture) clientSpec(t *testing.T) (map[string]any, string) {
	model := make([]byte, f.modelSize)
	for i := range model {
		model[i] = byte(i * 13)
	}
	spec := map[string]any{
		"endpoint":    f.hf.URL,
		"dataset":     f.ds.String(),
		"model":       f.model.String(),
		"token":       f.token(f.consumer),
		"other":       f.token(f.stranger),
		"onlyDataset": f.token(f.consumer, f.ds.String()),
		"modelFile":   hfHubFileOf("model", model),
	}
	files := map[string]hfHubFile{}
	for p, b := range f.dsFiles {
		files[p] = hfHubFileOf("", b)
	}
	spec["files"] = files
	sb, _ := json.Marshal(spec)
	specPath := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(specPath, sb, 0o600); err != nil {
		t.Fatal(err)
	}
	return spec, specPath
}

// billed closes the read session of token and returns the bytes its
// receipts (one per grant used) bill.
func (f *hfFixture) billed(t *testing.T, token string) int64 {
	t.Helper()
	rs, err := f.s.closeSessions(context.Background(), catalog.SessionFilter{Session: f.sessions[token], Licensee: f.consumer.DID().String()})
	if err != nil || len(rs) == 0 {
		t.Fatalf("receipts of session %s: %+v %v", f.sessions[token], rs, err)
	}
	var n int64
	for _, r := range rs {
		n += r.Bytes
	}
	return n
}

// runClient runs a client script in dir and returns the JSON object it
// prints last.
func runClient(t *testing.T, dir string, env []string, prog string, args ...string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res map[string]int64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("%s %v printed %s", prog, args, out)
	}
	t.Logf("%s %v: %v", filepath.Base(prog), args[:2], res)
	return res
}
