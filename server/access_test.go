package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/internal/canonjson"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// call sends a request, signed (RFC 9421) by key when key is not nil, with
// extra headers as name, value pairs, and returns the status and body.
func (m *market) call(method, path string, body []byte, key *identity.Key, hdr ...string) (int, []byte) {
	m.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, m.hs.URL+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if key != nil {
		if err := httpsig.Sign(req, key, time.Now()); err != nil {
			m.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func envJSON(t *testing.T, env *identity.Envelope, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// accessRow is one row of the table "Who may call what" in
// docs/spec/http-api.md: a request the row allows, and one it refuses (nil
// for endpoints open to anyone). Each returns the HTTP status.
type accessRow struct {
	allowed func(t *testing.T) int
	refused func(t *testing.T) int
}

// TestWhoMayCall holds every row of the access table in
// docs/spec/http-api.md both ways: the caller the row names is served, a
// stranger with a fresh key (or no key) is refused. Every route of the
// server has a row in the document and here.
func TestWhoMayCall(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	stranger, _ := identity.Generate()
	outsider, _ := identity.Generate() // never gets a grant
	op := m.s.key
	// Money to read: the consumer's use settled.
	m.fund(m.consumer.DID(), 1_000_000)
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-1", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 1_234_567}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	m.settleOK()
	// An asset under approval-required terms owned by Ann and Bea (both
	// must sign changes), with a queued request by the consumer.
	terms, _ := license.Template("approval-required")
	tb, _ := terms.Encode()
	tinfo, err := m.c.Put(ctx, bytes.NewReader(tb), int64(len(tb)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gated := func() asset.ID {
		b := []byte("gated " + grant.NewNonce())
		info, err := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cid, _ := content.ParseID(info.ID)
		man := &asset.Manifest{Content: cid, Name: "gated", MediaType: "text/plain", Created: asset.NewTime(time.Now()), Threshold: 2, License: tinfo.ID,
			Owners:       []asset.Owner{{DID: m.ann.DID(), Weight: 1}, {DID: m.bea.DID(), Weight: 1}},
			Contributors: []asset.Contributor{{DID: m.ann.DID(), Share: asset.Whole}}}
		env, _ := man.Sign(m.ann, m.bea)
		a, err := m.c.Register(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		return mustID(t, a.Asset)
	}()
	queued := func() asset.ID {
		ans, err := m.c.RequestGrant(ctx, m.consumer, gated, "research", client.GrantOptions{})
		if err != nil || ans.Status != "pending" {
			t.Fatalf("queued request: %v %+v", err, ans)
		}
		return mustID(t, ans.Request)
	}
	licensed := m.modelContent.String()
	free := tinfo.ID // licence terms: content no asset governs
	viewOf := func(who, signer *identity.Key) string {
		tok, err := metering.NewView(who.DID(), time.Now(), time.Minute).Token(signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	anyone := func(method, path string, body ...byte) accessRow {
		return accessRow{allowed: func(t *testing.T) int {
			var b []byte
			if body != nil {
				b = body
			}
			code, _ := m.call(method, path, b, nil)
			return code
		}}
	}
	withGrant := func(path string, k *identity.Key) int {
		c := m.c.WithGrant(k, m.grant.ID.String())
		req, _ := http.NewRequest(http.MethodGet, m.hs.URL+path, nil)
		req.Header.Set(HeaderGrant, m.grant.ID.String())
		req.Header.Set(client.HeaderSession, c.Session())
		if err := httpsig.Sign(req, k, time.Now(), httpsig.WithHeaders("charter-grant"), httpsig.WithHeadersIfPresent("range", "charter-session")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	checkpointSize := func() uint64 {
		cp, err := m.s.tlog.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	disputeBy := func(k *identity.Key) int {
		d := &metering.Dispute{Asset: m.model, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: k.DID(), Reason: "r"}
		env, err := d.Sign(k)
		code, _ := m.call("POST", "/v1/disputes", envJSON(t, env, err), nil)
		return code
	}
	rows := map[string]accessRow{
		"POST /v1/blobs": {
			allowed: func(t *testing.T) int {
				b := []byte("stranger's bytes " + grant.NewNonce())
				c, _ := client.New(m.hs.URL)
				if _, err := c.WithKey(stranger).Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{}); err != nil {
					t.Log(err)
					return 0
				}
				return http.StatusCreated
			},
			refused: func(t *testing.T) int { code, _ := m.call("POST", "/v1/blobs", []byte("unsigned"), nil); return code },
		},
		"GET /v1/blobs/{id}": {
			allowed: func(t *testing.T) int {
				if code, _ := m.call("GET", "/v1/blobs/"+free, nil, nil); code != http.StatusOK {
					return code
				}
				return withGrant("/v1/blobs/"+licensed, m.consumer)
			},
			refused: func(t *testing.T) int {
				if code := withGrant("/v1/blobs/"+licensed, stranger); code < 400 {
					return code
				}
				code, _ := m.call("GET", "/v1/blobs/"+licensed, nil, nil)
				return code
			},
		},
		"HEAD /v1/blobs/{id}": {
			allowed: func(t *testing.T) int { code, _ := m.call("HEAD", "/v1/blobs/"+free, nil, nil); return code },
			refused: func(t *testing.T) int { code, _ := m.call("HEAD", "/v1/blobs/"+licensed, nil, nil); return code },
		},
		"GET /v1/blobs/{id}/info": anyone("GET", "/v1/blobs/"+licensed+"/info"),
		"GET /v1/blobs/{id}/slice": {
			allowed: func(t *testing.T) int {
				return withGrant("/v1/blobs/"+licensed+"/slice?offset=0&length=10", m.consumer)
			},
			refused: func(t *testing.T) int {
				code, _ := m.call("GET", "/v1/blobs/"+licensed+"/slice?offset=0&length=10", nil, nil)
				return code
			},
		},
		"GET /v1/blobs/{id}/outboard": {
			allowed: func(t *testing.T) int { code, _ := m.call("GET", "/v1/blobs/"+free+"/outboard", nil, nil); return code },
			refused: func(t *testing.T) int {
				code, _ := m.call("GET", "/v1/blobs/"+licensed+"/outboard", nil, nil)
				return code
			},
		},
		"PUT /v1/uploads/{id}/{part}": {
			allowed: func(t *testing.T) int {
				code, _ := m.call("PUT", "/v1/uploads/"+free+"/0?size=5", []byte("12345"), stranger)
				return code
			},
			refused: func(t *testing.T) int {
				code, _ := m.call("PUT", "/v1/uploads/"+free+"/0?size=5", []byte("12345"), nil)
				return code
			},
		},
		"POST /v1/uploads/{id}": {
			allowed: func(t *testing.T) int {
				code, _ := m.call("POST", "/v1/uploads/"+free+"?size=5", nil, stranger)
				return code
			},
			refused: func(t *testing.T) int {
				code, _ := m.call("POST", "/v1/uploads/"+free+"?size=5", nil, nil)
				return code
			},
		},
		"POST /v1/blobs/batch": {
			allowed: func(t *testing.T) int {
				b := []byte("stranger's batch " + grant.NewNonce())
				code, ans, raw := postBatch(t, m.hs, stranger, batchBody([][]byte{b}, nil), nil)
				if code != http.StatusOK || len(ans.Blobs) != 1 || !ans.Blobs[0].Created {
					t.Log(raw)
					return 0
				}
				return code
			},
			refused: func(t *testing.T) int {
				code, _, _ := postBatch(t, m.hs, nil, batchBody([][]byte{[]byte("unsigned")}, nil), nil)
				return code
			},
		},
		"POST /v1/blobs/batch-read": {
			// The answer is 200 with a record per blob; the code
			// returned is the licensed blob's own: 200 served, or its
			// problem's status.
			allowed: func(t *testing.T) int {
				return batchReadStatus(t, m.hs.URL, licensed, m.consumer, m.grant.ID.String())
			},
			refused: func(t *testing.T) int {
				if code := batchReadStatus(t, m.hs.URL, licensed, nil, ""); code < 400 {
					return code
				}
				return batchReadStatus(t, m.hs.URL, licensed, stranger, m.grant.ID.String())
			},
		},
		"POST /v1/blobs/missing":     anyone("POST", "/v1/blobs/missing", []byte(`{"ids":["`+licensed+`"]}`)...),
		"POST /v1/blobs/{id}/verify": anyone("POST", "/v1/blobs/"+free+"/verify", []byte(`{"offset":0,"length":1}`)...),
		"GET /healthz":               anyone("GET", "/healthz"),
		"GET /livez":                 anyone("GET", "/livez"),
		"GET /readyz":                anyone("GET", "/readyz"),
		"GET /metrics":               anyone("GET", "/metrics"),
		"GET /openapi.json":          anyone("GET", "/openapi.json"),
		"GET /log/checkpoint":        anyone("GET", "/log/checkpoint"),
		"GET /log/key":               anyone("GET", "/log/key"),
		"GET /log/tile/{path...}": {allowed: func(t *testing.T) int {
			code, _ := m.call("GET", fmt.Sprintf("/log/tile/0/000.p/%d", checkpointSize()%256), nil, nil)
			return code
		}},
		"GET /v1/log/proof/{index}":   anyone("GET", "/v1/log/proof/0"),
		"GET /v1/log/consistency":     anyone("GET", "/v1/log/consistency?old=1"),
		"GET /v1/assets":              anyone("GET", "/v1/assets"),
		"GET /v1/assets/{id}":         anyone("GET", "/v1/assets/"+m.model.String()),
		"GET /v1/assets/{id}/lineage": anyone("GET", "/v1/assets/"+m.model.String()+"/lineage"),
		"POST /v1/assets": {
			allowed: func(t *testing.T) int { m.registerPlain(t, "mine", stranger, ""); return http.StatusCreated },
			refused: func(t *testing.T) int {
				b := []byte("not stranger's " + grant.NewNonce())
				info, _ := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
				cid, _ := content.ParseID(info.ID)
				man := &asset.Manifest{Content: cid, Name: "x", MediaType: "text/plain", Created: asset.NewTime(time.Now()), Threshold: 1,
					Owners: []asset.Owner{{DID: m.max.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: stranger.DID(), Share: asset.Whole}}}
				env, err := man.Sign(stranger) // names Max as owner, signed by the stranger
				code, _ := m.call("POST", "/v1/assets", envJSON(t, env, err), nil)
				return code
			},
		},
		"POST /v1/assets/{id}/proposals": {
			allowed: func(t *testing.T) int {
				p := &asset.Proposal{Asset: gated, Change: asset.Change{Kind: asset.Delist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: m.ann.DID(), Version: 1}
				env, err := p.Sign(m.ann)
				code, _ := m.call("POST", "/v1/assets/"+gated.String()+"/proposals", envJSON(t, env, err), nil)
				return code
			},
			refused: func(t *testing.T) int {
				p := &asset.Proposal{Asset: gated, Change: asset.Change{Kind: asset.Delist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: stranger.DID(), Version: 1}
				env, err := p.Sign(stranger)
				code, _ := m.call("POST", "/v1/assets/"+gated.String()+"/proposals", envJSON(t, env, err), nil)
				return code
			},
		},
		"GET /v1/proposals": anyone("GET", "/v1/proposals?asset="+gated.String()),
		"GET /v1/proposals/{id}": {allowed: func(t *testing.T) int {
			v, _ := m.c.Asset(ctx, gated)
			if len(v.Proposals) == 0 {
				return 0
			}
			code, _ := m.call("GET", "/v1/proposals/"+v.Proposals[0].ID.String(), nil, nil)
			return code
		}},
		"POST /v1/proposals/{id}/approvals": {
			allowed: func(t *testing.T) int {
				p := &asset.Proposal{Asset: gated, Change: asset.Change{Kind: asset.Relist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: m.ann.DID(), Version: 1}
				env, _ := p.Sign(m.ann)
				ans, err := m.c.Propose(ctx, env)
				if err != nil {
					t.Log(err)
					return 0
				}
				a, _ := asset.NewApproval(p, m.bea.DID())
				aenv, err := a.Sign(m.bea)
				code, _ := m.call("POST", "/v1/proposals/"+ans.Proposal+"/approvals", envJSON(t, aenv, err), nil)
				return code
			},
			refused: func(t *testing.T) int {
				v, _ := m.c.Asset(ctx, gated)
				p := &asset.Proposal{Asset: gated, Change: asset.Change{Kind: asset.Delist}, Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: m.ann.DID(), Version: v.State.Version}
				env, _ := p.Sign(m.ann)
				ans, err := m.c.Propose(ctx, env)
				if err != nil {
					t.Log(err)
					return 0
				}
				a, _ := asset.NewApproval(p, stranger.DID())
				aenv, err := a.Sign(stranger)
				code, _ := m.call("POST", "/v1/proposals/"+ans.Proposal+"/approvals", envJSON(t, aenv, err), nil)
				return code
			},
		},
		"POST /v1/assets/{id}/grants": {
			allowed: func(t *testing.T) int {
				ans, err := m.c.RequestGrant(ctx, stranger, m.model, "infer", client.GrantOptions{Commercial: true})
				if err != nil || ans.Status != "granted" {
					t.Log(err)
					return 0
				}
				return http.StatusCreated
			},
			refused: func(t *testing.T) int {
				req := &grant.Request{Asset: m.model, Commercial: true, Created: asset.NewTime(time.Now()), Licensee: m.consumer.DID(), Nonce: grant.NewNonce(), Purpose: "infer"}
				b, _ := canonjson.Marshal(req)
				env, err := identity.Sign(identity.PayloadType(grant.KindRequest), b, stranger) // a grant for the consumer, asked by the stranger
				code, _ := m.call("POST", "/v1/assets/"+m.model.String()+"/grants", envJSON(t, env, err), nil)
				return code
			},
		},
		"GET /v1/assets/{id}/grants": anyone("GET", "/v1/assets/"+m.model.String()+"/grants"),
		"GET /v1/grant-requests":     anyone("GET", "/v1/grant-requests?status=pending"),
		"GET /v1/grants":             anyone("GET", "/v1/grants?licensee="+m.consumer.DID().String()),
		"GET /v1/grants/{id}":        anyone("GET", "/v1/grants/"+m.grant.ID.String()),
		"POST /v1/grants/{id}/revoke": {
			allowed: func(t *testing.T) int {
				ans, err := m.c.RequestGrant(ctx, m.ann, m.model, "infer", client.GrantOptions{Commercial: true})
				if err != nil {
					t.Log(err)
					return 0
				}
				rv := &grant.Revocation{Asset: m.model, Created: asset.NewTime(time.Now()), Grant: ans.Grant.ID, Reason: "test"}
				env, err := rv.Sign(m.max)
				code, _ := m.call("POST", "/v1/grants/"+ans.Grant.ID.String()+"/revoke", envJSON(t, env, err), nil)
				return code
			},
			refused: func(t *testing.T) int {
				rv := &grant.Revocation{Asset: m.model, Created: asset.NewTime(time.Now()), Grant: m.grant.ID, Reason: "spite"}
				env, err := rv.Sign(stranger)
				code, _ := m.call("POST", "/v1/grants/"+m.grant.ID.String()+"/revoke", envJSON(t, env, err), nil)
				return code
			},
		},
		"POST /v1/grant-requests/{id}/approvals": {
			allowed: func(t *testing.T) int {
				q := queued()
				a := &grant.Approval{Approve: false, Approver: m.ann.DID(), Asset: gated, Request: q}
				env, err := a.Sign(m.ann)
				code, _ := m.call("POST", "/v1/grant-requests/"+q.String()+"/approvals", envJSON(t, env, err), nil)
				return code
			},
			refused: func(t *testing.T) int {
				q := queued()
				a := &grant.Approval{Approve: true, Approver: stranger.DID(), Asset: gated, Request: q}
				env, err := a.Sign(stranger)
				code, _ := m.call("POST", "/v1/grant-requests/"+q.String()+"/approvals", envJSON(t, env, err), nil)
				return code
			},
		},
		"POST /v1/sessions/{id}/close": {
			allowed: func(t *testing.T) int {
				gc := m.c.WithGrant(m.consumer, m.grant.ID.String())
				m.download(gc)
				a, err := gc.CloseSession(ctx)
				if err != nil || len(a.Receipts) != 1 {
					t.Logf("%v %+v", err, a)
					return 0
				}
				return http.StatusOK
			},
			// The stranger's signed close of the consumer's session closes
			// nothing: the answer lists no receipt, the session stays open.
			refused: func(t *testing.T) int {
				gc := m.c.WithGrant(m.consumer, m.grant.ID.String())
				m.download(gc)
				code, b := m.call("POST", "/v1/sessions/"+gc.Session()+"/close", []byte("{}"), stranger)
				var a api.SessionAnswer
				json.Unmarshal(b, &a)
				if code == http.StatusOK && len(a.Receipts) == 0 {
					return http.StatusForbidden // refused in effect
				}
				return code
			},
		},
		"POST /v1/usage": {
			allowed: func(t *testing.T) int {
				u := &metering.Usage{Grant: m.grant.ID, ID: "ev-" + grant.NewNonce()[:8], Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 10}
				code, _ := m.report(m.consumer, u)
				return code
			},
			refused: func(t *testing.T) int {
				u := &metering.Usage{Grant: m.grant.ID, ID: "ev-" + grant.NewNonce()[:8], Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 10}
				code, _ := m.report(stranger, u)
				return code
			},
		},
		"POST /v1/settle": {
			allowed: func(t *testing.T) int { code, _ := m.call("POST", "/v1/settle", nil, op); return code },
			refused: func(t *testing.T) int {
				if code, _ := m.call("POST", "/v1/settle", nil, nil); code != http.StatusUnauthorized {
					return code
				}
				code, _ := m.call("POST", "/v1/settle", nil, m.max)
				return code
			},
		},
		"GET /v1/earnings": moneyRow(m, "/v1/earnings", m.max, stranger, viewOf),
		"GET /v1/accounts": moneyRow(m, "/v1/accounts", m.consumer, stranger, viewOf),
		"GET /v1/assets/{id}/unsettled": {
			allowed: func(t *testing.T) int {
				for _, k := range []*identity.Key{m.max, op} {
					if code, _ := m.call("GET", "/v1/assets/"+m.model.String()+"/unsettled", nil, k); code != http.StatusOK {
						return code
					}
				}
				return http.StatusOK
			},
			refused: func(t *testing.T) int {
				if code, _ := m.call("GET", "/v1/assets/"+m.model.String()+"/unsettled", nil, nil); code != http.StatusUnauthorized {
					return code
				}
				code, _ := m.call("GET", "/v1/assets/"+m.model.String()+"/unsettled", nil, m.consumer)
				return code
			},
		},
		"POST /v1/funds": {
			allowed: func(t *testing.T) int { m.fund(m.consumer.DID(), 1); return http.StatusOK },
			refused: func(t *testing.T) int {
				f := &metering.Fund{Amount: 1_000_000, Created: asset.NewTime(time.Now()), Currency: "USD-4", From: "bank", Licensee: stranger.DID(), Nonce: grant.NewNonce()}
				env, err := f.Sign(stranger)
				code, _ := m.call("POST", "/v1/funds", envJSON(t, env, err), nil)
				return code
			},
		},
		"POST /v1/withdrawals": {
			allowed: func(t *testing.T) int {
				if _, err := m.withdraw(m.max, 1); err != nil {
					t.Log(err)
					return 0
				}
				return http.StatusOK
			},
			refused: func(t *testing.T) int {
				w := &metering.Withdrawal{Amount: 1, Contributor: m.max.DID(), Created: asset.NewTime(time.Now()), Currency: "USD-4", Nonce: grant.NewNonce(), To: "thief"}
				env, err := w.Sign(stranger) // Max's earnings, signed by the stranger
				code, _ := m.call("POST", "/v1/withdrawals", envJSON(t, env, err), nil)
				return code
			},
		},
		"POST /v1/disputes": {
			allowed: func(t *testing.T) int { return disputeBy(m.consumer) },
			refused: func(t *testing.T) int { return disputeBy(outsider) }, // the stranger above became a licensee
		},
		"GET /v1/disputes": anyone("GET", "/v1/disputes?asset="+m.model.String()),
		"POST /v1/disputes/{id}/resolve": {
			allowed: func(t *testing.T) int {
				ds, _ := m.s.cat.Disputes(ctx, m.model.String(), "open")
				if len(ds) == 0 {
					return 0
				}
				res := &metering.Resolution{Asset: m.model, Created: asset.NewTime(time.Now()), Dispute: mustID(t, ds[0].ID), Outcome: metering.Release}
				env, err := res.Sign(m.max)
				code, _ := m.call("POST", "/v1/disputes/"+ds[0].ID+"/resolve", envJSON(t, env, err), nil)
				return code
			},
			refused: func(t *testing.T) int {
				if code := disputeBy(m.bea); code != http.StatusCreated {
					return 0
				}
				ds, _ := m.s.cat.Disputes(ctx, m.model.String(), "open")
				res := &metering.Resolution{Asset: m.model, Created: asset.NewTime(time.Now()), Dispute: mustID(t, ds[0].ID), Outcome: metering.Void}
				env, err := res.Sign(stranger)
				code, _ := m.call("POST", "/v1/disputes/"+ds[0].ID+"/resolve", envJSON(t, env, err), nil)
				return code
			},
		},
	}

	credBody := []byte(`{"assets":["` + m.model.String() + `"]}`)
	rows["POST /v1/credentials"] = accessRow{
		allowed: func(t *testing.T) int {
			code, _ := m.call("POST", "/v1/credentials", credBody, m.consumer)
			return code
		},
		refused: func(t *testing.T) int {
			if code, _ := m.call("POST", "/v1/credentials", credBody, nil); code < 400 {
				return code
			}
			code, _ := m.call("POST", "/v1/credentials", credBody, outsider) // no grant
			return code
		},
	}
	rows["GET /v1/credentials"] = accessRow{
		allowed: func(t *testing.T) int { code, _ := m.call("GET", "/v1/credentials", nil, m.consumer); return code },
		refused: func(t *testing.T) int { code, _ := m.call("GET", "/v1/credentials", nil, nil); return code },
	}
	rows["POST /v1/credentials/{id}/revoke"] = accessRow{
		allowed: func(t *testing.T) int {
			_, b := m.call("POST", "/v1/credentials", credBody, m.consumer)
			var a api.CredentialAnswer
			json.Unmarshal(b, &a)
			code, _ := m.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), m.consumer)
			return code
		},
		refused: func(t *testing.T) int {
			_, b := m.call("POST", "/v1/credentials", credBody, m.consumer)
			var a api.CredentialAnswer
			json.Unmarshal(b, &a)
			code, _ := m.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), stranger)
			return code
		},
	}

	doc, err := os.ReadFile("../docs/spec/http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, mm := range regexp.MustCompile("(?m)^\\| `([A-Z]+ /[^`]*)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[mm[1]] = true
	}
	for _, rt := range m.s.routeTable() {
		key := rt.method + " " + rt.pattern
		if !documented[key] {
			t.Errorf("%s has no row in the access table of docs/spec/http-api.md", key)
		}
		row, ok := rows[key]
		if !ok {
			t.Errorf("%s has no access test", key)
			continue
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			if code := row.allowed(t); code < 200 || code >= 300 {
				t.Errorf("allowed caller answered %d", code)
			}
			if row.refused != nil {
				if code := row.refused(t); code < 400 || code >= 500 {
					t.Errorf("refused caller answered %d", code)
				}
			}
		})
	}
}

// moneyRow: the DID's own signed request, the operator's and a view token
// the DID signed are served; no signature, a stranger's, and a view token
// the stranger signed are refused.
func moneyRow(m *market, path string, owner, stranger *identity.Key, viewOf func(who, signer *identity.Key) string) accessRow {
	q := path + "?did=" + owner.DID().String()
	return accessRow{
		allowed: func(t *testing.T) int {
			for _, k := range []*identity.Key{owner, m.s.key} {
				if code, b := m.call("GET", q, nil, k); code != http.StatusOK {
					t.Logf("signed by %s: %s", k.DID(), b)
					return code
				}
			}
			code, _ := m.call("GET", q, nil, nil, HeaderView, viewOf(owner, owner))
			return code
		},
		refused: func(t *testing.T) int {
			for _, c := range []struct {
				key *identity.Key
				hdr []string
			}{{nil, nil}, {stranger, nil}, {nil, []string{HeaderView, viewOf(owner, stranger)}}, {nil, []string{HeaderView, viewOf(stranger, stranger)}}} {
				if code, b := m.call("GET", q, nil, c.key, c.hdr...); code < 400 || code >= 500 {
					t.Logf("served: %s", b)
					return code
				}
			}
			return http.StatusForbidden
		},
	}
}
