package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/receipt"
	"github.com/zeebo/blake3"
)

// A derived asset's registration receipt is a registration document: the
// registration's receipt bundle with, for every parent, the receipt of the
// grant the manifest cites and the parent's terms that grant was made
// under, and the derivative's own terms. `charter verify` re-runs the
// registration rule on it offline (docs/spec/asset-manifest.md, "Offline
// check of a derived asset").

// RegistrationFormat is the "format" member of a registration document.
const RegistrationFormat = "charter.registration/v1"

// registrationDoc is a registration document.
type registrationDoc struct {
	Format  string          `json:"format"`
	Receipt *receipt.Bundle `json:"receipt"`
	Rights  []rightEvidence `json:"rights"`
	// License is the derivative's terms (canonical JSON), null for none.
	License json.RawMessage `json:"license"`
}

// rightEvidence is what a registration document holds for one parent.
type rightEvidence struct {
	Parent       string          `json:"parent"`
	GrantReceipt *receipt.Bundle `json:"grant_receipt"`
	// Terms are the canonical terms the grant names (its "terms" id).
	Terms json.RawMessage `json:"terms"`
}

// heldRight is a derivative grant publish found for a parent.
type heldRight struct {
	grant *grant.Grant
	index uint64 // log index of the grant
	terms *license.Terms
	raw   []byte // canonical terms
}

// fetchTerms reads the terms stored under id.
func fetchTerms(ctx context.Context, c *client.Client, id content.ID) (*license.Terms, []byte, error) {
	var buf bytes.Buffer
	if _, err := c.Stream(ctx, id, &buf, nil); err != nil {
		return nil, nil, fmt.Errorf("reading terms %s: %w", id, err)
	}
	t, err := license.Parse(buf.Bytes())
	if err != nil {
		return nil, nil, err
	}
	return t, buf.Bytes(), nil
}

// findRight returns the derivative grant on parent to cite: the one named
// by want when it is not zero, else the newest unrevoked derivative grant
// held by one of owners that is valid now, commercial when commercial is
// set. It returns nil when there is none: the server then refuses the
// registration and says how to get one.
func findRight(ctx context.Context, c *client.Client, parent asset.ID, owners []asset.Owner, commercial bool, want asset.ID) (*heldRight, error) {
	var recs []client.GrantRecord
	if !want.IsZero() {
		r, err := c.Grant(ctx, want.String())
		if err != nil {
			return nil, fmt.Errorf("grant %s: %w", want, err)
		}
		recs = append(recs, *r)
	} else {
		for _, o := range owners {
			l, err := c.Grants(ctx, parent.String(), o.DID.String())
			if err != nil {
				return nil, err
			}
			recs = append(recs, l.Grants...)
		}
	}
	now := time.Now()
	var best *heldRight
	for _, r := range recs {
		env, err := identity.ParseEnvelope(r.Envelope)
		if err != nil {
			continue
		}
		g, err := grant.OpenGrant(env)
		if err != nil || g.Asset != parent {
			continue
		}
		if want.IsZero() && (r.Revoked || !g.Derivative || !g.ValidAt(now) || commercial && !g.Commercial) {
			continue
		}
		if best == nil || r.LogIndex > best.index {
			best = &heldRight{grant: g, index: r.LogIndex}
		}
	}
	if best == nil {
		return nil, nil
	}
	t, raw, err := fetchTerms(ctx, c, best.grant.Terms)
	if err != nil {
		return nil, err
	}
	best.terms, best.raw = t, raw
	return best, nil
}

// registrationDocument builds the registration document of a derived
// asset from its answer: the grants' receipts are fetched from the log.
func registrationDocument(ctx context.Context, c *client.Client, reg *receipt.Bundle, rights map[asset.ID]*heldRight, m *asset.Manifest, license []byte) (*registrationDoc, error) {
	doc := &registrationDoc{Format: RegistrationFormat, Receipt: reg, Rights: []rightEvidence{}, License: json.RawMessage("null")}
	if license != nil {
		doc.License = license
	}
	for _, p := range m.Parents {
		r := rights[p.Asset]
		if r == nil {
			continue
		}
		b, err := c.LogProof(ctx, r.index)
		if err != nil {
			return nil, fmt.Errorf("proving grant %s: %w", r.grant.ID, err)
		}
		doc.Rights = append(doc.Rights, rightEvidence{Parent: p.Asset.String(), GrantReceipt: b, Terms: r.raw})
	}
	return doc, nil
}

