package server

import (
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
	os.WriteFile(specPath, sb, 0o600)
	run := func(mode string) map[string]int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "hfhub.mjs", mode, specPath)
		cmd.Dir = hfHubDir
		cmd.Env = append(os.Environ(), "HF_HUB_CACHE="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hfhub.mjs %s: %v\n%s", mode, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var res map[string]int64
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("hfhub.mjs %s printed %s", mode, out)
		}
		t.Logf("%s: %v", mode, res)
		return res
	}
	res := run("read")
	if res["listed"] != int64(len(f.dsFiles)) || res["model"] != int64(f.modelSize) || res["ranged"] == 0 {
		t.Fatalf("read: %v", res)
	}
	// Every byte the client received is in its session's receipts.
	ctx := context.Background()
	var billed int64
	for _, g := range []string{f.dsGrant.ID.String(), f.grant.ID.String()} {
		rs, err := f.s.closeSessions(ctx, catalog.SessionFilter{Grant: g, Session: f.sessions[spec["token"].(string)], Licensee: f.consumer.DID().String()})
		if err != nil || len(rs) != 1 {
			t.Fatalf("receipts of grant %s: %+v %v", g, rs, err)
		}
		billed += rs[0].Bytes
	}
	// The client also reads one byte (Range: bytes=0-0) per probe.
	if want := res["bytes"] + res["probes"]; billed != want || res["probes"] == 0 {
		t.Fatalf("receipts bill %d bytes; the client read %d (+%d probe bytes)", billed, res["bytes"], res["probes"])
	}
	run("refuse")
	f.revoke(f.dsGrant, f.ann)
	run("revoked")
}
