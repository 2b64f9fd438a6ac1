package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/charter-dev/charter/api"
)

// The list endpoints answer one page at a time (api.AssetList and the
// others): the *Page methods read one page, the others follow "next" to
// the end and return every record.

// GrantRecord, GrantList and DisputeRecord are the server's answers
// (package api).
type (
	GrantRecord   = api.GrantRecord
	GrantList     = api.GrantList
	DisputeRecord = api.DisputeRecord
)

// Page is where a page starts and how long it is: From is the Next of the
// previous page ("" for the first), Limit 0 asks for the server's default
// (api.DefaultLimit).
type Page struct {
	From  string
	Limit int
}

func (p Page) values(filters ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(filters); i += 2 {
		if filters[i+1] != "" {
			q.Set(filters[i], filters[i+1])
		}
	}
	if p.From != "" {
		q.Set("from", p.From)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	return q
}

// maxPages bounds how many pages a list follows: a server answering a
// next cursor for ever cannot keep the client for ever.
const maxPages = 1 << 20

// follow reads pages from the first on until one answers no next cursor;
// read reads the page at from and returns its next cursor.
func follow(read func(from string) (string, error)) error {
	from := ""
	for range maxPages {
		next, err := read(from)
		if err != nil || next == "" {
			return err
		}
		if next == from {
			return fmt.Errorf("client: the server answered the same page twice (next %q)", next)
		}
		from = next
	}
	return fmt.Errorf("client: a list of more than %d pages", maxPages)
}

// AssetQuery filters a list of assets; "" matches any.
type AssetQuery struct {
	Page
	Content   string // content id
	MediaType string
	Owner     string // a DID among the current owners
}

// AssetPage reads one page of registered assets, in log order.
func (c *Client) AssetPage(ctx context.Context, q AssetQuery) (*api.AssetList, error) {
	var v api.AssetList
	return &v, c.getJSON(ctx, "/v1/assets", q.values("content", q.Content, "media", q.MediaType, "owner", q.Owner), &v)
}

// Assets lists every registered asset, in log order.
func (c *Client) Assets(ctx context.Context) ([]api.AssetRecord, error) {
	return c.AssetsWhere(ctx, AssetQuery{})
}

// AssetsWhere lists every registered asset q's filters match, in log
// order, q.Limit at a time.
func (c *Client) AssetsWhere(ctx context.Context, q AssetQuery) ([]api.AssetRecord, error) {
	all := []api.AssetRecord{}
	err := follow(func(from string) (string, error) {
		q.From = from
		p, err := c.AssetPage(ctx, q)
		if err != nil {
			return "", err
		}
		all = append(all, p.Assets...)
		return p.Next, nil
	})
	return all, err
}

// GrantQuery filters a list of grants; "" matches any.
type GrantQuery struct {
	Page
	Asset    string
	Licensee string // a DID
}

// GrantPage reads one page of grants, in log order, and on the first page
// the first page of pending requests.
func (c *Client) GrantPage(ctx context.Context, q GrantQuery) (*GrantList, error) {
	var v GrantList
	return &v, c.getJSON(ctx, "/v1/grants", q.values("asset", q.Asset, "licensee", q.Licensee), &v)
}

// Grants lists every grant, and every pending request, by asset and
// licensee (a request has no licensee filter); "" matches all.
func (c *Client) Grants(ctx context.Context, assetID, licensee string) (*GrantList, error) {
	all := &GrantList{Grants: []api.GrantRecord{}, Pending: []api.GrantRequestRecord{}}
	pendingNext := ""
	err := follow(func(from string) (string, error) {
		p, err := c.GrantPage(ctx, GrantQuery{Page: Page{From: from}, Asset: assetID, Licensee: licensee})
		if err != nil {
			return "", err
		}
		all.Grants = append(all.Grants, p.Grants...)
		if from == "" {
			all.Pending, pendingNext = append(all.Pending, p.Pending...), p.PendingNext
		}
		return p.Next, nil
	})
	if err != nil || pendingNext == "" {
		return all, err
	}
	first := true
	err = follow(func(from string) (string, error) {
		if first {
			from, first = pendingNext, false
		}
		p, err := c.GrantRequestPage(ctx, GrantRequestQuery{Page: Page{From: from}, Asset: assetID, Status: "pending"})
		if err != nil {
			return "", err
		}
		all.Pending = append(all.Pending, p.Requests...)
		return p.Next, nil
	})
	return all, err
}

// GrantRequestQuery filters a list of grant requests; "" matches any.
type GrantRequestQuery struct {
	Page
	Asset  string
	Status string // pending, approved, denied or granted
}

// GrantRequestPage reads one page of grant requests, in log order.
func (c *Client) GrantRequestPage(ctx context.Context, q GrantRequestQuery) (*api.GrantRequestList, error) {
	var v api.GrantRequestList
	return &v, c.getJSON(ctx, "/v1/grant-requests", q.values("asset", q.Asset, "status", q.Status), &v)
}

// DisputeQuery filters a list of disputes; "" matches any.
type DisputeQuery struct {
	Page
	Asset  string
	Status string // open, released or voided
}

// DisputePage reads one page of disputes, in log order.
func (c *Client) DisputePage(ctx context.Context, q DisputeQuery) (*api.DisputeList, error) {
	var v api.DisputeList
	return &v, c.getJSON(ctx, "/v1/disputes", q.values("asset", q.Asset, "status", q.Status), &v)
}

// Disputes lists every dispute of an asset ("" for all), in log order.
func (c *Client) Disputes(ctx context.Context, assetID string) ([]DisputeRecord, error) {
	return c.DisputesWhere(ctx, DisputeQuery{Asset: assetID})
}

// DisputesWhere lists every dispute q's filters match, in log order,
// q.Limit at a time.
func (c *Client) DisputesWhere(ctx context.Context, q DisputeQuery) ([]DisputeRecord, error) {
	all := []DisputeRecord{}
	err := follow(func(from string) (string, error) {
		q.From = from
		p, err := c.DisputePage(ctx, q)
		if err != nil {
			return "", err
		}
		all = append(all, p.Disputes...)
		return p.Next, nil
	})
	return all, err
}

// ProposalQuery filters a list of proposals; "" matches any.
type ProposalQuery struct {
	Page
	Asset  string
	Status string // pending or applied
}

// ProposalPage reads one page of governance proposals, in log order.
func (c *Client) ProposalPage(ctx context.Context, q ProposalQuery) (*api.ProposalList, error) {
	var v api.ProposalList
	return &v, c.getJSON(ctx, "/v1/proposals", q.values("asset", q.Asset, "status", q.Status), &v)
}

// Proposals lists every proposal of an asset ("" for all) with a status
// ("" for any), in log order.
func (c *Client) Proposals(ctx context.Context, assetID, status string) ([]*api.ProposalRecord, error) {
	all := []*api.ProposalRecord{}
	err := follow(func(from string) (string, error) {
		p, err := c.ProposalPage(ctx, ProposalQuery{Page: Page{From: from}, Asset: assetID, Status: status})
		if err != nil {
			return "", err
		}
		all = append(all, p.Proposals...)
		return p.Next, nil
	})
	return all, err
}
