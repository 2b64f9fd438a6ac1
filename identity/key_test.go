package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testKey returns the key whose seed is 31 zero bytes followed by n: the
// seeds of the W3C did:key test vectors.
func testKey(t testing.TB, n byte) *Key {
	t.Helper()
	seed := make([]byte, 32)
	seed[31] = n
	k, err := NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "keys")
	path := filepath.Join(dir, "me.key")
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %04o, want 0600", perm)
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := di.Mode().Perm(); perm != 0o700 {
			t.Errorf("created dir mode %04o, want 0700", perm)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the key (temp file left behind?)", len(entries))
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.DID() != k.DID() {
		t.Fatal("loaded key has another DID")
	}

	// Never overwrite.
	k2, _ := Generate()
	if err := k2.Save(path); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("Save over existing key: %v, want ErrKeyExists", err)
	}
	if l, _ := Load(path); l.DID() != k.DID() {
		t.Fatal("existing key was replaced")
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	path := filepath.Join(t.TempDir(), "k")
	if err := testKey(t, 0).Save(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if !errors.Is(err, ErrKeyPermissions) {
			t.Fatalf("mode %04o: %v, want ErrKeyPermissions", mode, err)
		}
		if !strings.Contains(err.Error(), "hint: run `chmod 600") {
			t.Errorf("mode %04o: error lacks a hint: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := Load(path); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "hint:") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.key")
	k1, created, err := LoadOrGenerate(path)
	if err != nil || !created {
		t.Fatalf("first: %v created=%v", err, created)
	}
	k2, created, err := LoadOrGenerate(path)
	if err != nil || created {
		t.Fatalf("second: %v created=%v", err, created)
	}
	if k1.DID() != k2.DID() {
		t.Fatal("second call made a new key")
	}
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrGenerate(path); !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("open key: %v", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	good := testKey(t, 0).MarshalPEM()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, b := range map[string][]byte{
		"empty":    nil,
		"garbage":  []byte("hello"),
		"trailing": append(append([]byte{}, good...), "junk"...),
		"ecdsa":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"type":     pem.EncodeToMemory(&pem.Block{Type: "ED25519 PRIVATE KEY", Bytes: []byte{1}}),
		"headers":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: ecDER}),
		"bad der":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x01}}),
		"huge":     bytes.Repeat([]byte{'\n'}, maxKeyFile+1),
	} {
		if _, err := ParseKey(b); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want ErrBadKey", name, err)
		}
	}
	if _, err := ParseKey(append(good, "\n\n"...)); err != nil {
		t.Errorf("trailing newlines: %v", err)
	}
}

// TestKeyFileVector pins the key file format: the PEM of the seed-0 key.
func TestKeyFileVector(t *testing.T) {
	want, err := os.ReadFile("testdata/seed0.key")
	if err != nil {
		t.Fatal(err)
	}
	if got := testKey(t, 0).MarshalPEM(); !bytes.Equal(got, want) {
		t.Fatalf("PEM of seed-0 key:\n%s\nwant\n%s", got, want)
	}
	k, err := ParseKey(want)
	if err != nil || k.DID().String() != "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp" {
		t.Fatalf("ParseKey(vector) = %v, %v", k, err)
	}
}

// TestOpenSSLInterop checks that OpenSSL reads the key files Save writes
// and that Load reads the keys OpenSSL generates.
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.key")
	k := testKey(t, 1)
	if err := k.Save(ours); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", ours, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	// The last 32 bytes of an Ed25519 SubjectPublicKeyInfo are the key.
	if len(out) < 32 || !bytes.Equal(out[len(out)-32:], k.Public()) {
		t.Fatalf("openssl derived public key %x, want %x", out, k.Public())
	}
	theirs := filepath.Join(dir, "theirs.key")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", theirs).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	os.Chmod(theirs, 0o600)
	if _, err := Load(theirs); err != nil {
		t.Fatalf("Load(openssl key): %v", err)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(testKey(f, 0).MarshalPEM())
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error not ErrBadKey: %v", err)
			}
			return
		}
		k2, err := ParseKey(k.MarshalPEM())
		if err != nil || k2.DID() != k.DID() {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func TestKeyPrintsNoSecret(t *testing.T) {
	k := testKey(t, 7)
	seed := k.priv.Seed()
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, k)
		if !strings.Contains(out, k.DID().String()) || strings.Contains(out, fmt.Sprint(seed)) || strings.Contains(out, fmt.Sprintf("%x", seed)) {
			t.Errorf("%s prints %q", f, out)
		}
	}
}
