package settlement

import (
	"context"
	"sort"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/metering"
)

// heldAssets returns the assets with an open dispute.
func (s *Service) heldAssets(ctx context.Context) (map[string]bool, error) {
	ds, err := s.cat.Disputes(ctx, "", "open")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, d := range ds {
		out[d.Asset] = true
	}
	return out, nil
}

// assetAccounts returns an asset's revenue accounts, one per currency,
// sorted.
func (s *Service) assetAccounts(ctx context.Context, a string) ([]string, error) {
	as, err := s.l.Accounts(ctx, ledger.AssetAccount(a)+"@")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(as))
	for i, acct := range as {
		out[i] = acct.ID
	}
	return out, nil
}

// DisputeResolved resolves the held splits of asset a after a resolution
// with outcome was applied: once no dispute on a is open, they are posted
// (released) or voided as the outcome says, and their count returned as
// released or voided. While another dispute on a is open they stay held.
func (s *Service) DisputeResolved(ctx context.Context, a, outcome string) (released, voided int, err error) {
	open, err := s.cat.Disputes(ctx, a, "open")
	if err != nil || len(open) > 0 {
		return 0, 0, err
	}
	n, err := s.ResolveHeld(ctx, a, outcome)
	if outcome == metering.Void {
		return 0, n, err
	}
	return n, 0, err
}

// ResolveHeld posts (release) or voids the held splits of asset a.
func (s *Service) ResolveHeld(ctx context.Context, a, outcome string) (int, error) {
	accts, err := s.assetAccounts(ctx, a)
	if err != nil {
		return 0, err
	}
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	n := 0
	for _, acct := range accts {
		hs, err := settle.Held(ctx, s.l, acct)
		if err != nil {
			return n, err
		}
		var ts []ledger.Transfer
		for _, h := range hs {
			t := ledger.Transfer{ID: "release:" + h.ID, PendingID: h.ID, Flags: ledger.PostPending, Amount: h.Amount, Code: settle.CodeSplit, Ref: h.Ref}
			if outcome == metering.Void {
				t = ledger.Transfer{ID: "void:" + h.ID, PendingID: h.ID, Flags: ledger.VoidPending, Code: settle.CodeSplit, Ref: h.Ref}
			}
			ts = append(ts, t)
		}
		if len(ts) == 0 {
			continue
		}
		res, err := s.l.CreateTransfers(ctx, ts)
		if err != nil {
			return n, err
		}
		for _, r := range res {
			if r.Err != nil {
				return n, r.Err
			}
			if !r.Existed {
				n++
			}
		}
	}
	return n, nil
}

// resolveAllHeld resolves the held splits of every asset whose disputes
// are all resolved; the last resolution decides. Each resolution is
// checked once per server run (settleMu held), so the reads of the asset
// accounts' open pending postings do not repeat on every periodic
// settlement.
func (s *Service) resolveAllHeld(ctx context.Context) (released, voided int, err error) {
	ds, err := s.cat.Disputes(ctx, "", "")
	if err != nil {
		return 0, 0, err
	}
	open := map[string]bool{}
	last := map[string]*catalog.DisputeRecord{}
	for _, d := range ds {
		if d.Status == "open" {
			open[d.Asset] = true
		} else if l := last[d.Asset]; l == nil || d.Resolved > l.Resolved {
			last[d.Asset] = d
		}
	}
	assets := make([]string, 0, len(last))
	for a := range last {
		assets = append(assets, a)
	}
	sort.Strings(assets)
	for _, a := range assets {
		if open[a] || s.heldDone[a] == last[a].Resolved {
			continue
		}
		outcome := metering.Release
		if last[a].Status == "voided" {
			outcome = metering.Void
		}
		n, err := s.ResolveHeld(ctx, a, outcome)
		if err != nil {
			return released, voided, err
		}
		if outcome == metering.Void {
			voided += n
		} else {
			released += n
		}
		s.heldDone[a] = last[a].Resolved // checked: not scanned again while this server runs
	}
	return released, voided, nil
}
