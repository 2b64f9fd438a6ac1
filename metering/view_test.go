package metering

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
)

func TestViewToken(t *testing.T) {
	k, _ := identity.Generate()
	other, _ := identity.Generate()
	now := time.Now().Truncate(time.Second)
	tok, err := NewView(k.DID(), now, 15*time.Minute).Token(k)
	if err != nil {
		t.Fatal(err)
	}
	v, signer, err := OpenView(tok, now.Add(time.Minute))
	if err != nil || v.DID != k.DID() || signer != k.DID() {
		t.Fatalf("%+v %s %v", v, signer, err)
	}
	if _, _, err := OpenView(tok, now.Add(16*time.Minute)); !errors.Is(err, ErrView) {
		t.Fatalf("expired token: %v", err)
	}
	// Signed by another key: opens, and the signer says who.
	tok2, _ := NewView(k.DID(), now, time.Minute).Token(other)
	if _, signer, err := OpenView(tok2, now); err != nil || signer != other.DID() {
		t.Fatalf("other signer: %s %v", signer, err)
	}
	// Longer than MaxViewLifetime: refused when signing.
	long := NewView(k.DID(), now, time.Minute)
	long.Expires = long.Created
	if _, err := long.Token(k); !errors.Is(err, ErrView) {
		t.Fatalf("empty lifetime: %v", err)
	}
	// A flipped character breaks the signature or the encoding.
	bad := []byte(tok)
	bad[len(bad)/2] ^= 1
	if _, _, err := OpenView(string(bad), now); !errors.Is(err, ErrView) {
		t.Fatalf("tampered token: %v", err)
	}
	if _, _, err := OpenView(strings.Repeat("A", MaxViewToken+1), now); !errors.Is(err, ErrView) {
		t.Fatalf("oversized token: %v", err)
	}
}

func FuzzOpenView(f *testing.F) {
	k, _ := identity.Generate()
	now := time.Unix(1_800_000_000, 0)
	tok, _ := NewView(k.DID(), now, time.Minute).Token(k)
	f.Add(tok)
	f.Add("")
	f.Add("e30")
	f.Add(tok[:len(tok)/2])
	f.Fuzz(func(t *testing.T, s string) {
		v, signer, err := OpenView(s, now)
		if err != nil {
			if !errors.Is(err, ErrView) {
				t.Fatalf("error not ErrView: %v", err)
			}
			return
		}
		if v.Validate() != nil || signer.IsZero() {
			t.Fatalf("accepted an invalid view %+v", v)
		}
	})
}
