package server

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestTamperedLogRefusalSaysWhereAndWhat: a server does not start on a log
// whose storage was edited, and says so in the operator's terms: the file
// and the entry, and what to do. It used to print the merkle package's raw
// byte arrays ("calculated root: [164 49 ...]").
func TestTamperedLogRefusalSaysWhereAndWhat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, quietConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	c, _ := client.New(hs.URL)
	owner, _ := identity.Generate()
	c = c.WithKey(owner)
	body := bytes.Repeat([]byte("charter"), 100)
	info, err := c.Put(ctx, bytes.NewReader(body), int64(len(body)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	man := &asset.Manifest{Content: id, Name: "f", Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(owner)
	if _, err := c.Register(ctx, env); err != nil {
		t.Fatal(err)
	}
	hs.Close()
	s.Close()

	bundles, _ := filepath.Glob(filepath.Join(dir, "log", "tile", "entries", "*", "*"))
	if len(bundles) == 0 {
		t.Fatal("no entry bundle on disk")
	}
	bundle := bundles[len(bundles)-1]
	raw, _ := os.ReadFile(bundle)
	raw[len(raw)/2] ^= 1
	os.WriteFile(bundle, raw, 0o644)

	_, err = Open(ctx, quietConfig(dir))
	if !errors.Is(err, auditlog.ErrTampered) {
		t.Fatalf("server started on a tampered log: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "log"), // which log
		bundle,                    // which file
		"entry 0",                 // which entry
		"does not match the signed checkpoint",
		"hint:", "backup", // what to do
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "[") || strings.Contains(msg, "calculated root") {
		t.Errorf("refusal prints raw bytes:\n%s", msg)
	}

	// The same for a bundle that is gone.
	os.Remove(bundle)
	_, err = Open(ctx, quietConfig(dir))
	if !errors.Is(err, auditlog.ErrTampered) || !strings.Contains(err.Error(), bundle+" is missing") || !strings.Contains(err.Error(), "hint:") {
		t.Fatalf("missing bundle: %v", err)
	}
}
