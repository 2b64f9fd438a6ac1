package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/charter-dev/charter/api"
	"net/http"
	"net/url"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
)

// HeaderSession names the download session of a data request.
const HeaderSession = "Charter-Session"

func newSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Session returns the id of the client's download session, sent with every
// request made under a grant.
func (c *Client) Session() string { return c.session }

// WithSession returns a client that sends its requests in download session
// id: to continue, or close, a session begun by an earlier process.
func (c *Client) WithSession(id string) *Client {
	c2 := *c
	c2.session = id
	return &c2
}

// CloseSession ends the client's download session: the server logs a
// signed receipt for each grant used in it and returns them. The request
// is signed, so the client must hold a grant (WithGrant): only the
// licensee can close its own session. Later
// requests start a new session. Without it, the server closes a session
// after 30 s of idleness. It changes the client's session id, so do not
// call it while requests of the client are in flight.
func (c *Client) CloseSession(ctx context.Context) (*api.SessionAnswer, error) {
	sid := c.session
	c.session = newSessionID()
	var a api.SessionAnswer
	return &a, c.postJSON(ctx, "/v1/sessions/"+url.PathEscape(sid)+"/close", struct{}{}, &a)
}

// ReportUsage sends a usage event signed by the licensee. Sending the same
// event again is answered with the original record (Existed).
func (c *Client) ReportUsage(ctx context.Context, env *identity.Envelope) (*api.UsageAnswer, error) {
	var a api.UsageAnswer
	return &a, c.postEnvelope(ctx, "/v1/usage", env, &a)
}

// Settle runs a settlement now. Only the operator may: the client's key
// (WithKey) must be the server's key.
func (c *Client) Settle(ctx context.Context) (*metering.Settlement, error) {
	var a metering.Settlement
	return &a, c.signedJSON(ctx, http.MethodPost, "/v1/settle", nil, &a)
}

// signedJSON sends a bodiless request signed with the client's key (RFC
// 9421) when it has one, and decodes the JSON answer. Money is visible to
// its owner and the operator only: earnings, accounts and settlement are
// read this way.
func (c *Client) signedJSON(ctx context.Context, method, path string, q url.Values, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return err
	}
	if c.key != nil {
		if err := httpsig.Sign(req, c.key, time.Now()); err != nil {
			return err
		}
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp.Body, v)
}

// EarningsQuery selects a statement.
type EarningsQuery struct {
	DID      string
	From, To string // RFC 3339 or YYYY-MM-DD; empty: unbounded
	Period   string // "day" (default) or "month"
}

// Earnings fetches the earnings statement of a DID, signed with the
// client's key: the server shows it to that DID and the operator only.
func (c *Client) Earnings(ctx context.Context, q EarningsQuery) (*api.Earnings, error) {
	v := url.Values{"did": {q.DID}}
	for k, x := range map[string]string{"from": q.From, "to": q.To, "period": q.Period} {
		if x != "" {
			v.Set(k, x)
		}
	}
	var e api.Earnings
	return &e, c.signedJSON(ctx, http.MethodGet, "/v1/earnings", v, &e)
}

// Accounts lists a DID's ledger accounts with their balances (signed like
// Earnings).
func (c *Client) Accounts(ctx context.Context, did string) ([]api.FundAnswer, error) {
	var a api.AccountsAnswer
	return a.Accounts, c.signedJSON(ctx, http.MethodGet, "/v1/accounts", url.Values{"did": {did}}, &a)
}

// Fund sends a deposit signed by the operator.
func (c *Client) Fund(ctx context.Context, env *identity.Envelope) (*api.FundAnswer, error) {
	var a api.FundAnswer
	return &a, c.postEnvelope(ctx, "/v1/funds", env, &a)
}

// Withdraw sends a payout request signed by the contributor.
func (c *Client) Withdraw(ctx context.Context, env *identity.Envelope) (*api.FundAnswer, error) {
	var a api.FundAnswer
	return &a, c.postEnvelope(ctx, "/v1/withdrawals", env, &a)
}

// OpenDispute sends a signed dispute.
func (c *Client) OpenDispute(ctx context.Context, env *identity.Envelope) (*api.DisputeAnswer, error) {
	var a api.DisputeAnswer
	return &a, c.postEnvelope(ctx, "/v1/disputes", env, &a)
}

// ResolveDispute sends a resolution signed by the asset's owners.
func (c *Client) ResolveDispute(ctx context.Context, id string, env *identity.Envelope) (*api.DisputeAnswer, error) {
	var a api.DisputeAnswer
	return &a, c.postEnvelope(ctx, "/v1/disputes/"+url.PathEscape(id)+"/resolve", env, &a)
}

// Unsettled lists the uses of an asset the server's last settlement could
// not charge, with the reason. Only the asset's owners and the operator may
// read it: the client's key (WithKey) signs the request.
func (c *Client) Unsettled(ctx context.Context, assetID string) ([]metering.FailedUse, error) {
	var a api.UnsettledAnswer
	return a.Failed, c.signedJSON(ctx, http.MethodGet, "/v1/assets/"+url.PathEscape(assetID)+"/unsettled", nil, &a)
}
