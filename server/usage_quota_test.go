package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/canonjson"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// TestUsageQuotas: the terms' maxTokens and maxRuns bound what one
// licensee reports on one asset under one set of terms, over all its
// grants, with concurrent reports, and on replay: a report over the quota
// is refused live (403 quota-exhausted) and, if it reaches the log
// anyway, has no effect there, so the catalog rebuilt from the log counts
// the same. Before, usage reports were never checked against them.
func TestUsageQuotas(t *testing.T) {
	m := newMarketTerms(t, Config{}, 2, func(tm *license.Terms) {
		tm.Quotas = license.Quotas{MaxTokens: 1000, MaxRuns: 3}
	})
	ctx := context.Background()
	n := 0
	usage := func(tokens, runs int64) *metering.Usage {
		n++
		return &metering.Usage{Grant: m.grant.ID, ID: fmt.Sprintf("ev-%d", n), Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: tokens, Runs: runs}
	}
	want := func(u *metering.Usage, code int) {
		t.Helper()
		got, b := m.report(m.consumer, u)
		if got != code || (code == http.StatusForbidden && problemType(b) != ProblemTypeBase+"quota-exhausted") {
			t.Fatalf("report of %d tokens, %d runs: %d %s, want %d", u.Tokens, u.Runs, got, b, code)
		}
	}

	// Eight reports of 150 tokens at once: six fit in 1,000.
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		u := usage(150, 0)
		wg.Go(func() {
			switch code, b := m.report(m.consumer, u); code {
			case http.StatusCreated:
				ok.Add(1)
			case http.StatusForbidden:
				refused.Add(1)
			default:
				t.Errorf("concurrent report: %d %s", code, b)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 6 || refused.Load() != 2 {
		t.Fatalf("concurrent reports of 150 tokens under 1,000: %d accepted, %d refused; want 6 and 2", ok.Load(), refused.Load())
	}
	want(usage(101, 0), http.StatusForbidden)
	want(usage(100, 0), http.StatusCreated) // exactly 1,000
	want(usage(1, 0), http.StatusForbidden)

	// Runs are bounded on their own.
	want(usage(0, 2), http.StatusCreated)
	want(usage(0, 2), http.StatusForbidden)
	want(usage(0, 1), http.StatusCreated)

	// A fresh grant draws on the same allowance.
	ans, err := m.c.RequestGrant(ctx, m.consumer, m.model, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("second grant: %v", err)
	}
	m.grant = ans.Grant
	want(usage(1, 0), http.StatusForbidden)
	want(usage(0, 1), http.StatusForbidden)

	// A report over the quota that reaches the log (an older server, a
	// hand-made entry) applies with no effect, live and on replay.
	env, _ := usage(5, 0).Sign(m.consumer)
	raw, _ := env.Marshal()
	if _, err := m.s.commit(ctx, auditlog.TypeUsage, raw); !errors.Is(err, catalog.ErrNoEffect) {
		t.Fatalf("an over-quota usage entry applied: %v", err)
	}
	g, _, _ := m.s.grantOf(ctx, m.grant.ID.String())
	check := func(when string) {
		t.Helper()
		if tokens, runs, err := m.s.cat.UsageQuota(ctx, registry.QuotaKey(g)); err != nil || tokens != 1000 || runs != 3 {
			t.Fatalf("%s: usage quota counts %d tokens, %d runs (%v); want 1000 and 3", when, tokens, runs, err)
		}
		if n := dumpCount(t, m.s.cat, "usage "); n != 9 {
			t.Fatalf("%s: %d usage events recorded, want 9", when, n)
		}
	}
	check("live")
	m.restart(Config{})
	check("after a restart")
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckCatalog(ctx, Config{DataDir: m.dir, Logger: m.s.log})
	if err != nil || !rep.Clean() {
		t.Fatalf("the catalog rebuilt from the log differs: %v %+v", err, rep)
	}
}

// TestRevocationReasonVisible: a revocation reason is shown to people, so
// it passes the same visible-text rule as dispute reasons: a right-to-left
// override is refused (422) and nothing is logged; a plain reason works.
func TestRevocationReasonVisible(t *testing.T) {
	m := newMarket(t, Config{})
	rv := &grant.Revocation{Asset: m.model, Created: asset.NewTime(time.Now()), Grant: m.grant.ID, Reason: "abuse \u202egnp.exe"}
	// Signed by hand: Sign refuses it too.
	if _, err := rv.Sign(m.max); err == nil {
		t.Fatal("Revocation.Sign accepted a bidi override in the reason")
	}
	b, _ := canonjson.Marshal(rv)
	env, err := identity.Sign(identity.PayloadType(grant.KindRevocation), b, m.max)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := env.Marshal()
	if code, body := m.post("/v1/grants/"+m.grant.ID.String()+"/revoke", raw); code != http.StatusUnprocessableEntity {
		t.Fatalf("revocation with a bidi override in its reason: %d %s", code, body)
	}
	if g, revoked, err := m.s.grantOf(context.Background(), m.grant.ID.String()); err != nil || revoked || g == nil {
		t.Fatalf("the refused revocation took effect: revoked %v, %v", revoked, err)
	}
	rv.Reason = "abuse of the terms"
	renv, _ := rv.Sign(m.max)
	if _, err := m.c.Revoke(context.Background(), renv); err != nil {
		t.Fatalf("plain reason: %v", err)
	}
}

// TestUnsettledSurvivesRestart: the uses the last settlement could not
// charge, with their reasons, are kept in the catalog, so GET
// /v1/assets/{id}/unsettled lists them after a restart (before, the list
// lived in memory and came back empty until the next run).
func TestUnsettledSurvivesRestart(t *testing.T) {
	m := newMarket(t, Config{})
	// Use without funds: the charge fails.
	u := &metering.Usage{Grant: m.grant.ID, ID: "ev-unfunded", Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: 5000}
	if code, b := m.report(m.consumer, u); code != http.StatusCreated {
		t.Fatalf("report: %d %s", code, b)
	}
	st, err := m.s.Settle(context.Background())
	if err != nil || len(st.Failed) != 1 {
		t.Fatalf("settlement: %v, failed %+v; want one failed use", err, st)
	}
	list := func() []metering.FailedUse {
		t.Helper()
		code, b := m.call("GET", "/v1/assets/"+m.model.String()+"/unsettled", nil, m.max)
		var a struct {
			Failed []metering.FailedUse `json:"failed"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &a) != nil {
			t.Fatalf("unsettled: %d %s", code, b)
		}
		return a.Failed
	}
	before := list()
	if len(before) != 1 || before[0] != st.Failed[0] {
		t.Fatalf("unsettled before the restart: %+v, want %+v", before, st.Failed)
	}
	m.restart(Config{})
	if after := list(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("unsettled after a restart: %+v, want %+v", after, before)
	}
}
