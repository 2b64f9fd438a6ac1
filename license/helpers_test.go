package license

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/multiformats/go-multibase"
)

// didKey returns a deterministic did:key for seed.
func didKey(seed string) string {
	s := sha256.Sum256([]byte(seed))
	pub := ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
	enc, err := multibase.Encode(multibase.Base58BTC, append([]byte{0xed, 0x01}, pub...))
	if err != nil {
		panic(err)
	}
	return "did:key:" + enc
}

var (
	alice = didKey("alice")
	bob   = didKey("bob")
	t0    = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
)

const asset = "bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4"

func baseRequest() Request {
	return Request{Licensee: alice, Asset: asset, Purpose: Research, Territory: "DE", Time: t0}
}

func mustTemplate(t testing.TB, name string) *Terms {
	t.Helper()
	tm, err := Template(name)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
