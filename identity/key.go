package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

var (
	// ErrBadKey reports a key file or key bytes that are not an Ed25519
	// private key in the expected format.
	ErrBadKey = errors.New("identity: not an Ed25519 private key")
	// ErrKeyPermissions reports a key file that users other than its owner
	// can read or write.
	ErrKeyPermissions = errors.New("identity: key file is accessible by others")
	// ErrKeyExists reports that Save would overwrite an existing file.
	ErrKeyExists = errors.New("identity: key file already exists")
)

const (
	pemType = "PRIVATE KEY"
	// maxKeyFile bounds what Load reads; a PEM Ed25519 key is 119 bytes.
	maxKeyFile = 16 << 10
)

// Key is an Ed25519 private key: a Charter principal that can sign.
type Key struct {
	priv ed25519.PrivateKey
	did  DID
}

// Generate makes a new random key.
func Generate() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generating key: %w", err)
	}
	return newKey(priv), nil
}

// NewKeyFromSeed returns the key with the given 32-byte RFC 8032 seed. Use it
// for test vectors and deterministic fixtures; Generate for real keys.
func NewKeyFromSeed(seed []byte) (*Key, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: seed of %d bytes, want %d", ErrBadKey, len(seed), ed25519.SeedSize)
	}
	return newKey(ed25519.NewKeyFromSeed(seed)), nil
}

func newKey(priv ed25519.PrivateKey) *Key {
	return &Key{priv: priv, did: DIDFromPublicKey(priv.Public().(ed25519.PublicKey))}
}

// DID returns the key's did:key identifier.
func (k *Key) DID() DID { return k.did }

// String returns "identity.Key(did:key:...)": printing a key never prints
// its private half.
func (k *Key) String() string { return "identity.Key(" + k.did.String() + ")" }

// GoString is String, so that %#v does not print the private key either.
func (k *Key) GoString() string { return k.String() }

// Public returns the Ed25519 public key.
func (k *Key) Public() ed25519.PublicKey { return k.did.PublicKey() }

// Signer returns the key as a crypto.Signer (an ed25519.PrivateKey), for
// code that signs other formats with the same principal, e.g. a signed note.
func (k *Key) Signer() crypto.Signer { return k.priv }

// sign signs msg with pure Ed25519.
func (k *Key) sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// MarshalPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block.
func (k *Key) MarshalPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		panic(err) // cannot happen for an ed25519.PrivateKey
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
}

// ParseKey parses a PKCS#8 "PRIVATE KEY" PEM block holding an Ed25519 key.
// Nothing but white space may follow the block.
func ParseKey(b []byte) (*Key, error) {
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%w: %d bytes is too large for a key", ErrBadKey, len(b))
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrBadKey)
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrBadKey, block.Type, pemType)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM headers are not allowed (encrypted keys are not supported)", ErrBadKey)
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return nil, fmt.Errorf("%w: trailing data after the PEM block", ErrBadKey)
		}
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key is %T", ErrBadKey, k)
	}
	return newKey(priv), nil
}

// Save writes the key to path as PEM, readable and writable by the owner
// only (mode 0600). Missing parent folders are created with mode 0700. The
// file appears atomically (temporary file, fsync, link into place) and an
// existing file is never overwritten: Save returns ErrKeyExists instead.
func (k *Key) Save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identity: saving key: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s\nhint: choose another path, or remove the old key if you really mean to replace it", ErrKeyExists, path)
	}
	f, err := os.CreateTemp(dir, ".charter-key-*")
	if err != nil {
		return fmt.Errorf("identity: saving key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp already uses 0600; Chmod also covers an unusual umask.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(k.MarshalPEM())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("identity: saving key: %w", err)
	}
	// Link fails if path exists, so a key that appeared meanwhile is kept.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrKeyExists, path)
		}
		// File systems without hard links: fall back to rename.
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("identity: saving key: %w", err)
		}
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Load reads a key saved by Save (or any PKCS#8 Ed25519 PEM key). It refuses
// a file that the group or others can access, as ssh does, and says how to
// fix it.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("identity: loading key: %w\nhint: create one with `charter key new --out %s`", err, path)
		}
		return nil, fmt.Errorf("identity: loading key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: loading key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %04o\nhint: run `chmod 600 %s`", ErrKeyPermissions, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("identity: loading key: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrGenerate loads the key at path, or generates and saves a new one if
// there is no file there. created reports whether a key was made. A server
// uses it for its own signing key.
func LoadOrGenerate(path string) (k *Key, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = Generate()
	if err != nil {
		return nil, false, err
	}
	if err := k.Save(path); err != nil {
		if errors.Is(err, ErrKeyExists) { // lost a race with another process
			k, err = Load(path)
			return k, false, err
		}
		return nil, false, err
	}
	return k, true, nil
}
