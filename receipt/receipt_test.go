package receipt_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/receipt"
)

// logged appends a signed statement to a real log and returns its bundle.
func logged(t testing.TB) (*receipt.Bundle, string) {
	t.Helper()
	ctx := context.Background()
	skey, vkey, err := auditlog.GenerateKey("test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auditlog.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(ctx, t.TempDir(), signer, auditlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	k, _ := identity.Generate()
	env, err := identity.Sign(identity.PayloadType("test"), []byte(`{"hello":"world"}`), k)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := env.Marshal()
	for i := range 5 {
		if _, err := l.Append(ctx, "filler", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.AppendAndProve(ctx, "test.statement", raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := receipt.New(r, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &b, vkey
}

func TestVerify(t *testing.T) {
	b, vkey := logged(t)
	raw, _ := json.Marshal(b)
	parsed, err := receipt.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := receipt.Verify(parsed, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if res.Index != 5 || res.EntryType != "test.statement" || len(res.Signers) != 1 || string(res.Payload) != `{"hello":"world"}` {
		t.Fatalf("result: %+v", res)
	}

	// Another log's key is refused.
	_, other, _ := auditlog.GenerateKey("other.example/log")
	if _, err := receipt.Verify(parsed, other); !errors.Is(err, receipt.ErrUntrustedLog) {
		t.Fatalf("other log: %v", err)
	}
	// Tampering with any part is detected.
	for name, edit := range map[string]func(x *receipt.Bundle){
		"index":      func(x *receipt.Bundle) { x.Index++ },
		"entry type": func(x *receipt.Bundle) { x.EntryType = "other" },
		"entry":      func(x *receipt.Bundle) { x.Entry = x.Entry[:20] + "A" + x.Entry[21:] },
		"proof":      func(x *receipt.Bundle) { x.Proof = x.Proof[:40] + "Z" + x.Proof[41:] },
	} {
		x := *parsed
		edit(&x)
		if _, err := receipt.Verify(&x, vkey); err == nil {
			t.Errorf("%s tampered: verified", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := logged(f)
	raw, _ := json.Marshal(b)
	f.Add(raw)
	f.Add([]byte(`{"format":"charter.receipt/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := receipt.Parse(data)
		if err != nil {
			return
		}
		receipt.Verify(x, "") // must not panic
	})
}

// BenchmarkVerify: verifying a receipt offline. Target <= 1 ms. The
// baseline in the same run is the DSSE signature check alone.
func BenchmarkVerify(b *testing.B) {
	x, vkey := logged(b)
	e, _ := auditlog.DecodeEntry(mustB64(b, x.Entry))
	env, _ := identity.ParseEnvelope(e.Payload)
	b.Run("receipt", func(b *testing.B) {
		for b.Loop() {
			if _, err := receipt.Verify(x, vkey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-dsse-only", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := identity.Verify(env, env.PayloadType); err != nil {
				b.Fatal(err)
			}
		}
	})
}
