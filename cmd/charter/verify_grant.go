package main

import (
	"bytes"
	"fmt"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/receipt"
	"github.com/zeebo/blake3"
)

// verifyGrantAnswer checks a grant answer offline: the decision record is
// logged and re-evaluates to the same result from the published terms and
// the request; the grant is signed by the same server, logged, bound to
// that decision and to those terms.
func verifyGrantAnswer(ans *api.GrantAnswer, logKey string) (*verifyResult, error) {
	res := &verifyResult{Kind: "grant", Valid: true}
	if ans.DecisionReceipt == nil || ans.Decision == nil {
		return nil, fmt.Errorf("no decision record in the file")
	}
	dres, err := receipt.Verify(ans.DecisionReceipt, logKey)
	if err != nil {
		return nil, fmt.Errorf("decision receipt: %w", err)
	}
	if dres.PayloadType != identity.PayloadType(grant.KindDecision) || len(dres.Signers) != 1 {
		return nil, fmt.Errorf("decision receipt: not a server-signed decision (%s)", dres.PayloadType)
	}
	server := dres.Signers[0]
	want, err := ans.Decision.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(want, dres.Payload) {
		return nil, fmt.Errorf("the decision record in the file is not the logged one")
	}
	rec, err := license.ParseRecord(dres.Payload)
	if err != nil {
		return nil, err
	}
	if err := license.Recheck(rec, ans.Terms, ans.PolicyRequest); err != nil {
		return nil, fmt.Errorf("re-running the decision: %w", err)
	}
	res.Checks = append(res.Checks,
		fmt.Sprintf("decision logged as entry %d, signed by server %s", dres.Index, server),
		fmt.Sprintf("decision re-run offline with Cedar from the terms and the request: %s (compiler %d)", rec.Decision, rec.Compiler))
	idx := dres.Index
	res.LogIndex, res.LogOrigin, res.LogSize, res.LogKey = &idx, dres.Checkpoint.Origin, dres.Checkpoint.Size, ans.DecisionReceipt.LogKey
	if ans.Grant == nil {
		if ans.Status == "granted" {
			return nil, fmt.Errorf("status granted but no grant in the file")
		}
		return res, nil
	}
	if rec.Decision != license.Allow && rec.Decision != license.NeedsApproval {
		return nil, fmt.Errorf("a grant under a %s decision", rec.Decision)
	}
	if ans.GrantReceipt == nil {
		return nil, fmt.Errorf("no grant receipt in the file")
	}
	gres, err := receipt.Verify(ans.GrantReceipt, logKey)
	if err != nil {
		return nil, fmt.Errorf("grant receipt: %w", err)
	}
	genv, err := identity.ParseEnvelope(ans.GrantEnvelope)
	if err != nil {
		return nil, err
	}
	g, err := grant.OpenGrant(genv)
	if err != nil {
		return nil, err
	}
	logged, _ := gres.Envelope.Marshal()
	if !bytes.Equal(logged, ans.GrantEnvelope) {
		return nil, fmt.Errorf("the grant in the file is not the logged one")
	}
	termsID := content.IDFromDigest(blake3.Sum256(ans.Terms))
	switch {
	case g.Issuer != server:
		return nil, fmt.Errorf("grant issued by %s, decision by %s", g.Issuer, server)
	case g.Decision != dres.Index:
		return nil, fmt.Errorf("grant names decision %d, the file's decision is entry %d", g.Decision, dres.Index)
	case g.Terms != termsID:
		return nil, fmt.Errorf("grant names terms %s, the file's terms are %s", g.Terms, termsID)
	case ans.Grant.ID != g.ID:
		return nil, fmt.Errorf("grant id mismatch")
	}
	res.Signers = []string{server.String()}
	res.Checks = append(res.Checks,
		fmt.Sprintf("grant %s signed by the same server, logged as entry %d", g.ID, gres.Index),
		fmt.Sprintf("grant bound to decision %d and terms %s", g.Decision, g.Terms),
		fmt.Sprintf("licensee %s, purpose %s, valid %s to %s", g.Licensee, g.Purpose, g.NotBefore.Time().Format("2006-01-02T15:04Z"), g.NotAfter.Time().Format("2006-01-02T15:04Z")))
	return res, nil
}
