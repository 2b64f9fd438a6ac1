package auditlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "log.key")
	skey, vkey, err := GenerateKey("charter.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveKey(path, skey); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	if err := SaveKey(path, skey); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveKey overwrote a key: %v", err)
	}
	s, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey || s.Name() != "charter.test/log" {
		t.Fatalf("loaded key %q %q, want %q", s.Name(), s.VerifierKey(), vkey)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); !errors.Is(err, ErrKey) {
		t.Fatalf("LoadKey of a world-readable key: %v", err)
	}

	p2 := filepath.Join(dir, "new.key")
	s1, err := LoadOrCreateKey(p2, "charter.test/other")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadOrCreateKey(p2, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if s1.VerifierKey() != s2.VerifierKey() {
		t.Fatal("LoadOrCreateKey made a second key")
	}
	for _, bad := range []string{"", "PRIVATE+KEY+x", vkey} {
		if _, err := NewSigner(bad); !errors.Is(err, ErrKey) {
			t.Errorf("NewSigner(%q): %v", bad, err)
		}
	}
	if _, _, err := GenerateKey("bad origin+plus"); !errors.Is(err, ErrKey) {
		t.Errorf("GenerateKey with '+': %v", err)
	}
	if _, err := NewVerifier("nonsense"); !errors.Is(err, ErrKey) {
		t.Errorf("NewVerifier: %v", err)
	}
}
