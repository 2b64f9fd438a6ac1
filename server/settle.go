package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/internal/canonjson"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// DefaultSettleInterval is how often the server settles when
// Config.SettleInterval is zero.
const DefaultSettleInterval = time.Minute

// maxFailedPerSettlement bounds the failed uses one settlement entry lists,
// so that the entry (at most 127 bytes per use, base64 in an envelope)
// stays within the log's 64 KiB entry limit.
const maxFailedPerSettlement = 300

// Settlement is metering.Settlement.
type Settlement = metering.Settlement

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
	s      *Server
	grants map[string]*priced
}

func (p *pricing) grant(ctx context.Context, id string) (*priced, error) {
	if g, ok := p.grants[id]; ok {
		return g, nil
	}
	g, _, err := p.s.grantOf(ctx, id)
	if err != nil {
		return nil, err
	}
	t, _, err := p.s.loadTerms(ctx, g.Terms.String())
	if err != nil {
		return nil, fmt.Errorf("terms %s of grant %s: %w", g.Terms, id, err)
	}
	cur := metering.Currency(t.Price)
	pr := &priced{price: t.Price, currency: cur, licAcct: licenseeAccount(g.Licensee.String(), cur), assetName: inCurrency(g.Asset.String(), cur)}
	p.grants[id] = pr
	return pr, nil
}

// lineageLoader reads split nodes from the catalog's asset states. A node
// name is "<asset>@<currency>"; contributors get their per-currency
// accounts, parents their royalty and stacking. accounts collects the
// accounts of the lineages that compiled, to open before the settler runs.
type lineageLoader struct {
	ctx      context.Context
	cat      catalog.RegistryReader
	nodes    map[string]split.Node
	accounts map[string]ledger.Account
}

func (l *lineageLoader) load(name string) (split.Node, error) {
	if n, ok := l.nodes[name]; ok {
		return n, nil
	}
	a, cur := splitCurrency(name)
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
		acct := contributorAccount(c.DID.String(), cur)
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
			acct := contributorAccount(o.DID.String(), cur)
			n.Contributors = append(n.Contributors, split.Contributor{Account: acct, Share: shares[i]})
		}
	}
	for _, p := range rec.State.Manifest.Parents {
		st := split.Relative
		if p.Stacking == asset.Absolute {
			st = split.Absolute
		}
		n.Parents = append(n.Parents, split.Parent{Asset: inCurrency(p.Asset.String(), cur), Share: int64(p.Royalty), Stacking: st})
	}
	l.nodes[name] = n
	return n, nil
}

