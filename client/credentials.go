package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/charter-dev/charter/api"
)

// IssueCredential asks for a read credential (S3 access key id and
// secret, and the same as one bearer token) for the client's key
// (WithKey), limited to assets (none: every grant the key holds) and
// living ttl (0: the server's default, 12 hours).
func (c *Client) IssueCredential(ctx context.Context, assets []string, ttl time.Duration) (*api.CredentialAnswer, error) {
	body := struct {
		Assets []string `json:"assets,omitempty"`
		TTL    int64    `json:"ttl_seconds,omitempty"`
	}{assets, int64(ttl / time.Second)}
	var a api.CredentialAnswer
	return &a, c.postJSON(ctx, "/v1/credentials", body, &a)
}

// RevokeCredential revokes one of the client key's credentials: the
// next request made with it is refused.
func (c *Client) RevokeCredential(ctx context.Context, accessKeyID string) error {
	return c.postJSON(ctx, "/v1/credentials/"+url.PathEscape(accessKeyID)+"/revoke", struct{}{}, nil)
}

// Credentials lists the client key's live credentials (without secrets).
func (c *Client) Credentials(ctx context.Context) ([]api.CredentialInfo, error) {
	var out []api.CredentialInfo
	return out, c.signedJSON(ctx, http.MethodGet, "/v1/credentials", nil, &out)
}
