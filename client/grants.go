package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// HeaderGrant names the grant a signed data-plane request uses.
const HeaderGrant = "Charter-Grant"

// GrantOptions describe the use a grant is requested for.
type GrantOptions struct {
	Commercial   bool
	Derivative   bool
	Territory    string
	Organisation string
}

// RequestGrant asks for a grant to use asset for purpose, signing the
// request with the licensee's key. A denied request is not an error: the
// answer's Status is "denied" with the reasons and the logged decision.
func (c *Client) RequestGrant(ctx context.Context, key *identity.Key, a asset.ID, purpose string, opt GrantOptions) (*api.GrantAnswer, error) {
	req := &grant.Request{Asset: a, Commercial: opt.Commercial, Created: asset.NewTime(time.Now()), Derivative: opt.Derivative,
		Licensee: key.DID(), Nonce: grant.NewNonce(), Organisation: opt.Organisation, Purpose: purpose, Territory: opt.Territory}
	env, err := req.Sign(key)
	if err != nil {
		return nil, err
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/assets/"+a.String()+"/grants", nil), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Charter server at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 || (resp.StatusCode == http.StatusForbidden && resp.Header.Get("Content-Type") == "application/json") {
		// Granted, queued, or denied by the terms with the logged decision.
		var ans api.GrantAnswer
		return &ans, decodeJSON(resp.Body, &ans)
	}
	return nil, problemFrom(resp)
}

// Grant returns one grant.
func (c *Client) Grant(ctx context.Context, id string) (*GrantRecord, error) {
	var g GrantRecord
	return &g, c.getJSON(ctx, "/v1/grants/"+url.PathEscape(id), nil, &g)
}

// Revoke revokes a grant with a revocation signed by owners.
func (c *Client) Revoke(ctx context.Context, env *identity.Envelope) (*api.RevokeAnswer, error) {
	rv, _, err := grant.OpenRevocation(env)
	if err != nil {
		return nil, err
	}
	var out api.RevokeAnswer
	return &out, c.postEnvelope(ctx, "/v1/grants/"+rv.Grant.String()+"/revoke", env, &out)
}

// Vote records an owner's approval or denial of a queued request.
func (c *Client) Vote(ctx context.Context, env *identity.Envelope) (*api.GrantAnswer, error) {
	a, err := grant.OpenApproval(env)
	if err != nil {
		return nil, err
	}
	var ans api.GrantAnswer
	return &ans, c.postEnvelope(ctx, "/v1/grant-requests/"+a.Request.String()+"/approvals", env, &ans)
}

// WithGrant returns a client whose requests carry the grant id and are
// signed with the licensee's key (RFC 9421), as licensed content needs. The
// signature covers Charter-Grant and, when sent, Charter-Session and
// Range, so nobody on the way can change what is served or billed.
func (c *Client) WithGrant(key *identity.Key, grantID string) *Client {
	c2 := *c
	c2.grant = grantID
	c2.hc = &http.Client{Transport: &httpsig.Transport{Key: key, Base: c.hc.Transport, Options: []httpsig.SignOption{httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("charter-session", "range")}}}
	return &c2
}