// Settle charges every unsettled receipt and usage event, splits the
// revenue up each asset's lineage, marks them settled and logs the ledger
// journal root as a "settlement" entry. It is safe to run again after a
// crash at any point: charges and splits are idempotent in the ledger, and
// uses stay unsettled in the catalog until the settlement entry is logged.
func (s *Server) Settle(ctx context.Context) (*Settlement, error) {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	if s.shared() {
		// One run at a time across replicas: the run stops if the lease
		// is lost (charges are idempotent, a settlement entry covering
		// less than the last applies with no effect).
		rctx, release, err := s.settleLease(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		ctx = rctx
	}
	next, _, err := s.cat.Applied(ctx)
	if err != nil {
		return nil, err
	}
	empty := &Settlement{Gross: map[string]int64{}, Failed: []metering.FailedUse{}}
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
		return nil, fmt.Errorf("server: settle: reading uses: %w", err)
	}
	// Open the accounts of every lineage the charges reach. A lineage that
	// cannot be split fails its own charges only (the settler reports
	// them); its accounts are not opened.
	ll := &lineageLoader{ctx: ctx, cat: s.cat, nodes: map[string]split.Node{}, accounts: map[string]ledger.Account{}}
	leaves := map[string]bool{}
	for _, c := range charges {
		if !leaves[c.Asset] {
			leaves[c.Asset] = true
			plan, err := split.Compile(c.Asset, ll.load)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				continue
			}
			_, cur := splitCurrency(c.Asset)
			acct := ledger.AssetAccount(c.Asset)
			ll.accounts[acct] = ledger.Account{ID: acct, Kind: ledger.KindAssetRevenue, Currency: cur}
			for _, sl := range plan.Slots {
				ll.accounts[sl.Account] = ledger.Account{ID: sl.Account, Kind: ledger.KindContributor, Currency: cur}
				for _, a := range sl.Path {
					id := ledger.AssetAccount(a)
					ll.accounts[id] = ledger.Account{ID: id, Kind: ledger.KindAssetRevenue, Currency: cur}
				}
			}
		}
	}
	ids := make([]string, 0, len(ll.accounts))
	for id := range ll.accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := s.openAccount(ctx, ll.accounts[id]); err != nil {
			return nil, fmt.Errorf("server: settle: opening %s: %w", id, err)
		}
	}
	held, err := s.heldAssets(ctx)
	if err != nil {
		return nil, err
	}
	st := &settle.Settler{Ledger: s.ledger, Lineage: ll.load, Held: func(a string) bool {
		name, _ := splitCurrency(a)
		return held[name]
	}}
	s.ledgerMu.Lock()
	rep, err := st.Settle(ctx, charges)
	s.ledgerMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("server: settle: %w", err)
	}
	out := &Settlement{Charged: rep.Charged, Existed: rep.Existed, Postings: rep.Postings, Gross: map[string]int64{}, Failed: []metering.FailedUse{}}
	refused := map[string]bool{}
	if len(rep.Failed) > 0 {
		pos := make(map[string]int, len(charges))
		for i, c := range charges {
			pos[c.ID] = i
		}
		for _, f := range rep.Failed {
			refused[f.Charge.ID] = true
			_, cur := splitCurrency(f.Charge.Asset)
			msg := f.Err.Error()
			switch {
			case errors.Is(f.Err, ledger.ErrAccountNotFound):
				msg = fmt.Sprintf("licensee has no prepaid account in %s (charter fund)", cur)
			case errors.Is(f.Err, ledger.ErrExceedsLimit):
				msg = fmt.Sprintf("insufficient funds: %s %s needed (charter fund)", metering.FormatAmount(f.Charge.Amount, cur), cur)
			case errors.Is(f.Err, settle.ErrLineage):
				name, _ := splitCurrency(f.Charge.Asset)
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
	if !s.shared() { // replicas read the list from the catalog, where every run keeps it
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
			_, cur := splitCurrency(c.Asset)
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
	root, err := s.ledger.JournalRoot(ctx)
	if err != nil {
		return nil, err
	}
	out.JournalSize, out.JournalRoot, out.Through = root.Size, hex.EncodeToString(root.Hash[:]), through
	payload, err := canonjson.Marshal(settlementEntry{Failed: failedKeys, JournalRoot: out.JournalRoot, JournalSize: out.JournalSize, Through: through, Uses: out.Uses})
	if err != nil {
		return nil, err
	}
	idx, _, err := s.signAndAppend(ctx, "settlement", auditlog.TypeSettlement, payload)
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

// settlementEntry is the signed payload of a "settlement" log entry.
type settlementEntry = registry.SettlementEntry

func (s *Server) settleLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Settle(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("periodic settlement", "err", err)
			}
		}
	}
}

// settleHandler handles POST /v1/settle.
func (s *Server) settleHandler(w http.ResponseWriter, r *http.Request) error {
	// The answer lists every licensee's failed charges: the operator's.
	if err := s.operatorOnly(r, "settle on demand"); err != nil {
		return err
	}
	out, err := s.Settle(r.Context())
	if err != nil {
		if errors.Is(err, settle.ErrLineage) {
			return errorf(http.StatusConflict, "bad-lineage", "Lineage cannot be split", err.Error(), "fix the contributors' shares or parents' royalties with a proposal", err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// heldAssets returns the assets with an open dispute.
func (s *Server) heldAssets(ctx context.Context) (map[string]bool, error) {
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
func (s *Server) assetAccounts(ctx context.Context, a string) ([]string, error) {
	as, err := s.ledger.Accounts(ctx, ledger.AssetAccount(a)+"@")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(as))
	for i, acct := range as {
		out[i] = acct.ID
	}
	return out, nil
}

// resolveHeld posts (release) or voids the held splits of asset a.
func (s *Server) resolveHeld(ctx context.Context, a, outcome string) (int, error) {
	accts, err := s.assetAccounts(ctx, a)
	if err != nil {
		return 0, err
	}
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	n := 0
	for _, acct := range accts {
		hs, err := settle.Held(ctx, s.ledger, acct)
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
		res, err := s.ledger.CreateTransfers(ctx, ts)
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
func (s *Server) resolveAllHeld(ctx context.Context) (released, voided int, err error) {
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
		n, err := s.resolveHeld(ctx, a, outcome)
		if err != nil {
			return released, voided, err
		}
		if outcome == metering.Void {
			voided += n
		} else {
			released += n
		}
		if s.heldDone == nil {
			s.heldDone = map[string]uint64{}
		}
		s.heldDone[a] = last[a].Resolved // checked: not scanned again while this server runs
	}
	return released, voided, nil
}

// openDispute handles POST /v1/disputes: a dispute signed by anyone. While
// it is open, the revenue of the asset's uses is held in pending split
// transfers.
func (s *Server) openDispute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	d, id, err := metering.OpenDispute(env)
	if err != nil {
		return err
	}
	if err := statementFresh(d.Created.Time()); err != nil {
		return err
	}
	rec, err := s.cat.Asset(ctx, d.Asset)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errorf(http.StatusNotFound, "not-found", "No such asset", fmt.Sprintf("asset %s is not registered here", d.Asset), "", err)
		}
		return err
	}
	// Copies of one dispute run one at a time.
	unlock := s.inflight.lock("dispute:" + id.String())
	defer unlock()
	if old, err := s.cat.Dispute(ctx, id.String()); err == nil {
		writeJSON(w, http.StatusOK, api.DisputeAnswer{Dispute: old.ID, Asset: old.Asset, Status: old.Status, LogIndex: old.LogIndex})
		return nil
	}
	// Standing, and one open dispute per opener and asset (applyDispute
	// enforces the same rule in log order).
	gs, err := s.cat.Grants(ctx, d.Asset.String(), d.Opener.String())
	if err != nil {
		return err
	}
	open, err := s.cat.Disputes(ctx, d.Asset.String(), "open")
	if err != nil {
		return err
	}
	mine := ""
	for _, o := range open {
		if o.Opener == d.Opener.String() {
			mine = o.ID
		}
	}
	lin, err := metering.Lineage(rec.State, registry.LookupState(func(id asset.ID) (*catalog.AssetRecord, error) { return s.cat.Asset(ctx, id) }))
	if err != nil {
		return err
	}
	if err := metering.CheckStanding(lin, d.Opener, len(gs) > 0, d.Opener == s.key.DID(), mine); err != nil {
		if errors.Is(err, metering.ErrDisputeOpen) {
			return errorf(http.StatusConflict, "dispute-open", "You have an open dispute on this asset", err.Error(), "", err)
		}
		return errorf(http.StatusForbidden, "no-standing", "No standing to dispute this asset", err.Error(), "only owners, contributors and licensees of an asset, and the operator, may open disputes on it", err)
	}
	idx, err := s.commit(ctx, auditlog.TypeDispute, canon)
	unlock()
	if err != nil {
		return notApplied(idx, err)
	}
	s.log.Info("dispute opened", "dispute", id, "asset", d.Asset, "by", d.Opener)
	writeJSON(w, http.StatusCreated, api.DisputeAnswer{Dispute: id.String(), Asset: d.Asset.String(), Status: "open", LogIndex: idx})
	return nil
}

// resolveDispute handles POST /v1/disputes/{id}/resolve: a resolution
// signed by owners reaching the asset's threshold. Held splits are posted
// (release) or voided once no other dispute on the asset is open.
func (s *Server) resolveDispute(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	env, canon, err := readEnvelope(r)
	if err != nil {
		return err
	}
	res, signers, _, err := metering.OpenResolution(env)
	if err != nil {
		return err
	}
	if res.Dispute.String() != r.PathValue("id") {
		return errorf(http.StatusUnprocessableEntity, "wrong-dispute", "Resolution of another dispute", "", "", nil)
	}
	// Resolutions of one dispute run one at a time.
	unlock := s.inflight.lock("dispute:" + res.Dispute.String())
	defer unlock()
	d, err := s.cat.Dispute(ctx, res.Dispute.String())
	var rec *catalog.AssetRecord
	switch {
	case err != nil:
	case d.Asset != res.Asset.String():
		err = errorf(http.StatusUnprocessableEntity, "wrong-asset", "Resolution names another asset", "", "", nil)
	case d.Status != "open":
		err = errorf(http.StatusConflict, "dispute-closed", "Dispute already resolved", fmt.Sprintf("dispute %s is %s", d.ID, d.Status), "", nil)
	default:
		rec, err = s.cat.Asset(ctx, res.Asset)
	}
	if err == nil && grant.Weight(rec.State, signers) < rec.State.Threshold {
		err = fmt.Errorf("%w: resolution signed with weight %d, threshold %d", asset.ErrThresholdNotMet, grant.Weight(rec.State, signers), rec.State.Threshold)
	}
	if err != nil {
		return err
	}
	idx, err := s.commit(ctx, auditlog.TypeDispute, canon)
	unlock()
	if err != nil {
		return notApplied(idx, err)
	}
	ans := api.DisputeAnswer{Dispute: d.ID, Asset: d.Asset, Status: registry.DisputeStatus(res.Outcome), LogIndex: idx}
	open, err := s.cat.Disputes(ctx, d.Asset, "open")
	if err != nil {
		return err
	}
	if len(open) == 0 {
		n, err := s.resolveHeld(ctx, d.Asset, res.Outcome)
		if err != nil {
			return err
		}
		if res.Outcome == metering.Void {
			ans.Voided = n
		} else {
			ans.Released = n
		}
	}
	s.log.Info("dispute resolved", "dispute", d.ID, "asset", d.Asset, "outcome", res.Outcome)
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// unsettled handles GET /v1/assets/{id}/unsettled: the uses of the asset
// the last settlement run could not charge, with the reason (no funds, a
// lineage that cannot be split). Like all money, only the asset's owners
// and the operator may read it (a signed request). The list is the last
// run's, refreshed by every run (every minute by default).
func (s *Server) unsettled(w http.ResponseWriter, r *http.Request) error {
	id, err := pathAsset(r, "asset")
	if err != nil {
		return err
	}
	rec, err := s.cat.Asset(r.Context(), id)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return errorf(http.StatusNotFound, "not-found", "No such asset", fmt.Sprintf("asset %s is not registered here", id), "", err)
		}
		return err
	}
	if err := s.maySign(r, "the unsettled uses of "+id.String(), func(d identity.DID) bool { return rec.State.IsOwner(d) || d == s.key.DID() }, "an owner of the asset or the operator"); err != nil {
		return err
	}
	out := []metering.FailedUse{}
	if m := s.lastFailed.Load(); m != nil {
		out = append(out, (*m)[id.String()]...)
	} else {
		// No run since the start: the last run's list, from the catalog.
		rs, err := s.cat.UnsettledReasons(r.Context(), id.String())
		if err != nil {
			return err
		}
		for _, x := range rs {
			out = append(out, metering.FailedUse{Use: x.Use, Error: x.Error})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"asset": id.String(), "failed": out})
	return nil
}
