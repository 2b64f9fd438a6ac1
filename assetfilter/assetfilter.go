// Package assetfilter holds the filters of an asset list that read an
// asset's state or its licence terms (a part of its name, a contributor,
// the terms' name, a purpose they allow, free or paid or unlicensed) and
// the rule each one matches by. It does no I/O: a caller reads the states
// (catalog.Pages) and the terms (license.Parse of the stored document) and
// asks Match; server answers GET /v1/assets with it.
package assetfilter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/license"
)

// MaxQuery bounds Q, in bytes (names are short).
const MaxQuery = 200

// Price classes of licence terms.
const (
	Free = "free" // terms whose price model is free (or unset)
	Paid = "paid" // terms with any other price model
	None = "none" // no licence at all
)

// Prices lists the price classes, for messages.
func Prices() []string { return []string{Free, Paid, None} }

// ErrInvalid marks a filter value that cannot match anything as given.
var ErrInvalid = errors.New("assetfilter: invalid filter")

// Filter is the filters of an asset list request; the zero Filter passes
// every asset.
type Filter struct {
	Q           string          // a part of the name or a prefix of the id, lower-cased
	Contributor string          // a DID among the contributors
	License     string          // the terms' name
	Purpose     license.Purpose // a purpose the terms allow
	Price       string          // Free, Paid or None
}

// Set reports whether any filter is set.
func (f Filter) Set() bool {
	return f.Q != "" || f.Contributor != "" || f.License != "" || f.Purpose != "" || f.Price != ""
}

// NeedTerms reports whether matching reads the asset's licence terms.
func (f Filter) NeedTerms() bool { return f.License != "" || f.Purpose != "" || f.Price != "" }

// Query checks a name search and returns it lower-cased.
func Query(s string) (string, error) {
	if len(s) > MaxQuery || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: a search of %d bytes, not at most %d bytes of UTF-8", ErrInvalid, len(s), MaxQuery)
	}
	return strings.ToLower(s), nil
}

// LicenseName reports whether s can be the name of licence terms:
// lower-case letters, digits, '.', '_' and '-', at most 64 bytes
// (license.Terms).
func LicenseName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// MatchName reports whether f.Contributor is among the asset's
// contributors and the asset's name holds f.Q (case folded) or its id
// starts with it.
func (f Filter) MatchName(st *asset.State) bool {
	if f.Contributor != "" && !slices.ContainsFunc(st.Contributors, func(c asset.Contributor) bool { return c.DID.String() == f.Contributor }) {
		return false
	}
	if f.Q == "" {
		return true
	}
	return strings.Contains(strings.ToLower(st.Manifest.Name), f.Q) || strings.HasPrefix(st.Asset.String(), f.Q)
}

// MatchTerms reports whether terms t pass the terms filters; t is nil
// when the asset has no licence (licensed false) or its terms cannot be
// read (then the asset matches no terms filter but Price None's opposite).
func (f Filter) MatchTerms(t *license.Terms, licensed bool) bool {
	switch f.Price {
	case None:
		if licensed {
			return false
		}
	case Free, Paid:
		if t == nil {
			return false
		}
		free := t.Price.Model == "" || t.Price.Model == license.Free
		if free != (f.Price == Free) {
			return false
		}
	}
	if f.License != "" && (t == nil || t.Name != f.License) {
		return false
	}
	if f.Purpose != "" && (t == nil || !slices.Contains(t.Purposes, f.Purpose)) {
		return false
	}
	return true
}

// Match reports whether an asset passes every filter: its state, and its
// terms as terms(ref) reads them (called only when a terms filter is set;
// nil when they cannot be read).
func (f Filter) Match(st *asset.State, terms func(ref string) *license.Terms) bool {
	if !f.MatchName(st) {
		return false
	}
	if !f.NeedTerms() {
		return true
	}
	var t *license.Terms
	if st.License != "" {
		t = terms(st.License)
	}
	return f.MatchTerms(t, st.License != "")
}
