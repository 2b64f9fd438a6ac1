package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

func (c *Client) postEnvelope(ctx context.Context, path string, env *identity.Envelope, out any) error {
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path, nil), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp.Body, out)
}

// Register registers an asset from its manifest signed by its owners. The
// answer carries the receipt proving the registration is in the log.
func (c *Client) Register(ctx context.Context, env *identity.Envelope) (*api.RegisterAnswer, error) {
	var a api.RegisterAnswer
	return &a, c.postEnvelope(ctx, "/v1/assets", env, &a)
}

// Asset returns what the registry holds of an asset.
func (c *Client) Asset(ctx context.Context, id asset.ID) (*api.AssetView, error) {
	var v api.AssetView
	return &v, c.getJSON(ctx, "/v1/assets/"+id.String(), nil, &v)
}

// Lineage returns the lineage graph around an asset.
func (c *Client) Lineage(ctx context.Context, id asset.ID) (*api.Lineage, error) {
	var v api.Lineage
	return &v, c.getJSON(ctx, "/v1/assets/"+id.String()+"/lineage", nil, &v)
}

// Propose submits a signed proposal to change an asset.
func (c *Client) Propose(ctx context.Context, env *identity.Envelope) (*api.RegisterAnswer, error) {
	p, _, err := asset.OpenProposal(env)
	if err != nil {
		return nil, err
	}
	var a api.RegisterAnswer
	return &a, c.postEnvelope(ctx, "/v1/assets/"+p.Asset.String()+"/proposals", env, &a)
}

// Proposal returns a proposal, its signed envelope (verified here) and
// who approved it so far.
func (c *Client) Proposal(ctx context.Context, id asset.ID) (*asset.Proposal, *api.ProposalRecord, error) {
	var v api.ProposalView
	if err := c.getJSON(ctx, "/v1/proposals/"+id.String(), nil, &v); err != nil {
		return nil, nil, err
	}
	env, err := identity.ParseEnvelope(v.Envelope)
	if err != nil {
		return nil, nil, err
	}
	p, pid, err := asset.OpenProposal(env)
	if err != nil {
		return nil, nil, err
	}
	if pid != id {
		return nil, nil, errorsf("server sent proposal %s for %s", pid, id)
	}
	return p, v.Proposal, nil
}

// Approve submits a signed approval of a proposal.
func (c *Client) Approve(ctx context.Context, env *identity.Envelope) (*api.RegisterAnswer, error) {
	a, err := asset.OpenApproval(env)
	if err != nil {
		return nil, err
	}
	var ans api.RegisterAnswer
	return &ans, c.postEnvelope(ctx, "/v1/proposals/"+a.Proposal.String()+"/approvals", env, &ans)
}

func errorsf(format string, a ...any) error {
	return fmt.Errorf("client: "+format, a...)
}
