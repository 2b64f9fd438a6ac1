// Package api holds the JSON shapes of Charter's HTTP API that the server
// sends and the client reads, so both sides share one definition. The
// OpenAPI document served at /openapi.json describes them.
package api

import (
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/receipt"
)

// RegisterAnswer is the answer to a registration, proposal or approval.
type RegisterAnswer struct {
	Asset    string          `json:"asset"`
	Claim    string          `json:"claim,omitempty"`
	Priority string          `json:"priority,omitempty"`
	Proposal string          `json:"proposal,omitempty"`
	Status   string          `json:"status,omitempty"`
	Version  uint64          `json:"version,omitempty"`
	Receipt  *receipt.Bundle `json:"receipt"`
}

// AssetRecord is a registered asset with what the registry knows of it.
type AssetRecord struct {
	State *asset.State `json:"state"`
	// Claim is "priority", "same-owners" or "conflict" (asset.ClaimStatus).
	Claim string `json:"claim"`
	// Priority is the priority claim on the same content (itself when Claim
	// is "priority").
	Priority asset.ID `json:"priority"`
	LogIndex uint64   `json:"log_index"`
}

// ProposalRecord is a proposal with its approvals.
type ProposalRecord struct {
	ID        asset.ID `json:"id"`
	Asset     asset.ID `json:"asset"`
	Envelope  []byte   `json:"-"`
	Status    string   `json:"status"`
	LogIndex  uint64   `json:"log_index"`
	Approvals [][]byte `json:"-"`
	Approvers []string `json:"approvers"`
}

// TrailEntry is one logged statement about an asset.
type TrailEntry struct {
	LogIndex uint64 `json:"log_index"`
	Type     string `json:"type"`
	Summary  string `json:"summary"`
}

// AssetView is the answer of GET /v1/assets/{id}.
type AssetView struct {
	AssetRecord
	// Conflicts lists the other registrations of the same content.
	Conflicts []string          `json:"conflicts"`
	Children  []string          `json:"children"`
	Proposals []*ProposalRecord `json:"proposals"`
	Trail     []TrailEntry      `json:"trail"`
}

// LineageNode is one edge of a lineage graph.
type LineageNode struct {
	Asset    string `json:"asset"`
	Name     string `json:"name"`
	Depth    int    `json:"depth"` // negative: ancestors; positive: descendants
	Parent   string `json:"parent,omitempty"`
	Child    string `json:"child,omitempty"`
	Royalty  string `json:"royalty,omitempty"`
	Stacking string `json:"stacking,omitempty"`
}

// Lineage is the graph around an asset: edges up to its ancestors and down
// to its descendants.
type Lineage struct {
	Asset string        `json:"asset"`
	Up    []LineageNode `json:"up"`
	Down  []LineageNode `json:"down"`
}

// ProposalView is the answer of GET /v1/proposals/{id}.
type ProposalView struct {
	Proposal *ProposalRecord `json:"proposal"`
	Envelope []byte          `json:"envelope"` // the signed proposal, base64 in JSON
}

// RevokeAnswer answers a revocation (POST /v1/grants/{id}/revoke).
type RevokeAnswer struct {
	Grant   string          `json:"grant"`
	Status  string          `json:"status"` // "revoked"
	Receipt *receipt.Bundle `json:"receipt"`
}

// GrantAnswer is the answer to a grant request or an owner's vote on a
// queued one: the grant (or the queued request), the decision record with
// the terms and policy request it was made from, and the receipts proving
// both are logged. Everything needed to re-check the decision offline is
// here; `charter verify` checks it.
type GrantAnswer struct {
	Status          string                  `json:"status"` // "granted", "pending", "denied" or "approved"
	Request         string                  `json:"request"`
	Grant           *grant.Grant            `json:"grant,omitempty"`
	GrantEnvelope   []byte                  `json:"grant_envelope,omitempty"`
	GrantReceipt    *receipt.Bundle         `json:"grant_receipt,omitempty"`
	Decision        *license.DecisionRecord `json:"decision,omitempty"`
	DecisionReceipt *receipt.Bundle         `json:"decision_receipt,omitempty"`
	Terms           []byte                  `json:"terms,omitempty"`          // canonical terms
	PolicyRequest   []byte                  `json:"policy_request,omitempty"` // canonical license.Request
	Reasons         []string                `json:"reasons,omitempty"`
}

// GrantRecord is an issued grant as GET /v1/grants and /v1/grants/{id}
// list it, with what was served under it.
type GrantRecord struct {
	ID       string `json:"id"`
	Asset    string `json:"asset"`
	Licensee string `json:"licensee"`
	Envelope []byte `json:"envelope"` // the signed grant, base64 in JSON
	Revoked  bool   `json:"revoked"`
	LogIndex uint64 `json:"log_index"`
	Bytes    int64  `json:"bytes_served"`
	Requests int64  `json:"requests_served"`
}

// GrantRequestRecord is a grant request queued for the owners' votes, as
// GET /v1/grants lists it under pending_requests.
type GrantRequestRecord struct {
	ID       string          `json:"id"`
	Asset    string          `json:"asset"`
	Envelope []byte          `json:"envelope"` // the signed request
	Decision uint64          `json:"decision_index"`
	Status   string          `json:"status"`
	LogIndex uint64          `json:"log_index"`
	Votes    map[string]bool `json:"votes"` // owner → approve
}

// GrantList is the answer of GET /v1/grants and /v1/assets/{id}/grants:
// a page of grants and, on the first page, the first page of the pending
// requests (more from GET /v1/grant-requests?status=pending&from=
// PendingNext).
type GrantList struct {
	Grants      []GrantRecord        `json:"grants"`
	Pending     []GrantRequestRecord `json:"pending_requests"`
	Next        string               `json:"next,omitempty"`
	PendingNext string               `json:"pending_next,omitempty"`
}

// DisputeRecord is a dispute as GET /v1/disputes lists it.
type DisputeRecord struct {
	ID       string `json:"id"`
	Asset    string `json:"asset"`
	Opener   string `json:"opener"`
	Reason   string `json:"reason"`
	Status   string `json:"status"` // "open", "released" or "voided"
	Envelope []byte `json:"envelope"`
	LogIndex uint64 `json:"log_index"`
	Resolved uint64 `json:"resolved_index,omitempty"`
}
