package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
// stored terms; every terms reference read is added to *read.
func (s *Server) rightLookup(ctx context.Context, read *[]string) asset.RightLookup {
	return registry.RightLookup(func(id string) (*catalog.GrantRecord, error) { return s.cat.Grant(ctx, id) }, s.termsLookup(ctx, read))
}

// termsLookup is the asset.TermsLookup over the stored terms; every
// reference it reads is added to *read, the terms the log must carry
// before the statement so that applying it reads what this check read
// (carryAll).
func (s *Server) termsLookup(ctx context.Context, read *[]string) asset.TermsLookup {
	return func(ref string) (*license.Terms, error) {
		t, _, err := s.loadTerms(ctx, ref)
		if err == nil && !slices.Contains(*read, ref) {
			*read = append(*read, ref)
		}
		return t, err
	}
}

// carryAll puts every terms reference of refs into the log (carryTerms).
func (s *Server) carryAll(ctx context.Context, refs []string) error {
	for _, ref := range refs {
		if err := s.carryTerms(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// checkDerivation is the live path's check of the right to derive, at
// time now: the manifest is recent and asset.CheckDerivation holds. A
// refusal is a problem naming the parent and the term, with the command
// that asks for the right.
//
// The terms it read are added to *read.
func (s *Server) checkDerivation(ctx context.Context, m *asset.Manifest, now time.Time, read *[]string) error {
	if err := asset.CheckFresh(m, now); err != nil {
		return err
	}
	return s.derivationProblem(asset.CheckDerivation(m, s.rightLookup(ctx, read), s.termsLookup(ctx, read)))
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
