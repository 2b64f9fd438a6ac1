package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// The right to derive (asset.CheckDerivation) is checked on the live path
// against the catalog and on replay against the transaction, so both see
// the grants, revocations and terms the log held before the registration.

// rightLookup is the asset.RightLookup over grant records read by get
// (the catalog, or a transaction).
func (s *Server) rightLookup(ctx context.Context, get func(string) (*catalog.GrantRecord, error)) asset.RightLookup {
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
		terms, _, err := s.loadTerms(ctx, g.Terms.String())
		if err != nil {
			return nil, err
		}
		return g.Right(rec.Revoked, terms), nil
	}
}

// termsLookup is the asset.TermsLookup over the stored terms.
func (s *Server) termsLookup(ctx context.Context) asset.TermsLookup {
	return func(ref string) (*license.Terms, error) {
		t, _, err := s.loadTerms(ctx, ref)
		return t, err
	}
}

// checkDerivation is the live path's check of the right to derive, at
// time now: the manifest is recent and asset.CheckDerivation holds. A
// refusal is a problem naming the parent and the term, with the command
// that asks for the right.
func (s *Server) checkDerivation(ctx context.Context, m *asset.Manifest, now time.Time) error {
	if err := asset.CheckFresh(m, now); err != nil {
		return err
	}
	return s.derivationProblem(asset.CheckDerivation(m, s.rightLookup(ctx, func(id string) (*catalog.GrantRecord, error) { return s.cat.Grant(ctx, id) }), s.termsLookup(ctx)))
}

// derivationProblem turns a refusal of the right to derive into a problem
// naming the parent and the term, with the command that asks for the right.
func (s *Server) derivationProblem(err error) error {
	var de *asset.DerivationError
	if errors.As(err, &de) {
		return errorf(http.StatusForbidden, "no-right-to-derive", "No right to derive from the parent",
			fmt.Sprintf("parent %s, %s: %s", de.Parent, de.Term, de.Problem), de.Hint, err)
	}
	return err
}

// applyDerivation is replay's check of the right to derive: the same
// rule at the registration's log position. A refusal, or a licence or
// grant that can never be read, marks the entry as not applying; any other
// error (I/O) is returned.
func (s *Server) applyDerivation(ctx context.Context, tx catalog.Tx, m *asset.Manifest) error {
	err := asset.CheckDerivation(m, s.rightLookup(ctx, tx.Grant), s.termsLookup(ctx))
	var he *httpError
	if errors.Is(err, asset.ErrNoRight) || errors.As(err, &he) || errors.Is(err, identity.ErrBadEnvelope) || errors.Is(err, identity.ErrBadSignature) || errors.Is(err, grant.ErrMalformed) || errors.Is(err, grant.ErrInvalid) {
		return invalidEntry{err}
	}
	return err
}
