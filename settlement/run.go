package settlement

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/canonjson"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// maxFailedPerSettlement bounds the failed uses one settlement entry lists,
// so that the entry (at most 127 bytes per use, base64 in an envelope)
// stays within the log's 64 KiB entry limit.
const maxFailedPerSettlement = 300

// grantOf opens the grant id as logged.
func (s *Service) grantOf(ctx context.Context, id string) (*grant.Grant, error) {
	rec, err := s.cat.Grant(ctx, id)
	if err != nil {
		return nil, err
	}
	env, err := identity.ParseEnvelope(rec.Envelope)
	if err != nil {
		return nil, err
	}
	return grant.OpenGrant(env)
}

// priced is what pricing needs to know of a grant.
type priced struct {
	price     license.Price
	currency  string
	licAcct   string // the licensee's account in currency
	assetName string // the settle asset name: asset@currency
}

// pricing prices the uses of grants under the terms each grant was made
// under (Grant.Terms), never the asset's current terms.
type pricing struct {
	s      *Service
	grants map[string]*priced
}

func (p *pricing) grant(ctx context.Context, id string) (*priced, error) {
	if g, ok := p.grants[id]; ok {
		return g, nil
	}
	g, err := p.s.grantOf(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := p.s.cfg.Terms(ctx, g.Terms.String())
	if err != nil {
		return nil, fmt.Errorf("terms %s of grant %s: %w", g.Terms, id, err)
	}
	cur := metering.Currency(t.Price)
	pr := &priced{price: t.Price, currency: cur, licAcct: LicenseeAccount(g.Licensee.String(), cur), assetName: InCurrency(g.Asset.String(), cur)}
	p.grants[id] = pr
	return pr, nil
}

// Lineage reads split nodes from the catalog's asset states, for
// split.Compile and settle.Settler. A node name is "<asset>@<currency>";
// contributors get their per-currency accounts, parents their royalty and
// stacking. Nodes are read once per Lineage.
type Lineage struct {
	ctx   context.Context
	cat   AssetReader
	nodes map[string]split.Node
}

// AssetReader reads asset records.
type AssetReader interface {
	Asset(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error)
}

// NewLineage returns a Lineage reading cat under ctx.
func NewLineage(ctx context.Context, cat AssetReader) *Lineage {
	return &Lineage{ctx: ctx, cat: cat, nodes: map[string]split.Node{}}
}

// PlanAccounts returns the ledger accounts a compiled lineage plan of
// leaf ("<asset>@<currency>") pays through: the revenue account of every
// asset on a path and every contributor's account.
func PlanAccounts(leaf string, plan *split.Plan) []ledger.Account {
	_, cur := SplitCurrency(leaf)
	acct := ledger.AssetAccount(leaf)
	out := []ledger.Account{{ID: acct, Kind: ledger.KindAssetRevenue, Currency: cur}}
	for _, sl := range plan.Slots {
		out = append(out, ledger.Account{ID: sl.Account, Kind: ledger.KindContributor, Currency: cur})
		for _, a := range sl.Path {
			out = append(out, ledger.Account{ID: ledger.AssetAccount(a), Kind: ledger.KindAssetRevenue, Currency: cur})
		}
	}
	return out
}

// Load returns the split node of name.
func (l *Lineage) Load(name string) (split.Node, error) {
	if n, ok := l.nodes[name]; ok {
		return n, nil
	}
	a, cur := SplitCurrency(name)
	aid, err := asset.ParseID(a)
	if err != nil {
		return split.Node{}, err
	}
	rec, err := l.cat.Asset(l.ctx, aid)
	if err != nil {
		return split.Node{}, err
	}
	n := split.Node{Asset: name}
	for _, c := range rec.State.Contributors {
		acct := ContributorAccount(c.DID.String(), cur)
		n.Contributors = append(n.Contributors, split.Contributor{Account: acct, Share: int64(c.Share)})
	}
	if len(n.Contributors) == 0 {
		// An asset without contributors pays its owners by weight.
		var total int64
		for _, o := range rec.State.Owners {
			total += o.Weight
		}
		ws := make([]int64, len(rec.State.Owners))
		for i, o := range rec.State.Owners {
			ws[i] = o.Weight
		}
		shares, err := split.Apportion(split.Whole, ws)
		if err != nil {
			return split.Node{}, err
		}
		for i, o := range rec.State.Owners {
			acct := ContributorAccount(o.DID.String(), cur)
			n.Contributors = append(n.Contributors, split.Contributor{Account: acct, Share: shares[i]})
		}
	}
	for _, p := range rec.State.Manifest.Parents {
		st := split.Relative
		if p.Stacking == asset.Absolute {
			st = split.Absolute
		}
		n.Parents = append(n.Parents, split.Parent{Asset: InCurrency(p.Asset.String(), cur), Share: int64(p.Royalty), Stacking: st})
	}
	l.nodes[name] = n
	return n, nil
}

// Settle charges every unsettled receipt and usage event, splits the
// revenue up each asset's lineage, marks them settled and logs the ledger
// journal root as a "settlement" entry. It is safe to run again after a
// crash at any point: charges and splits are idempotent in the ledger, and
// uses stay unsettled in the catalog until the settlement entry is logged.
// Runs of one Service are serialised; runs of replicas sharing a ledger
// must be serialised by the caller (a lease), and a run must stop when
// ctx is cancelled.
func (s *Service) Settle(ctx context.Context) (*metering.Settlement, error) {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	next, _, err := s.cat.Applied(ctx)
	if err != nil {
		return nil, err
	}
	empty := &metering.Settlement{Gross: map[string]int64{}, Failed: []metering.FailedUse{}}
	if next == 0 {
		return empty, nil
	}
	through := next - 1
	watermark, err := s.cat.SettledThrough(ctx)
	if err != nil {
		return nil, err
	}
	pr := &pricing{s: s, grants: map[string]*priced{}}
	// Per use only its log index is kept (in scan order, parallel to
	// nothing): a million uses cost 8 MB beside their charges.
	var indexes []uint64
	var failed []catalog.Use // priced uses that cannot be charged, and charges refused below
	failMsg := map[string]string{}
	flatUses := map[string][]catalog.Use{} // uses of flat-priced grants, by grant
	assetOf := map[string]string{}         // use key -> asset id, for owners' view of failures
	var charges []settle.Charge
	var chargeIdx []uint64 // log index of charges[i]
	err = s.cat.Unsettled(ctx, through, func(u catalog.Use) error {
		indexes = append(indexes, u.LogIndex)
		if rec, err := s.cat.Grant(ctx, u.Grant); err == nil {
			assetOf[u.Key] = rec.Asset
		}
		g, err := pr.grant(ctx, u.Grant)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// This use cannot be priced; it stays unsettled, the rest go on.
			failed = append(failed, u)
			failMsg[u.Key] = fmt.Sprintf("cannot price the use of grant %s: %v", u.Grant, err)
			return nil
		}
		if g.price.Model == license.Flat {
			if flatUses[u.Grant] == nil {
				charges = append(charges, settle.Charge{ID: "g:" + u.Grant, Licensee: g.licAcct, Asset: g.assetName, Amount: g.price.Amount})
				chargeIdx = append(chargeIdx, u.LogIndex)
			}
			flatUses[u.Grant] = append(flatUses[u.Grant], u)
			return nil
		}
		q := metering.Quantity{Tokens: u.Tokens, Requests: u.Calls, Runs: u.Runs}
		if u.Receipt {
			q = metering.Quantity{Bytes: u.Bytes, Requests: 1} // a download session is one request
		}
		amount, err := metering.Price(g.price, q)
		if err != nil {
			failed = append(failed, u)
			failMsg[u.Key] = err.Error()
			return nil
		}
		if amount > 0 {
			charges = append(charges, settle.Charge{ID: u.Key, Licensee: g.licAcct, Asset: g.assetName, Amount: amount})
			chargeIdx = append(chargeIdx, u.LogIndex)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("settlement: reading uses: %w", err)
	}
	// Open the accounts of every lineage the charges reach. A lineage that
	// cannot be split fails its own charges only (the settler reports
	// them); its accounts are not opened.
	ll := NewLineage(ctx, s.cat)
	accounts := map[string]ledger.Account{}
	leaves := map[string]bool{}
	for _, c := range charges {
		if !leaves[c.Asset] {
			leaves[c.Asset] = true
			plan, err := split.Compile(c.Asset, ll.Load)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				continue
			}
			for _, a := range PlanAccounts(c.Asset, plan) {
				accounts[a.ID] = a
			}
		}
	}
	ids := make([]string, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := s.openAccount(ctx, accounts[id]); err != nil {
			return nil, fmt.Errorf("settlement: opening %s: %w", id, err)
		}
	}
	held, err := s.heldAssets(ctx)
	if err != nil {
		return nil, err
	}
	st := &settle.Settler{Ledger: s.l, Lineage: ll.Load, Held: func(a string) bool {
		name, _ := SplitCurrency(a)
		return held[name]
	}}
	s.ledgerMu.Lock()
	rep, err := st.Settle(ctx, charges)
	s.ledgerMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("settlement: %w", err)
	}
	out := &metering.Settlement{Charged: rep.Charged, Existed: rep.Existed, Postings: rep.Postings, Gross: map[string]int64{}, Failed: []metering.FailedUse{}}
	refused := map[string]bool{}
	if len(rep.Failed) > 0 {
		pos := make(map[string]int, len(charges))
		for i, c := range charges {
			pos[c.ID] = i
		}
		for _, f := range rep.Failed {
			refused[f.Charge.ID] = true
			_, cur := SplitCurrency(f.Charge.Asset)
			msg := f.Err.Error()
			switch {
			case errors.Is(f.Err, ledger.ErrAccountNotFound):
				msg = fmt.Sprintf("licensee has no prepaid account in %s (charter fund)", cur)
			case errors.Is(f.Err, ledger.ErrExceedsLimit):
				msg = fmt.Sprintf("insufficient funds: %s %s needed (charter fund)", metering.FormatAmount(f.Charge.Amount, cur), cur)
			case errors.Is(f.Err, settle.ErrLineage):
				name, _ := SplitCurrency(f.Charge.Asset)
				msg = fmt.Sprintf("the lineage of asset %s cannot be split (%s); its owners must fix contributors or royalties with a proposal", name, firstLine(f.Err.Error()))
			}
			if g, ok := strings.CutPrefix(f.Charge.ID, "g:"); ok {
				// A flat charge that failed leaves every use of its grant unsettled.
				for _, u := range flatUses[g] {
					failed = append(failed, u)
					failMsg[u.Key] = msg
				}
				continue
			}
			failed = append(failed, catalog.Use{Key: f.Charge.ID, LogIndex: chargeIdx[pos[f.Charge.ID]]})
			failMsg[f.Charge.ID] = msg
		}
	}
	// Uses left unsettled: the ones logged before the watermark (carried
	// over, at most maxFailedPerSettlement by induction) all stay listed;
	// new ones beyond the room left lower through instead, so the log
	// entry stays small.
	slices.SortFunc(failed, func(a, b catalog.Use) int { return cmpU64(a.LogIndex, b.LogIndex) })
	old := 0
	for old < len(failed) && failed[old].LogIndex <= watermark {
		old++
	}
	if room := max(maxFailedPerSettlement-old, 0); len(failed)-old > room {
		through = failed[old+room].LogIndex - 1
		failed = failed[:old+room]
	}
	failedKeys := make([]string, 0, len(failed))
	byAsset := map[string][]metering.FailedUse{}
	for _, u := range failed {
		failedKeys = append(failedKeys, u.Key)
		f := metering.FailedUse{Use: u.Key, Error: failMsg[u.Key]}
		out.Failed = append(out.Failed, f)
		byAsset[assetOf[u.Key]] = append(byAsset[assetOf[u.Key]], f)
	}
	if !s.cfg.SharedFailures { // replicas read the list from the catalog, where every run keeps it
		s.lastFailed.Store(&byAsset)
	}
	// Kept in the catalog too, so the list survives a restart.
	reasons := make([]catalog.UnsettledReason, 0, len(failed))
	for _, u := range failed {
		reasons = append(reasons, catalog.UnsettledReason{Asset: assetOf[u.Key], Use: u.Key, Error: failMsg[u.Key]})
	}
	if err := s.cat.SetUnsettledReasons(ctx, reasons); err != nil {
		s.log.Error("keeping the reasons of unsettled uses", "err", err)
	}
	for _, idx := range indexes {
		if idx <= through {
			out.Uses++
		}
	}
	out.Uses -= len(failed)
	// Gross of the charges this settlement covers, by currency.
	for _, c := range charges {
		if !refused[c.ID] {
			_, cur := SplitCurrency(c.Asset)
			out.Gross[cur] += c.Amount
		}
	}
	// Held splits of resolved disputes (a crash may have cut the
	// resolution short).
	if r, v, err := s.resolveAllHeld(ctx); err != nil {
		return nil, err
	} else {
		out.Released, out.Voided = r, v
	}
	if out.Uses == 0 && rep.Charged == 0 && out.Released == 0 && out.Voided == 0 && len(failed) == old {
		return out, nil // nothing new to log (a settlement entry per run would feed the next run)
	}
	root, err := s.l.JournalRoot(ctx)
	if err != nil {
		return nil, err
	}
	out.JournalSize, out.JournalRoot, out.Through = root.Size, hex.EncodeToString(root.Hash[:]), through
	payload, err := canonjson.Marshal(registry.SettlementEntry{Failed: failedKeys, JournalRoot: out.JournalRoot, JournalSize: out.JournalSize, Through: through, Uses: out.Uses})
	if err != nil {
		return nil, err
	}
	idx, err := s.cfg.Append(ctx, payload)
	if err != nil {
		return nil, err
	}
	out.LogIndex = idx
	s.log.Info("settled", "uses", out.Uses, "charged", out.Charged, "postings", out.Postings, "failed", len(out.Failed), "journal", out.JournalSize, "index", idx)
	return out, nil
}

// firstLine returns s up to its first newline (errors carry hints after it).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
