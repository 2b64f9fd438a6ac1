package assetfilter

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

func did(t *testing.T, b byte) identity.DID {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k.DID()
}

// TestMatch: each filter alone and together, on a licensed asset whose
// terms read, one whose terms do not, and an unlicensed one.
func TestMatch(t *testing.T) {
	alice, bob := did(t, 1), did(t, 2)
	st := &asset.State{Manifest: asset.Manifest{Name: "Corpus of Letters"}, Contributors: []asset.Contributor{{DID: alice, Share: asset.Whole}}, License: "terms"}
	unlicensed := &asset.State{Manifest: asset.Manifest{Name: "corpus two"}}
	research := &license.Terms{Name: "research-only", Purposes: []license.Purpose{license.Purpose("research"), license.Purpose("evaluate")}}
	paid := &license.Terms{Name: "commercial-training", Purposes: []license.Purpose{license.Purpose("train")}}
	paid.Price.Model = license.PerGiB
	read := func(t *license.Terms) func(string) *license.Terms { return func(string) *license.Terms { return t } }
	for _, tc := range []struct {
		name  string
		f     Filter
		st    *asset.State
		terms *license.Terms
		want  bool
	}{
		{"none", Filter{}, st, nil, true},
		{"q in name, folded", Filter{Q: "letters"}, st, nil, true},
		{"q not in name", Filter{Q: "maps"}, st, nil, false},
		{"contributor", Filter{Contributor: alice.String()}, st, nil, true},
		{"other contributor", Filter{Contributor: bob.String()}, st, nil, false},
		{"licence name", Filter{License: "research-only"}, st, research, true},
		{"other licence name", Filter{License: "open"}, st, research, false},
		{"terms unreadable", Filter{License: "research-only"}, st, nil, false},
		{"purpose allowed", Filter{Purpose: "evaluate"}, st, research, true},
		{"purpose not allowed", Filter{Purpose: "train"}, st, research, false},
		{"free", Filter{Price: Free}, st, research, true},
		{"paid is not free", Filter{Price: Free}, st, paid, false},
		{"paid", Filter{Price: Paid}, st, paid, true},
		{"none: licensed", Filter{Price: None}, st, research, false},
		{"none: unreadable terms are still a licence", Filter{Price: None}, st, nil, false},
		{"none: unlicensed", Filter{Price: None}, unlicensed, nil, true},
		{"unlicensed has no purpose", Filter{Purpose: "train"}, unlicensed, paid, false},
		{"all together", Filter{Q: "corpus", Contributor: alice.String(), License: "commercial-training", Purpose: "train", Price: Paid}, st, paid, true},
	} {
		if got := tc.f.Match(tc.st, read(tc.terms)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQuery(t *testing.T) {
	if q, err := Query("Letters"); err != nil || q != "letters" {
		t.Fatalf("%q %v", q, err)
	}
	for _, bad := range []string{strings.Repeat("x", MaxQuery+1), "\xff"} {
		if _, err := Query(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for s, want := range map[string]bool{"research-only": true, "cc-by-4.0": true, "Open": false, "a b": false, strings.Repeat("a", 65): false} {
		if LicenseName(s) != want {
			t.Errorf("LicenseName(%q) = %v", s, !want)
		}
	}
}

// FuzzQuery: a search either parses within its bound, lower-cased, or is
// refused; it never panics.
func FuzzQuery(f *testing.F) {
	f.Add("Corpus")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Query(s)
		if err == nil && (len(s) > MaxQuery || q != strings.ToLower(s)) {
			t.Fatalf("%q accepted as %q", s, q)
		}
	})
}
