package credential

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
)

func testCred(t *testing.T) *Credential {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Credential{ID: "CHKAAAAAAAAAAAAAAAAA", Licensee: k.DID(), Assets: []string{"a1", "a2"}, Expires: time.Unix(1_900_000_000, 0)}
}

func TestSecretBindsEveryField(t *testing.T) {
	key := KeyFromSeed(bytes.Repeat([]byte{1}, 32))
	c := testCred(t)
	sec := Secret(key, c)
	if len(sec) != secretLen || !Equal(key, c, sec) {
		t.Fatalf("secret %q does not verify", sec)
	}
	other, _ := identity.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	edits := map[string]func(*Credential){
		"id":       func(c *Credential) { c.ID = "CHKAAAAAAAAAAAAAAAAB" },
		"licensee": func(c *Credential) { c.Licensee = other.DID() },
		"assets":   func(c *Credential) { c.Assets = nil },
		"expiry":   func(c *Credential) { c.Expires = c.Expires.Add(time.Second) },
	}
	for name, edit := range edits {
		d := *c
		edit(&d)
		if Equal(key, &d, sec) {
			t.Errorf("a record with another %s still matches the secret", name)
		}
	}
	if Equal(KeyFromSeed(bytes.Repeat([]byte{2}, 32)), c, sec) {
		t.Error("another server key derives the same secret")
	}
}

func TestIDsAndTokens(t *testing.T) {
	id, err := NewID(nil)
	if err != nil || !ValidID(id) {
		t.Fatalf("NewID = %q, %v", id, err)
	}
	sec := strings.Repeat("ab", 20)
	gid, gsec, ok := ParseToken(Token(id, sec))
	if !ok || gid != id || gsec != sec {
		t.Fatalf("ParseToken(Token) = %q %q %v", gid, gsec, ok)
	}
	for _, bad := range []string{"", "charter_", "charter_" + id, "charter_" + id + "_" + sec[:39], "charter_" + id + "_" + strings.ToUpper(sec), "hf_" + id + "_" + sec, "charter_chk" + id[3:] + "_" + sec} {
		if _, _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

func TestParseRequest(t *testing.T) {
	ok := func(string) error { return nil }
	q, ttl, err := ParseRequest([]byte(`{"assets":["b","a","b"],"ttl_seconds":3600}`), ok)
	if err != nil || ttl != time.Hour || strings.Join(q.Assets, ",") != "a,b" {
		t.Fatalf("got %+v %v %v", q, ttl, err)
	}
	if _, ttl, err := ParseRequest(nil, ok); err != nil || ttl != DefaultTTL {
		t.Fatalf("empty request: %v %v", ttl, err)
	}
	for _, bad := range []string{`{"ttl_seconds":1}`, `{"ttl_seconds":99999999}`, `{"extra":1}`, `{} {}`, `[`, `{"assets":["x"]}`} {
		_, _, err := ParseRequest([]byte(bad), func(a string) error {
			if a == "x" {
				return errors.New("not an asset id")
			}
			return nil
		})
		if err == nil {
			t.Errorf("ParseRequest(%s) accepted", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	c := testCred(t)
	if err := c.Check(c.Expires.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(c.Expires); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if !c.Covers("a1") || c.Covers("a3") || !(&Credential{}).Covers("any") {
		t.Fatal("Covers")
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("charter_CHKAAAAAAAAAAAAAAAAA_" + strings.Repeat("0", 40))
	f.Add("charter__")
	f.Fuzz(func(t *testing.T, s string) {
		id, sec, ok := ParseToken(s)
		if ok && Token(id, sec) != s {
			t.Fatalf("token %q parsed to %q %q", s, id, sec)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"assets":["a"],"ttl_seconds":60}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, ttl, err := ParseRequest(b, func(string) error { return nil })
		if err != nil {
			return
		}
		if ttl < MinTTL || ttl > MaxTTL || len(q.Assets) > MaxAssets {
			t.Fatalf("accepted %+v ttl %v", q, ttl)
		}
	})
}
