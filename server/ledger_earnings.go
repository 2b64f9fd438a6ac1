package server

import (
	"fmt"
	"github.com/charter-dev/charter/api"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
)

// maxEarningLines bounds the lines of one statement.
const maxEarningLines = 1000

// Earnings is api.Earnings.
type Earnings = api.Earnings

// earnings handles GET /v1/earnings?did=&from=&to=&period=day|month: the
// statement of a contributor's accounts, every unit traced to the use and
// the lineage path it came from (docs/settlement.md).
func (s *Server) earnings(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	did, err := identity.ParseDID(q.Get("did"))
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-did", "Malformed DID", err.Error(), "pass ?did=did:key:...", err)
	}
	if err := s.mayReadMoney(r, did); err != nil {
		return err
	}
	out := Earnings{DID: did.String(), Period: q.Get("period"), Currencies: []api.CurrencyEarnings{}}
	if out.Period == "" {
		out.Period = "day"
	}
	layout := map[string]string{"day": "2006-01-02", "month": "2006-01"}[out.Period]
	if layout == "" {
		return errorf(http.StatusBadRequest, "bad-period", "Unknown period", fmt.Sprintf("period %q", out.Period), "use day or month", nil)
	}
	var from, to int64
	for _, p := range []struct {
		name string
		dst  *int64
		out  *string
	}{{"from", &from, &out.From}, {"to", &to, &out.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02", v); err != nil {
				return errorf(http.StatusBadRequest, "bad-time", "Malformed time", fmt.Sprintf("%s=%q", p.name, v), "use RFC 3339 or YYYY-MM-DD", err)
			}
		}
		*p.dst, *p.out = t.UnixNano(), t.UTC().Format(time.RFC3339)
	}
	// The contributor's accounts and their postings only, through the
	// ledger's (account, time) index: the cost follows this account's
	// history, not the whole journal's.
	prefix := ledger.ContributorAccount(did.String()) + "@"
	accts, err := s.ledger.Accounts(ctx, prefix)
	if err != nil {
		return err
	}
	uses := map[string][]string{} // batch tag -> charge ids
	for _, a := range accts {
		acct := a.ID
		cur := strings.TrimPrefix(acct, prefix)
		lines, err := s.ledger.Postings(ctx, acct, ledger.PostingQuery{From: from, To: to, Only: ledger.Posted})
		if err != nil {
			return err
		}
		b := a.Balance
		ce := api.CurrencyEarnings{Currency: cur, Account: acct, Balance: b.Net(), Held: b.CreditsPending, Assets: []api.AssetEarnings{}, Periods: []api.PeriodEarnings{}, Lines: []api.EarningLine{}}
		byAsset := map[string]*api.AssetEarnings{}
		type srcKey struct{ asset, path string }
		bySource := map[srcKey]*api.SourceEarning{}
		srcBatches := map[srcKey]map[string]bool{}
		byPeriod := map[string]*api.PeriodEarnings{}
		for _, l := range lines {
			t := time.Unix(0, l.Time).UTC()
			el := api.EarningLine{Time: t.Format(time.RFC3339Nano), Transfer: l.ID, Amount: l.Amount, Kind: "other"}
			pk := t.Format(layout)
			pe := byPeriod[pk]
			if pe == nil {
				pe = &api.PeriodEarnings{Period: pk}
				byPeriod[pk] = pe
			}
			tag, path, ok := settle.ParseProvenance(l.Ref)
			switch {
			case ok && l.Code == settle.CodeSplit && l.Amount > 0:
				names := make([]string, len(path))
				for i, p := range path {
					names[i], _ = splitCurrency(p)
				}
				el.Asset, el.Used, el.Path, el.Batch = names[len(names)-1], names[0], names, tag
				ids, seen := uses[tag]
				if !seen {
					raw, err := s.ledger.State(ctx, settle.BatchKey(tag))
					if err != nil {
						return err
					}
					if len(raw) > 0 {
						ids = strings.Split(string(raw), "\n")
					}
					uses[tag] = ids
				}
				el.UsesTotal = len(ids)
				el.Uses = ids[:min(len(ids), 20)]
				ae := byAsset[el.Asset]
				if ae == nil {
					ae = &api.AssetEarnings{Asset: el.Asset, Sources: []api.SourceEarning{}}
					byAsset[el.Asset] = ae
				}
				if len(names) == 1 {
					el.Kind = "own"
					ae.Own += l.Amount
					ce.Own += l.Amount
					pe.Own += l.Amount
				} else {
					el.Kind = "royalty"
					ae.Royalties += l.Amount
					ce.Royalties += l.Amount
					pe.Royalties += l.Amount
				}
				ae.Total += l.Amount
				pe.Total += l.Amount
				k := srcKey{el.Asset, strings.Join(names, ">")}
				se := bySource[k]
				if se == nil {
					se = &api.SourceEarning{Used: el.Used, Path: names}
					bySource[k] = se
					srcBatches[k] = map[string]bool{}
				}
				se.Amount += l.Amount
				if !srcBatches[k][tag] {
					srcBatches[k][tag] = true
					se.Uses += len(ids)
				}
			case strings.HasPrefix(l.Counterparty, "external:") && l.Amount < 0:
				el.Kind = "payout"
				ce.Payouts -= l.Amount
				pe.Payouts -= l.Amount
			}
			if len(ce.Lines) < maxEarningLines {
				ce.Lines = append(ce.Lines, el)
			} else {
				ce.Truncated = true
			}
		}
		ce.Total = ce.Own + ce.Royalties
		for k, se := range bySource {
			byAsset[k.asset].Sources = append(byAsset[k.asset].Sources, *se)
		}
		for _, ae := range byAsset {
			slices.SortFunc(ae.Sources, func(a, b api.SourceEarning) int {
				return strings.Compare(strings.Join(a.Path, ">"), strings.Join(b.Path, ">"))
			})
			ce.Assets = append(ce.Assets, *ae)
		}
		slices.SortFunc(ce.Assets, func(a, b api.AssetEarnings) int { return strings.Compare(a.Asset, b.Asset) })
		for _, pe := range byPeriod {
			ce.Periods = append(ce.Periods, *pe)
		}
		slices.SortFunc(ce.Periods, func(a, b api.PeriodEarnings) int { return strings.Compare(a.Period, b.Period) })
		out.Currencies = append(out.Currencies, ce)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// accounts handles GET /v1/accounts?did=: a principal's ledger accounts
// (prepaid, contributor) with balances.
func (s *Server) accounts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	did, err := identity.ParseDID(r.URL.Query().Get("did"))
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-did", "Malformed DID", err.Error(), "pass ?did=did:key:...", err)
	}
	if err := s.mayReadMoney(r, did); err != nil {
		return err
	}
	out := []api.FundAnswer{}
	for _, p := range []string{ledger.LicenseeAccount(did.String()) + "@", ledger.ContributorAccount(did.String()) + "@"} {
		as, err := s.ledger.Accounts(ctx, p)
		if err != nil {
			return err
		}
		for _, a := range as {
			out = append(out, api.FundAnswer{Account: a.ID, Currency: a.Currency, Balance: a.Net(), CreditLimit: a.CreditLimit})
		}
	}
	slices.SortFunc(out, func(a, b api.FundAnswer) int { return strings.Compare(a.Account, b.Account) })
	writeJSON(w, http.StatusOK, map[string]any{"did": did.String(), "accounts": out})
	return nil
}
