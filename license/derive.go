package license

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrDerivative reports a derived asset that its parent's terms do not
// allow as declared. The error is a *FieldError whose Field names the
// member of the parent's terms at fault ("derivatives.allowed",
// "derivatives.royalty", "derivatives.stacking", "derivatives.reciprocal",
// "commercial").
var ErrDerivative = errors.New("license: derivative not allowed by the parent's terms")

// Derived is what a derived asset declares towards one parent: the royalty
// share it pays the parent and how it stacks (from its manifest), and the
// licence it carries (nil when it carries none).
type Derived struct {
	Royalty  int64    // parts per million, as asset.Share
	Stacking Stacking // relative or absolute; "" reads as relative
	Terms    *Terms   // the derivative's own terms; nil for no licence
}

func deriveErr(field, problem, hint string) error {
	return &FieldError{Err: ErrDerivative, Field: field, Problem: problem, Hint: hint}
}

// CheckDerivative decides whether a derivative declared as d may be
// registered under the parent's terms. The rules, in the order they are
// checked (docs/spec/license-terms.md, "Derivatives"):
//
//  1. derivatives.allowed must be true;
//  2. the declared royalty is at least derivatives.royalty;
//  3. when the terms ask a royalty, the declared stacking is the terms'
//     stacking;
//  4. when the parent is reciprocal, the derivative carries exactly the
//     parent's terms (the same canonical document);
//  5. when the parent forbids commercial use, the derivative carries terms
//     that forbid it too (no licence at all leaves the content free to
//     read, which is a grant of everything, so it is refused as well).
//
// It is pure: both terms are parsed already.
func CheckDerivative(parent *Terms, d Derived) error {
	pd := parent.Derivatives
	label := "the parent's terms"
	if parent.Name != "" {
		label = "the parent's " + parent.Name + " terms"
	}
	if !pd.Allowed {
		return deriveErr("derivatives.allowed", label+" do not allow derived assets", "ask the parent's owners for terms that allow derivatives")
	}
	if d.Royalty < pd.Royalty {
		return deriveErr("derivatives.royalty", fmt.Sprintf("the derivative declares a royalty of %s, %s ask at least %s", ppm(d.Royalty), label, ppm(pd.Royalty)),
			fmt.Sprintf("declare the parent with a royalty of at least %s", ppm(pd.Royalty)))
	}
	stacking := d.Stacking
	if stacking == "" {
		stacking = Relative
	}
	if pd.Royalty > 0 && stacking != pd.Stacking {
		return deriveErr("derivatives.stacking", fmt.Sprintf("the derivative stacks its royalty %s, %s ask %s", stacking, label, pd.Stacking),
			fmt.Sprintf("declare the parent's royalty as %s", pd.Stacking))
	}
	if pd.Reciprocal {
		same := false
		if d.Terms != nil {
			a, errA := parent.Encode()
			b, errB := d.Terms.Encode()
			same = errA == nil && errB == nil && bytes.Equal(a, b)
		}
		if !same {
			return deriveErr("derivatives.reciprocal", label+" are reciprocal: a derivative carries the same terms", "publish the derivative under the parent's terms document")
		}
	}
	if !parent.Commercial {
		switch {
		case d.Terms == nil:
			return deriveErr("commercial", label+" forbid commercial use; a derivative without a licence is free to read, commercially too", "publish the derivative under non-commercial terms, e.g. --license research-only")
		case d.Terms.Commercial:
			return deriveErr("commercial", label+" forbid commercial use; the derivative's terms allow it", "publish the derivative under non-commercial terms, e.g. --license research-only")
		}
	}
	return nil
}

// AllowsCommercial reports whether content under t (nil: no licence, free
// to read) may be used commercially.
func AllowsCommercial(t *Terms) bool { return t == nil || t.Commercial }

// ppm formats parts per million as a percentage, e.g. "2.5%".
func ppm(v int64) string {
	whole, frac := v/10_000, v%10_000
	if frac == 0 {
		return fmt.Sprintf("%d%%", whole)
	}
	s := fmt.Sprintf("%d.%04d", whole, frac)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s + "%"
}
