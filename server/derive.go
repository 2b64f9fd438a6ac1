package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/registry"
)

// The right to derive (asset.CheckDerivation) is checked on the live path
// against the catalog, and on replay by the registry against the
// transaction (registry.RightLookup), so both see the grants, revocations
// and terms the log held before the registration.

// rightLookup is registry.RightLookup over the catalog's grants and the
// stored terms.
func (s *Server) rightLookup(ctx context.Context) asset.RightLookup {
	return registry.RightLookup(func(id string) (*catalog.GrantRecord, error) { return s.cat.Grant(ctx, id) }, s.termsLookup(ctx))
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
	return s.derivationProblem(asset.CheckDerivation(m, s.rightLookup(ctx), s.termsLookup(ctx)))
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