// verifyRegistration checks a registration document offline: the
// registration and every cited grant are in the same log, each grant was
// logged before the registration, and the registration rule
// (asset.CheckDerivation) holds on the grants and terms the file carries.
// Revocation is the one thing a file cannot show: a revocation logged
// before the registration would have made the registry refuse it, and
// `charter admin check` replays the log to confirm.
func verifyRegistration(doc *registrationDoc, logKey string) (*verifyResult, error) {
	if doc.Receipt == nil {
		return nil, fmt.Errorf("no registration receipt in the file")
	}
	res, err := verifyBundle(doc.Receipt, logKey)
	if err != nil {
		return nil, err
	}
	res.Kind = "registration"
	reg, _ := receipt.Verify(doc.Receipt, logKey)
	if reg.EntryType != auditlog.TypeAssetRegister {
		return nil, fmt.Errorf("the receipt is of a %s entry, not a registration", reg.EntryType)
	}
	m, id, _, err := asset.OpenManifest(reg.Envelope)
	if err != nil {
		return nil, err
	}
	termsByRef := map[string]*license.Terms{}
	if string(doc.License) != "null" && len(doc.License) > 0 {
		t, tid, err := termsIn(doc.License)
		if err != nil {
			return nil, fmt.Errorf("the derivative's terms: %w", err)
		}
		termsByRef[tid.String()] = t
	}
	rights := map[asset.ID]*asset.Right{}
	for _, ev := range doc.Rights {
		if ev.GrantReceipt == nil {
			return nil, fmt.Errorf("parent %s: no grant receipt", ev.Parent)
		}
		if ev.GrantReceipt.LogKey != doc.Receipt.LogKey {
			return nil, fmt.Errorf("parent %s: the grant's receipt is from another log", ev.Parent)
		}
		gr, err := receipt.Verify(ev.GrantReceipt, logKey)
		if err != nil {
			return nil, fmt.Errorf("parent %s: grant receipt: %w", ev.Parent, err)
		}
		if gr.EntryType != auditlog.TypeGrant {
			return nil, fmt.Errorf("parent %s: the grant receipt is of a %s entry", ev.Parent, gr.EntryType)
		}
		if gr.Index >= reg.Index {
			return nil, fmt.Errorf("parent %s: the grant (entry %d) was logged after the registration (entry %d)", ev.Parent, gr.Index, reg.Index)
		}
		g, err := grant.OpenGrant(gr.Envelope)
		if err != nil {
			return nil, err
		}
		t, tid, err := termsIn(ev.Terms)
		if err != nil {
			return nil, fmt.Errorf("parent %s: terms: %w", ev.Parent, err)
		}
		if tid != g.Terms {
			return nil, fmt.Errorf("parent %s: the terms in the file are not the ones grant %s names (%s)", ev.Parent, g.ID, g.Terms)
		}
		rights[g.ID] = g.Right(false, t)
		res.Checks = append(res.Checks, fmt.Sprintf("grant %s on parent %s held by %s logged as entry %d, before the registration", g.ID, g.Asset, g.Licensee, gr.Index))
	}
	err = asset.CheckDerivation(m,
		func(id asset.ID) (*asset.Right, error) {
			if r := rights[id]; r != nil {
				return r, nil
			}
			return nil, asset.ErrUnknownGrant
		},
		func(ref string) (*license.Terms, error) {
			if t := termsByRef[ref]; t != nil {
				return t, nil
			}
			return nil, fmt.Errorf("the file does not carry the derivative's terms %s", ref)
		})
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", id, err)
	}
	if len(m.Parents) > 0 {
		res.Checks = append(res.Checks,
			fmt.Sprintf("right to derive re-checked offline for %d parent(s): derivative grants held by an owner, in their windows; royalties and licence as the parents' terms ask", len(m.Parents)),
			"not revoked before the registration: not provable from a file; the registry refused it otherwise, and `charter admin check` replays the log")
	}
	return res, nil
}

// termsIn parses terms carried in a document (perhaps re-indented) and
// returns them with the content id of their canonical form, the id an
// asset or a grant names them by.
func termsIn(raw json.RawMessage) (*license.Terms, content.ID, error) {
	t, err := license.Parse(raw)
	if err != nil {
		return nil, content.ID{}, err
	}
	b, err := t.Encode()
	if err != nil {
		return nil, content.ID{}, err
	}
	return t, content.IDFromDigest(blake3.Sum256(b)), nil
}
