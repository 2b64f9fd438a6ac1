package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// The right to derive (asset.CheckDerivation) is checked on the live path
// against the catalog and on replay against the transaction, so both see
// the grants, revocations and terms the log held before the registration.

// RightLookup is the asset.RightLookup over grant records read by get (a
// catalog reader, or a transaction), with the terms each grant was made
// under read by terms.
func RightLookup(get func(string) (*catalog.GrantRecord, error), terms asset.TermsLookup) asset.RightLookup {
	return func(id asset.ID) (*asset.Right, error) {
		rec, err := get(id.String())
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, asset.ErrUnknownGrant
		}
		if err != nil {
			return nil, err
		}
		env, err := identity.ParseEnvelope(rec.Envelope)
		if err != nil {
			return nil, err
		}
		g, err := grant.OpenGrant(env)
		if err != nil {
			return nil, err
		}
		t, err := terms(g.Terms.String())
		if err != nil {
			return nil, err
		}
		return g.Right(rec.Revoked, t), nil
	}
}

// ErrBadTerms marks licence terms that cannot be read: a reference that is
// not a content id, terms that are not stored, or a document that is not
// valid terms.
var ErrBadTerms = errors.New("licence terms unreadable")

// termsLookup is the asset.TermsLookup over the terms the log carried
// before the entry being applied.
func (r *Registry) termsLookup(tx catalog.Tx) asset.TermsLookup {
	return func(ref string) (*license.Terms, error) { return r.loadTerms(tx, ref) }
}

// parsedTerms is a terms document and its parse, kept by content id.
type parsedTerms struct {
	raw   []byte
	terms *license.Terms
}

// loadTerms reads the licence terms ref names from the parts of them the
// log carried (never from the blob store): terms the log does not hold
// whole, or that do not hash to ref, are ErrBadTerms.
func (r *Registry) loadTerms(tx catalog.Tx, ref string) (*license.Terms, error) {
	id, err := content.ParseID(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: licence %q is not a content id: %w", ErrBadTerms, ref, err)
	}
	if v, ok := r.terms.Load(id); ok {
		// Whether the log holds the terms at this position is read each
		// time; only their parse is kept.
		if raw, err := termParts(tx, id); err != nil || !bytes.Equal(raw, v.(*parsedTerms).raw) {
			return nil, carriedErr(id, err)
		}
		return v.(*parsedTerms).terms, nil
	}
	raw, err := carriedTerms(tx, id)
	if err != nil {
		return nil, err
	}
	t, err := license.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTerms, err)
	}
	r.terms.Store(id, &parsedTerms{raw: raw, terms: t})
	return t, nil
}

// applyDerivation is replay's check of the right to derive: the rule of
// the live path at the registration's log position. A refusal, or a
// licence or grant that can never be read, marks the entry as not
// applying; any other error (I/O) is returned.
func (r *Registry) applyDerivation(ctx context.Context, tx catalog.Tx, m *asset.Manifest) error {
	err := asset.CheckDerivation(m, RightLookup(tx.Grant, r.termsLookup(tx)), r.termsLookup(tx))
	if errors.Is(err, asset.ErrNoRight) || errors.Is(err, ErrBadTerms) || errors.Is(err, identity.ErrBadEnvelope) || errors.Is(err, identity.ErrBadSignature) || errors.Is(err, grant.ErrMalformed) || errors.Is(err, grant.ErrInvalid) {
		return NoEffect{err}
	}
	return err
}
