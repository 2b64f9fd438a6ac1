package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// DefaultOrigin is the origin of a log whose operator chose none.
const DefaultOrigin = "charter.example/log"

// Signer is the log's note signer. Unlike a bare note.Signer it knows its
// verifier key, which Log serves at /log/key.
type Signer struct {
	note.Signer
	vkey string
}

// VerifierKey returns the note verifier key matching the signer.
func (s *Signer) VerifierKey() string { return s.vkey }

// GenerateKey makes a new Ed25519 log key whose name is the log's origin,
// returning the private key (note signer key) and the public verifier key.
func GenerateKey(origin string) (skey, vkey string, err error) {
	if origin == "" || !utf8.ValidString(origin) || strings.ContainsFunc(origin, func(r rune) bool { return r == '+' || unicode.IsSpace(r) }) {
		return "", "", fmt.Errorf("%w: origin %q: want non-empty UTF-8 without spaces or '+'\nhint: an origin is a schema-less URL such as charter.example/log", ErrKey, origin)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("%w: origin %q: %v\nhint: an origin is a schema-less URL such as charter.example/log", ErrKey, origin, err)
	}
	return skey, vkey, nil
}

// NewSigner parses a note signer key and derives its verifier key.
func NewSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: signer key: %v", ErrKey, err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: signer key has %d fields", ErrKey, len(parts))
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, fmt.Errorf("%w: signer key is not an Ed25519 key", ErrKey)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &Signer{Signer: s, vkey: vkey}, nil
}

// SaveKey writes a signer key to a new file readable by its owner only. It
// refuses to overwrite an existing file.
func SaveKey(path, skey string) error {
	if _, err := NewSigner(skey); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("auditlog: save key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("auditlog: save key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("auditlog: save key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("auditlog: save key: %w", err)
	}
	return f.Close()
}

// LoadKey reads a signer key file written by SaveKey. It refuses a file that
// group or others may read.
func LoadKey(path string) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("auditlog: load key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v\nhint: chmod 600 %s", ErrKey, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auditlog: load key: %w", err)
	}
	s, err := NewSigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadOrCreateKey loads the key file at path, or, when there is none,
// generates a key named origin and saves it there. An existing key is
// returned whatever its name.
func LoadOrCreateKey(path, origin string) (*Signer, error) {
	s, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	skey, _, err := GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	// Another process may have created it meanwhile: then use that key.
	if err := SaveKey(path, skey); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return LoadKey(path)
}
