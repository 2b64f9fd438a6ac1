package server

import (
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
)

// The catalog's records are not the HTTP wire types: these convert one to
// the other, so a column added to the catalog changes no answer.

func assetWire(r *catalog.AssetRecord) api.AssetRecord {
	return api.AssetRecord{State: r.State, Claim: r.Claim, Priority: r.Priority, LogIndex: r.LogIndex}
}

func listingWire(l *catalog.AssetListing) api.AssetListing {
	return api.AssetListing{State: l.State, Claim: l.Claim, Priority: l.Priority, LogIndex: l.LogIndex}
}

func proposalWire(p *catalog.ProposalRecord) *api.ProposalRecord {
	return &api.ProposalRecord{ID: p.ID, Asset: p.Asset, Envelope: p.Envelope, Status: p.Status, LogIndex: p.LogIndex, Approvals: p.Approvals, Approvers: p.Approvers}
}

func trailWire(t catalog.TrailEntry) api.TrailEntry {
	return api.TrailEntry{LogIndex: t.LogIndex, Type: t.Type, Summary: t.Summary}
}

func grantWire(g *catalog.GrantRecord) api.GrantRecord {
	return api.GrantRecord{ID: g.ID, Asset: g.Asset, Licensee: g.Licensee, Envelope: g.Envelope, Revoked: g.Revoked, LogIndex: g.LogIndex, Bytes: g.Bytes, Requests: g.Requests}
}

func grantRequestWire(r *catalog.GrantRequestRecord) api.GrantRequestRecord {
	return api.GrantRequestRecord{ID: r.ID, Asset: r.Asset, Envelope: r.Envelope, Decision: r.Decision, Status: r.Status, LogIndex: r.LogIndex, Votes: r.Votes}
}

func disputeWire(d *catalog.DisputeRecord) api.DisputeRecord {
	return api.DisputeRecord{ID: d.ID, Asset: d.Asset, Opener: d.Opener, Reason: d.Reason, Status: d.Status, Envelope: d.Envelope, LogIndex: d.LogIndex, Resolved: d.Resolved}
}

// wireAll converts a list of records; an empty list is [] in JSON, not null.
func wireAll[R any, W any](rs []R, f func(R) W) []W {
	out := make([]W, 0, len(rs))
	for _, r := range rs {
		out = append(out, f(r))
	}
	return out
}
