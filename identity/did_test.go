package identity

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/multiformats/go-multibase"
)

type didVector struct {
	Seed            string `json:"seed"`
	DID             string `json:"did"`
	PublicKeyBase58 string `json:"publicKeyBase58"`
}

func loadDIDVectors(t testing.TB) []didVector {
	t.Helper()
	b, err := os.ReadFile("testdata/didkey-ed25519.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Source  string      `json:"source"`
		Vectors []didVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

// TestDIDKeyVectors checks the W3C did:key Ed25519 test vectors: seed to
// DID, and DID back to the public key.
func TestDIDKeyVectors(t *testing.T) {
	for _, v := range loadDIDVectors(t) {
		seed, err := hex.DecodeString(v.Seed)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.DID().String(); got != v.DID {
			t.Errorf("seed %s: DID = %s, want %s", v.Seed, got, v.DID)
		}
		d, err := ParseDID(v.DID)
		if err != nil {
			t.Fatalf("ParseDID(%s): %v", v.DID, err)
		}
		_, want, err := multibase.Decode("z" + v.PublicKeyBase58)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.PublicKey(), want) {
			t.Errorf("%s: public key %x, want %x", v.DID, d.PublicKey(), want)
		}
		if d != k.DID() {
			t.Errorf("%s: parsed DID differs from derived DID", v.DID)
		}
	}
}

func TestParseDIDRejects(t *testing.T) {
	good := "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	for _, s := range []string{
		"",
		"did:key:",
		"did:key:z",
		"did:web:example.com",
		"DID:KEY:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		good + "#z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", // DID URL
		good + "x",
		good[:len(good)-1],
		"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",  // secp256k1
		"did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc",   // x25519
		"did:key:f" + "ed01" + strings.Repeat("00", 32),              // hex multibase
		"did:key:z0OIl6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDoo", // not base58
		"did:key:z" + strings.Repeat("1", 60),                        // over the length limit
		" did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",  // leading space
		"did:key:z16MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",  // non-canonical leading zero
	} {
		if d, err := ParseDID(s); !errors.Is(err, ErrBadDID) {
			t.Errorf("ParseDID(%q) = %v, %v; want ErrBadDID", s, d, err)
		}
	}
	if _, err := ParseDID(good); err != nil {
		t.Fatal(err)
	}
}

func TestDIDJSON(t *testing.T) {
	k := testKey(t, 0)
	type doc struct {
		Owner DID `json:"owner"`
	}
	b, err := json.Marshal(doc{k.DID()})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"owner":"` + k.DID().String() + `"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil || d.Owner != k.DID() {
		t.Fatalf("round trip: %v, %v", d.Owner, err)
	}
	if err := json.Unmarshal([]byte(`{"owner":"did:key:zzz"}`), &d); !errors.Is(err, ErrBadDID) {
		t.Fatalf("bad DID in JSON: %v", err)
	}
	if _, err := json.Marshal(doc{}); err == nil {
		t.Fatal("zero DID marshalled")
	}
	var zero DID
	if !zero.IsZero() || zero.PublicKey() != nil || zero.String() != "" {
		t.Fatal("zero DID is not zero")
	}
}

func FuzzParseDID(f *testing.F) {
	for _, v := range loadDIDVectors(f) {
		f.Add(v.DID)
	}
	f.Add("did:key:z6Mk")
	f.Add("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDID(s)
		if err != nil {
			if !errors.Is(err, ErrBadDID) {
				t.Fatalf("error not ErrBadDID: %v", err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("accepted %q but prints %q", s, d.String())
		}
		if DIDFromPublicKey(d.PublicKey()) != d {
			t.Fatal("public key round trip differs")
		}
	})
}
