package settlement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
)

// maxEarningLines bounds the lines of one statement.
const maxEarningLines = 1000

// EarningsQuery narrows a statement: the journal times [From, To) in Unix
// nanoseconds (To 0: no end), and the period its totals are grouped by,
// "day" (default) or "month".
type EarningsQuery struct {
	From, To int64
	Period   string
}

// Earnings returns the statement of a contributor's accounts, every unit
// traced to the use and the lineage path it came from (docs/settlement.md).
// It reads the contributor's accounts and their postings only, through the
// ledger's (account, time) index: its cost follows this account's history,
// not the whole journal's.
func (s *Service) Earnings(ctx context.Context, did identity.DID, q EarningsQuery) (*api.Earnings, error) {
	out := &api.Earnings{DID: did.String(), Period: q.Period, Currencies: []api.CurrencyEarnings{}}
	if out.Period == "" {
		out.Period = "day"
	}
	layout := map[string]string{"day": "2006-01-02", "month": "2006-01"}[out.Period]
	if layout == "" {
		return nil, fmt.Errorf("%w %q: use day or month", ErrBadPeriod, out.Period)
	}
	from, to := q.From, q.To
	if from != 0 {
		out.From = time.Unix(0, from).UTC().Format(time.RFC3339)
	}
	if to != 0 {
		out.To = time.Unix(0, to).UTC().Format(time.RFC3339)
	}
	// The contributor's accounts and their postings only, through the
	// ledger's (account, time) index: the cost follows this account's
	// history, not the whole journal's.
	prefix := ledger.ContributorAccount(did.String()) + "@"
	accts, err := s.l.Accounts(ctx, prefix)
	if err != nil {
		return nil, err
	}
	uses := map[string][]string{} // batch tag -> charge ids
	for _, a := range accts {
		acct := a.ID
		cur := strings.TrimPrefix(acct, prefix)
		lines, err := s.l.Postings(ctx, acct, ledger.PostingQuery{From: from, To: to, Only: ledger.Posted})
		if err != nil {
			return nil, err
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
					names[i], _ = SplitCurrency(p)
				}
				el.Asset, el.Used, el.Path, el.Batch = names[len(names)-1], names[0], names, tag
				ids, seen := uses[tag]
				if !seen {
					raw, err := s.l.State(ctx, settle.BatchKey(tag))
					if err != nil {
						return nil, err
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
	return out, nil
}
