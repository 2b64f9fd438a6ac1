package asset

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// ErrNoRight reports a registration that names a parent without the right
// to derive from it: no cited grant, a grant that does not allow a
// derivative use, is held by someone else, revoked or out of its window, or
// a derivative that the parent's terms refuse as declared. The error is a
// *DerivationError naming the parent and the term.
var ErrNoRight = errors.New("asset: no right to derive from the parent")

// ErrUnknownGrant is what a RightLookup returns for a grant it does not
// hold.
var ErrUnknownGrant = errors.New("asset: unknown grant")

// ClockSkew is how far a derived asset's creation time may be from the
// registry's clock when it is registered, and how far before a grant's
// window it may lie (the grant's clock and the owners' clock differ).
const ClockSkew = 5 * time.Minute

// Right is a grant cited as the right to derive, as the registry holds it
// at the registration's position in the log.
type Right struct {
	Grant    ID           // the grant's id
	Asset    ID           // the asset the grant is on
	Licensee identity.DID // who holds it
	// Derivative: the grant's decision allowed a derivative use.
	Derivative bool
	// Commercial: the grant's decision allowed commercial use.
	Commercial bool
	NotBefore  time.Time
	NotAfter   time.Time // the window is [NotBefore, NotAfter)
	// Revoked: revoked before the registration.
	Revoked bool
	// Terms are the parent's terms the grant was made under: what the
	// derivative owes.
	Terms *license.Terms
}

// RightLookup returns the grant with id as a Right. It returns (nil, nil)
// or an error matching ErrUnknownGrant for a grant the registry does not
// hold; any other error is passed on.
type RightLookup func(id ID) (*Right, error)

// TermsLookup returns the parsed terms a manifest's License names, nil
// for "" (no licence).
type TermsLookup func(ref string) (*license.Terms, error)

// DerivationError says which parent a registration has no right to derive
// from and why: Term is the member at fault (of the parent's terms, such as
// "derivatives.royalty", or of the grant: "grant", "grant.derivative",
// "grant.licensee", "grant.revoked", "grant.window", "grant.commercial").
// Hint says what to do.
type DerivationError struct {
	Parent  ID
	Grant   ID // zero when none is cited
	Term    string
	Problem string
	Hint    string
}

func (e *DerivationError) Error() string {
	s := fmt.Sprintf("%v: %s: %s: %s", ErrNoRight, e.Parent, e.Term, e.Problem)
	if e.Hint != "" {
		s += "\nhint: " + e.Hint
	}
	return s
}

// Unwrap returns ErrNoRight.
func (e *DerivationError) Unwrap() error { return ErrNoRight }

// RequestHint is the command that asks for the right to derive from
// parent: a derivative grant, commercial when the derivative will be.
func RequestHint(parent ID, commercial bool) string {
	s := fmt.Sprintf("charter grant request %s --purpose train --derivative", parent)
	if commercial {
		s += " --commercial"
	}
	return s
}

// CheckDerivation decides whether the owners of m have the right to
// derive it from each of its parents. For every parent P the manifest
// cites a grant that
//
//   - exists and is on P,
//   - allowed a derivative use when it was decided,
//   - is held by one of m's owners,
//   - is not revoked,
//   - has a window containing m's creation time (NotBefore up to
//     ClockSkew later than it),
//   - allowed commercial use if the derivative's licence does,
//
// and the derivative declared in m (royalty, stacking, licence) is one the
// terms the grant was made under allow (license.CheckDerivative).
//
// The time judged is m.Created, so that replaying the log decides the
// same; the live path also checks that m.Created is recent (CheckFresh).
// Rights and terms are looked up through the loaders: at a registration's
// log position they hold what the log held before it.
func CheckDerivation(m *Manifest, rights RightLookup, terms TermsLookup) error {
	if len(m.Parents) == 0 {
		return nil
	}
	var child *license.Terms
	if m.License != "" {
		t, err := terms(m.License)
		if err != nil {
			return fmt.Errorf("asset: the licence the manifest names: %w", err)
		}
		child = t
	}
	created := m.Created.Time()
	for _, p := range m.Parents {
		commercial := license.AllowsCommercial(child)
		fail := func(term, problem, hint string) error {
			if hint == "" {
				hint = RequestHint(p.Asset, commercial) + ", then publish again"
			}
			return &DerivationError{Parent: p.Asset, Grant: p.Grant, Term: term, Problem: problem, Hint: hint}
		}
		if p.Grant.IsZero() {
			return fail("grant", "the manifest cites no grant on this parent", "")
		}
		r, err := rights(p.Grant)
		if errors.Is(err, ErrUnknownGrant) || err == nil && r == nil {
			return fail("grant", fmt.Sprintf("grant %s is not known here", p.Grant), "")
		}
		if err != nil {
			return fmt.Errorf("asset: looking up grant %s: %w", p.Grant, err)
		}
		switch {
		case r.Asset != p.Asset:
			return fail("grant", fmt.Sprintf("grant %s is on asset %s, not on this parent", p.Grant, r.Asset), "")
		case !r.Derivative:
			return fail("grant.derivative", fmt.Sprintf("grant %s was not given for a derivative use", p.Grant), "")
		case !slices.ContainsFunc(m.Owners, func(o Owner) bool { return o.DID == r.Licensee }):
			return fail("grant.licensee", fmt.Sprintf("grant %s is held by %s, who is not an owner of the new asset", p.Grant, r.Licensee), "")
		case r.Revoked:
			return fail("grant.revoked", fmt.Sprintf("grant %s was revoked by the parent's owners", p.Grant), "")
		case created.Add(ClockSkew).Before(r.NotBefore) || !created.Before(r.NotAfter):
			return fail("grant.window", fmt.Sprintf("the manifest was created at %s, grant %s is valid from %s until %s", stamp(created), p.Grant, stamp(r.NotBefore), stamp(r.NotAfter)), "")
		case commercial && !r.Commercial:
			what := "the derivative's licence allows commercial use"
			if child == nil {
				what = "the derivative has no licence, so it is free to use commercially"
			}
			return fail("grant.commercial", fmt.Sprintf("%s; grant %s was given for non-commercial use", what, p.Grant), "")
		case r.Terms == nil:
			return fmt.Errorf("asset: grant %s has no terms", p.Grant)
		}
		err = license.CheckDerivative(r.Terms, license.Derived{Royalty: int64(p.Royalty), Stacking: license.Stacking(p.Stacking), Terms: child})
		var fe *license.FieldError
		if errors.As(err, &fe) {
			hint := fe.Hint
			if fe.Field == "derivatives.royalty" {
				hint += fmt.Sprintf(": charter publish ... --parent %s=PERCENT", p.Asset)
			}
			return &DerivationError{Parent: p.Asset, Grant: p.Grant, Term: fe.Field, Problem: fe.Problem, Hint: hint}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckFresh is the live path's rule for a derived asset: its creation
// time, against which grant windows are judged, is within ClockSkew of now.
// Replay does not re-check it (the log position, not a clock, orders
// entries then).
func CheckFresh(m *Manifest, now time.Time) error {
	if len(m.Parents) == 0 {
		return nil
	}
	d := now.Sub(m.Created.Time())
	if d > ClockSkew || d < -ClockSkew {
		return invalid(ErrField, "a derived asset's manifest was created at %s, more than %s from the registry's clock (%s)\nhint: sign the manifest again now; check your clock", stamp(m.Created.Time()), ClockSkew, stamp(now))
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
