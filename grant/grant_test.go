package grant

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"github.com/charter-dev/charter/internal/canonjson"
	"os"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

func seedKey(t testing.TB, b byte) *identity.Key {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testAsset() asset.ID {
	id, _ := asset.ParseID(content.IDFromDigest([32]byte{1, 2, 3}).String())
	return id
}

type vector struct {
	Name        string `json:"name"`
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`     // canonical JSON
	StatementID string `json:"statementId"` // CIDv1 raw blake3 of the payload
	Envelope    string `json:"envelope"`    // DSSE JSON
}

// TestVectors checks the statements' canonical encodings, ids and
// envelopes against testdata/vectors.json (Ed25519 is deterministic, so
// envelopes from the fixed seed keys are fixed too).
func TestVectors(t *testing.T) {
	licensee, owner, server := seedKey(t, 1), seedKey(t, 2), seedKey(t, 3)
	at := asset.NewTime(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	req := &Request{Asset: testAsset(), Created: at, Licensee: licensee.DID(), Nonce: "00112233445566778899aabbccddeeff", Purpose: "research", Territory: "DE"}
	renv, err := req.Sign(licensee)
	if err != nil {
		t.Fatal(err)
	}
	_, rid, err := OpenRequest(renv)
	if err != nil {
		t.Fatal(err)
	}
	g := &Grant{Asset: req.Asset, Decision: 5, ID: rid, Issuer: server.DID(), Licensee: licensee.DID(), NotBefore: at,
		NotAfter: asset.NewTime(at.Time().Add(24 * time.Hour)), Purpose: "research", Quotas: Quotas{MaxBytes: 1 << 30}, Terms: content.IDFromDigest([32]byte{9})}
	genv, err := g.Sign(server)
	if err != nil {
		t.Fatal(err)
	}
	a := &Approval{Approve: true, Approver: owner.DID(), Asset: req.Asset, Request: rid}
	aenv, err := a.Sign(owner)
	if err != nil {
		t.Fatal(err)
	}
	rv := &Revocation{Asset: req.Asset, Created: at, Grant: rid, Reason: "licence breach"}
	venv, err := rv.Sign(owner)
	if err != nil {
		t.Fatal(err)
	}
	var got []vector
	for _, x := range []struct {
		name string
		env  *identity.Envelope
	}{{"request", renv}, {"grant", genv}, {"approval", aenv}, {"revocation", venv}} {
		_, payload, err := identity.Verify(x.env, x.env.PayloadType)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := x.env.Marshal()
		got = append(got, vector{Name: x.name, PayloadType: x.env.PayloadType, Payload: string(payload), StatementID: StatementID(payload).String(), Envelope: string(raw)})
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	if *update {
		os.WriteFile("testdata/vectors.json", append(out, '\n'), 0o644)
	}
	want, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(out)) {
		t.Fatalf("statements differ from testdata/vectors.json (run with -update if the format changed on purpose):\n%s", out)
	}
}

func TestOpenRefuses(t *testing.T) {
	licensee, other := seedKey(t, 1), seedKey(t, 4)
	at := asset.NewTime(time.Now())
	req := &Request{Asset: testAsset(), Created: at, Licensee: licensee.DID(), Nonce: NewNonce(), Purpose: "train"}
	if _, err := req.Sign(other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("signed by another key: %v", err)
	}
	bad := *req
	bad.Purpose = "dance"
	if _, err := bad.Sign(licensee); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown purpose: %v", err)
	}
	bad = *req
	bad.Nonce = "short"
	if _, err := bad.Sign(licensee); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short nonce: %v", err)
	}
	// A request signed by someone else than its licensee is refused.
	payload, _ := canonjson.Marshal(req)
	env, _ := identity.Sign(identity.PayloadType(KindRequest), payload, other)
	if _, _, err := OpenRequest(env); !errors.Is(err, ErrInvalid) {
		t.Fatalf("request signed by a non-licensee: %v", err)
	}
	// Non-canonical payloads are refused: one statement, one id.
	loose := append([]byte(" "), payload...)
	env, _ = identity.Sign(identity.PayloadType(KindRequest), loose, licensee)
	if _, _, err := OpenRequest(env); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-canonical payload: %v", err)
	}
	// A grant with an empty window is refused.
	server := seedKey(t, 3)
	g := &Grant{Asset: req.Asset, ID: testAsset(), Issuer: server.DID(), Licensee: licensee.DID(), NotBefore: at, NotAfter: at, Purpose: "train", Terms: content.IDFromDigest([32]byte{9})}
	genv, _ := g.Sign(server)
	if _, err := OpenGrant(genv); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty window: %v", err)
	}
}

func TestNeedsGrant(t *testing.T) {
	for _, name := range license.TemplateNames() {
		tm, _ := license.Template(name)
		if got, want := NeedsGrant(tm), name != "open"; got != want {
			t.Errorf("%s: NeedsGrant = %v, want %v", name, got, want)
		}
	}
	if NeedsGrant(nil) {
		t.Error("no terms need a grant")
	}
}

// FuzzOpen feeds arbitrary payloads through every statement parser: they
// must never panic, and what they accept must be canonical.
func FuzzOpen(f *testing.F) {
	raw, _ := os.ReadFile("testdata/vectors.json")
	var vs []vector
	json.Unmarshal(raw, &vs)
	for _, v := range vs {
		f.Add(v.Payload)
	}
	f.Add(`{"asset":"x"}`)
	k := seedKey(f, 7)
	f.Fuzz(func(t *testing.T, payload string) {
		for _, kind := range []string{KindRequest, KindGrant, KindApproval, KindRevocation} {
			env, err := identity.Sign(identity.PayloadType(kind), []byte(payload), k)
			if err != nil {
				return
			}
			OpenRequest(env)
			OpenGrant(env)
			OpenApproval(env)
			OpenRevocation(env)
		}
		var r Request
		if requestFormat.Parse([]byte(payload), &r) == nil {
			c, _ := canonjson.Marshal(&r)
			if string(c) != payload {
				t.Fatalf("accepted non-canonical %q", payload)
			}
		}
	})
}
