package settlement

import (
	"context"
	"fmt"
	"math"
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
		ce, err := s.currencyEarnings(ctx, a, strings.TrimPrefix(a.ID, prefix), layout, from, to, uses)
		if err != nil {
			return nil, err
		}
		out.Currencies = append(out.Currencies, *ce)
	}
	return out, nil
}

// currencyEarnings is the statement of one contributor account a in
// currency cur. It reads the account's postings one at a time, keeping
// only the first maxEarningLines of them, and then the charges of the
// settlement batches they split (uses caches them across currencies).
func (s *Service) currencyEarnings(ctx context.Context, a ledger.AccountBalance, cur, layout string, from, to int64, uses map[string][]string) (*api.CurrencyEarnings, error) {
	b := a.Balance
	ce := &api.CurrencyEarnings{Currency: cur, Account: a.ID, Balance: b.Net(), Held: b.CreditsPending, Assets: []api.AssetEarnings{}, Periods: []api.PeriodEarnings{}, Lines: make([]api.EarningLine, 0, 64)}
	byAsset := map[string]*api.AssetEarnings{}
	type srcKey struct{ asset, path string }
	type source struct {
		api.SourceEarning
		batches map[string]bool // the batches whose uses it counts
		last    string          // the last batch added (lines of a batch come together)
	}
	bySource := map[srcKey]*source{}
	var buf []byte // formats line times
	byPeriod := map[string]*api.PeriodEarnings{}
	var tags []string           // batches whose charges are not read yet
	day := int64(math.MinInt64) // the UTC day of pe, in days since 1970
	var pe *api.PeriodEarnings
	err := s.l.EachPosting(ctx, a.ID, ledger.PostingQuery{From: from, To: to, Only: ledger.Posted}, func(l ledger.Line) error {
		keep := len(ce.Lines) < maxEarningLines
		el := api.EarningLine{Transfer: l.ID, Amount: l.Amount, Kind: "other"}
		if d := floorDiv(l.Time, int64(24*time.Hour)); d != day || keep {
			t := time.Unix(0, l.Time).UTC()
			if keep {
				buf = t.AppendFormat(buf[:0], time.RFC3339Nano)
				el.Time = string(buf)
			}
			if d != day {
				day = d
				pk := t.Format(layout)
				if pe = byPeriod[pk]; pe == nil {
					pe = &api.PeriodEarnings{Period: pk}
					byPeriod[pk] = pe
				}
			}
		}
		tag, path, ok := settle.ParseProvenance(l.Ref)
		switch {
		case ok && l.Code == settle.CodeSplit && l.Amount > 0:
			names := path // ParseProvenance's own slice: the names replace the nodes
			for i, p := range path {
				names[i], _ = SplitCurrency(p)
			}
			el.Asset, el.Used, el.Path, el.Batch = names[len(names)-1], names[0], names, tag
			if _, seen := uses[tag]; !seen {
				uses[tag] = nil
				tags = append(tags, tag)
			}
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
			_, via, _ := strings.Cut(l.Ref, " via ")
			k := srcKey{el.Asset, via}
			se := bySource[k]
			if se == nil {
				se = &source{SourceEarning: api.SourceEarning{Used: el.Used, Path: names}, batches: map[string]bool{}}
				bySource[k] = se
			}
			se.Amount += l.Amount
			if se.last != tag {
				se.last, se.batches[tag] = tag, true
			}
		case strings.HasPrefix(l.Counterparty, "external:") && l.Amount < 0:
			el.Kind = "payout"
			ce.Payouts -= l.Amount
			pe.Payouts -= l.Amount
		}
		if keep {
			if len(ce.Lines) == cap(ce.Lines) {
				// One step to the most a statement lists: growing 168-byte
				// lines by halves allocated 2.6 times what 1,000 of them
				// hold, all of it for the collector to scan.
				ce.Lines = append(make([]api.EarningLine, 0, maxEarningLines), ce.Lines...)
			}
			ce.Lines = append(ce.Lines, el)
		} else {
			ce.Truncated = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.batchUses(ctx, tags, uses); err != nil {
		return nil, err
	}
	for i := range ce.Lines {
		if el := &ce.Lines[i]; el.Batch != "" {
			ids := uses[el.Batch]
			el.UsesTotal, el.Uses = len(ids), ids[:min(len(ids), 20)]
		}
	}
	ce.Total = ce.Own + ce.Royalties
	for k, se := range bySource {
		for tag := range se.batches {
			se.Uses += len(uses[tag])
		}
		byAsset[k.asset].Sources = append(byAsset[k.asset].Sources, se.SourceEarning)
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
	return ce, nil
}

// batchUses reads into uses the charges of every batch in tags (ledger
// state settle.BatchKey), in one round trip when the ledger offers
// ledger.StatesReader.
func (s *Service) batchUses(ctx context.Context, tags []string, uses map[string][]string) error {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = settle.BatchKey(t)
	}
	var states map[string][]byte
	if sr, ok := s.l.(ledger.StatesReader); ok {
		var err error
		if states, err = sr.States(ctx, keys); err != nil {
			return err
		}
	} else {
		states = make(map[string][]byte, len(keys))
		for _, k := range keys {
			v, err := s.l.State(ctx, k)
			if err != nil {
				return err
			}
			states[k] = v
		}
	}
	for i, t := range tags {
		if raw := states[keys[i]]; len(raw) > 0 {
			uses[t] = strings.Split(string(raw), "\n")
		}
	}
	return nil
}

// floorDiv is a / b rounded down (times before 1970 are negative).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
