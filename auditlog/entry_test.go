package auditlog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEntryEncoding(t *testing.T) {
	b, err := EncodeEntry(TypeAssetRegister, []byte(`{"payload":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "charter/log-entry@v1 asset.register\n{\"payload\":\"x\"}"; string(b) != want {
		t.Fatalf("EncodeEntry = %q, want %q", b, want)
	}
	e, err := DecodeEntry(b)
	if err != nil || e.Type != TypeAssetRegister || string(e.Payload) != `{"payload":"x"}` {
		t.Fatalf("DecodeEntry = %+v, %v", e, err)
	}
	// Payloads are binary-safe, newlines included.
	bin := []byte("line1\nline2\x00\xff")
	b, _ = EncodeEntry("usage", bin)
	if e, err := DecodeEntry(b); err != nil || !bytes.Equal(e.Payload, bin) {
		t.Fatalf("binary payload: %+v, %v", e, err)
	}
}

func TestEntryTypes(t *testing.T) {
	for _, typ := range []string{
		TypeAssetRegister, TypeAssetProposal, TypeAssetApproval, TypeLicense, TypeGrant,
		TypeDecision, TypeRevocation, TypeReceipt, TypeUsage, TypeSettlement, TypeDispute,
		"a", "ledger.batch-root", "x9.y_z", strings.Repeat("a", MaxTypeLen),
	} {
		if err := ValidType(typ); err != nil {
			t.Errorf("ValidType(%q) = %v", typ, err)
		}
	}
	for _, typ := range []string{
		"", "Asset", "asset register", "asset..register", ".asset", "asset.", "9lives",
		"asset.register\n", "asset/register", "é", strings.Repeat("a", MaxTypeLen+1), "a-", "a_.b",
	} {
		if err := ValidType(typ); !errors.Is(err, ErrBadType) {
			t.Errorf("ValidType(%q) = %v, want ErrBadType", typ, err)
		}
		if _, err := EncodeEntry(typ, []byte("x")); !errors.Is(err, ErrBadType) {
			t.Errorf("EncodeEntry(%q) = %v", typ, err)
		}
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", ErrMalformed},
		{"charter/log-entry@v1 grant", ErrMalformed},
		{"charter/log-entry@v1 grant\n", ErrMalformed},
		{"charter/log-entry@v2 grant\nx", ErrMalformed},
		{"charter/log-entry@v1  grant\nx", ErrBadType},
		{"charter/log-entry@v1 Grant\nx", ErrBadType},
		{"charter/log-entry@v1 \nx", ErrBadType},
		{"charter/log-entry@v1 gr ant\nx", ErrBadType},
		{"{\"type\":\"grant\"}", ErrMalformed},
		{"charter/log-entry@v1 grant\n" + strings.Repeat("x", MaxEntrySize), ErrTooLarge},
	} {
		if _, err := DecodeEntry([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("DecodeEntry(%.40q) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte("charter/log-entry@v1 asset.register\n{}"))
	f.Add([]byte("charter/log-entry@v1 a\n\n"))
	f.Add([]byte("charter/log-entry@v1 \n"))
	f.Add([]byte("charter/log-entry@v1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadType) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes: one encoding per entry.
		again, err := e.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", e, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %q gave %q", b, again)
		}
	})
}
