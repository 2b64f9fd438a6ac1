package license

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// deriveVector is one case of testdata/derivatives.json: the parent's
// terms, what the derivative declares, and the member of the parent's
// terms that refuses it ("" when it is allowed).
type deriveVector struct {
	Name     string          `json:"name"`
	Parent   json.RawMessage `json:"parent"`
	Royalty  int64           `json:"royalty"`
	Stacking Stacking        `json:"stacking"`
	Child    json.RawMessage `json:"child"` // terms, or null for no licence
	Refused  string          `json:"refused"`
}

func deriveCases(t *testing.T) []deriveVector {
	tpl := func(name string) *Terms {
		tm, err := Template(name)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	enc := func(tm *Terms) json.RawMessage {
		if tm == nil {
			return json.RawMessage("null")
		}
		b, err := tm.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nonCommercialDerivable := tpl("research-only")
	nonCommercialDerivable.Name = "research-derivable"
	nonCommercialDerivable.Derivatives = Derivatives{Allowed: true, Royalty: 10_000, Stacking: Relative}
	commercialResearch := tpl("research-only")
	commercialResearch.Name = "research-commercial"
	commercialResearch.Commercial = true
	type c struct {
		name     string
		parent   *Terms
		royalty  int64
		stacking Stacking
		child    *Terms
		refused  string
	}
	cases := []c{
		{"commercial-training parent, royalty as asked", tpl("commercial-training"), 50_000, Relative, tpl("inference-metered"), ""},
		{"commercial-training parent, more royalty than asked", tpl("commercial-training"), 200_000, Relative, tpl("approval-required"), ""},
		{"commercial-training parent, less royalty than asked", tpl("commercial-training"), 49_999, Relative, tpl("inference-metered"), "derivatives.royalty"},
		{"commercial-training parent, absolute instead of relative", tpl("commercial-training"), 50_000, Absolute, tpl("inference-metered"), "derivatives.stacking"},
		{"commercial-training parent, no licence on the child", tpl("commercial-training"), 50_000, Relative, nil, ""},
		{"research-only parent forbids derivatives", tpl("research-only"), 200_000, Relative, tpl("research-only"), "derivatives.allowed"},
		{"inference-metered parent forbids derivatives", tpl("inference-metered"), 0, Relative, tpl("inference-metered"), "derivatives.allowed"},
		{"open parent, no royalty, any licence", tpl("open"), 0, Relative, tpl("commercial-training"), ""},
		{"open parent, absolute stacking is free to choose", tpl("open"), 10_000, Absolute, nil, ""},
		{"reciprocal parent, same terms", tpl("approval-required"), 100_000, Absolute, tpl("approval-required"), ""},
		{"reciprocal parent, other terms", tpl("approval-required"), 100_000, Absolute, tpl("open"), "derivatives.reciprocal"},
		{"reciprocal parent, no licence", tpl("approval-required"), 100_000, Absolute, nil, "derivatives.reciprocal"},
		{"non-commercial parent, non-commercial child", nonCommercialDerivable, 10_000, Relative, tpl("research-only"), ""},
		{"non-commercial parent, commercial child", nonCommercialDerivable, 10_000, Relative, tpl("commercial-training"), "commercial"},
		{"non-commercial parent, no licence on the child", nonCommercialDerivable, 10_000, Relative, nil, "commercial"},
		{"non-commercial child of a commercial parent", commercialResearch, 0, Relative, tpl("research-only"), "derivatives.allowed"},
	}
	var out []deriveVector
	for _, x := range cases {
		out = append(out, deriveVector{Name: x.name, Parent: enc(x.parent), Royalty: x.royalty, Stacking: x.stacking, Child: enc(x.child), Refused: x.refused})
	}
	return out
}

// runDeriveVector parses a vector's documents and applies CheckDerivative.
func runDeriveVector(v deriveVector) (string, error) {
	parent, err := Parse(v.Parent)
	if err != nil {
		return "", err
	}
	var child *Terms
	if string(v.Child) != "null" {
		if child, err = Parse(v.Child); err != nil {
			return "", err
		}
	}
	err = CheckDerivative(parent, Derived{Royalty: v.Royalty, Stacking: v.Stacking, Terms: child})
	if err == nil {
		return "", nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrDerivative) {
		return "", err
	}
	return fe.Field, nil
}

// TestVectorsDerivatives: testdata/derivatives.json holds the cases of the
// compatibility rules (docs/spec/license-terms.md, "Derivatives"); the
// file is what this implementation decides, and each case refuses on the
// member it names.
func TestVectorsDerivatives(t *testing.T) {
	cases := deriveCases(t)
	for _, v := range cases {
		got, err := runDeriveVector(v)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if got != v.Refused {
			t.Errorf("%s: refused on %q, want %q", v.Name, got, v.Refused)
		}
	}
	b, err := json.MarshalIndent(map[string]any{
		"comment": "Derivative compatibility (docs/spec/license-terms.md, Derivatives): parent terms, the royalty (ppm) and stacking the derivative declares, its own terms (null: no licence), and the parent's member that refuses it (\"\": allowed). Regenerate: go test ./license -run TestVectorsDerivatives -update",
		"vectors": cases,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, "derivatives.json", append(b, '\n'))

	// The file as another implementation reads it.
	raw, err := os.ReadFile(filepath.Join("testdata", "derivatives.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Vectors []deriveVector }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) != len(cases) {
		t.Fatalf("%d vectors in the file, %d cases", len(file.Vectors), len(cases))
	}
	for _, v := range file.Vectors {
		if got, err := runDeriveVector(v); err != nil || got != v.Refused {
			t.Errorf("file vector %s: refused on %q (%v), want %q", v.Name, got, err, v.Refused)
		}
	}
}

func TestDerivativeErrorNamesTerm(t *testing.T) {
	p, _ := Template("commercial-training")
	err := CheckDerivative(p, Derived{Royalty: 10_000, Stacking: Relative})
	if err == nil || !errors.Is(err, ErrDerivative) {
		t.Fatalf("got %v", err)
	}
	want := "license: derivative not allowed by the parent's terms: derivatives.royalty: the derivative declares a royalty of 1%, the parent's commercial-training terms ask at least 5%\nhint: declare the parent with a royalty of at least 5%"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant\n%s", err, want)
	}
	if ppm(12_345) != "1.2345%" || ppm(25_000) != "2.5%" || ppm(0) != "0%" {
		t.Errorf("ppm: %s %s %s", ppm(12_345), ppm(25_000), ppm(0))
	}
}
