// Package settle turns priced uses of assets into ledger transfers: a charge
// from the licensee to the asset's revenue account for every use, and the
// split of that revenue to contributors up the asset's lineage.
//
// Charges and the splits they cause are committed in one ledger Batch: a
// charge that is applied is split in the same transaction, a charge that
// already existed (a re-run after a crash) was split when it was first
// applied and is skipped, and a charge that fails (insufficient funds) is
// reported and not split. Splits run per asset over the batch's total with
// the split package's Carry, stored beside the journal, so many small
// settlements pay exactly what one large one would, to the unit.
package settle

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/split"
)

// Transfer codes written by the settler.
const (
	CodeCharge uint16 = 1 // licensee -> asset revenue, one per use
	CodeSplit  uint16 = 2 // asset revenue -> contributor, provenance in Ref
)

// Charge is one priced use of an asset.
type Charge struct {
	ID       string // usage event or receipt id; the charge transfer is "charge:"+ID
	Licensee string // account debited
	Asset    string // the asset used (the leaf of its lineage)
	Amount   int64
}

// Settler settles charges into a ledger. It is not safe for concurrent use;
// run one settlement at a time per ledger. Amounts are in the currency of
// the accounts involved: for several currencies use one Settler per
// currency, with AssetAccount and the Lineage's contributor accounts
// naming that currency's accounts.
type Settler struct {
	Ledger  ledger.Committer
	Lineage split.Loader
	// AssetAccount names an asset's revenue account; ledger.AssetAccount
	// when nil.
	AssetAccount func(asset string) string
	// ChunkSize is the number of charges per storage transaction; 5000 when 0.
	ChunkSize int
	// Held, if set, reports assets whose revenue is on hold (an open
	// dispute): their split transfers are created Pending, to be posted or
	// voided when the dispute is resolved (see HeldSplits).
	Held func(asset string) bool

	plans map[string]*split.Plan
}

// Failed is a charge the ledger refused.
type Failed struct {
	Charge Charge
	Err    error
}

// Report sums up a settlement run.
type Report struct {
	Charged  int   // charges applied now
	Existed  int   // charges applied by an earlier run
	Postings int   // split transfers applied
	Gross    int64 // total of the charges applied now
	Failed   []Failed
	// Root is the journal root after the run, to log in the transparency
	// log (set when the ledger implements ledger.Journal).
	Root ledger.Root
}

// ErrLineage wraps a lineage that cannot be split. A charge of such an
// asset is reported in Report.Failed and not applied; it does not stop the
// charges of other assets.
var ErrLineage = errors.New("settle: lineage cannot be split")

// BatchKey is the state key under which the ids of the charges split under
// tag are stored (sorted, newline-separated): the link from a split
// transfer's Ref back to the uses it came from.
func BatchKey(tag string) string { return "settle-batch:" + tag }

// CarryKey is the state key of the split carry of the asset revenue
// account assetAccount. It is keyed by the account, not the asset, so
// settlers of one asset in several currencies (several revenue accounts)
// keep separate carries.
func CarryKey(assetAccount string) string { return "split-carry:" + assetAccount }

func (s *Settler) assetAccount(a string) string {
	if s.AssetAccount != nil {
		return s.AssetAccount(a)
	}
	return ledger.AssetAccount(a)
}

func (s *Settler) plan(asset string) (*split.Plan, error) {
	if p, ok := s.plans[asset]; ok {
		return p, nil
	}
	p, err := split.Compile(asset, s.Lineage)
	if err != nil {
		return nil, fmt.Errorf("%w: asset %s: %w", ErrLineage, asset, err)
	}
	if s.plans == nil {
		s.plans = make(map[string]*split.Plan)
	}
	s.plans[asset] = p
	return p, nil
}

// Forget drops cached lineage plans (call it when lineage changed).
func (s *Settler) Forget() { s.plans = nil }

// Settle charges and splits cs. It is idempotent: running it again with the
// same charges applies nothing new. Failures are per charge (Report.Failed):
// insufficient funds, or a lineage that cannot be split; the returned
// error is reserved for storage failures.
func (s *Settler) Settle(ctx context.Context, cs []Charge) (Report, error) {
	var rep Report
	size := s.ChunkSize
	if size <= 0 {
		size = 5000
	}
	for start := 0; start < len(cs); start += size {
		chunk := cs[start:min(start+size, len(cs))]
		if err := s.chunk(ctx, chunk, &rep); err != nil {
			return rep, err
		}
	}
	if j, ok := s.Ledger.(interface {
		JournalRoot(context.Context) (ledger.Root, error)
	}); ok {
		root, err := j.JournalRoot(ctx)
		if err != nil {
			return rep, fmt.Errorf("settle: %w", err)
		}
		rep.Root = root
	}
	return rep, nil
}

func (s *Settler) chunk(ctx context.Context, cs []Charge, rep *Report) error {
	// A charge whose lineage cannot be split fails on its own (ErrLineage)
	// and is not applied; the other charges of the chunk settle.
	ok := cs[:0:0]
	for _, c := range cs {
		if _, err := s.plan(c.Asset); err != nil {
			rep.Failed = append(rep.Failed, Failed{Charge: c, Err: err})
			continue
		}
		ok = append(ok, c)
	}
	cs = ok
	if len(cs) == 0 {
		return nil
	}
	ts := make([]ledger.Transfer, len(cs))
	for i, c := range cs {
		ts[i] = ledger.Transfer{ID: "charge:" + c.ID, Debit: c.Licensee, Credit: s.assetAccount(c.Asset), Amount: c.Amount, Code: CodeCharge, Ref: "use:" + c.ID}
	}
	var local Report
	then := func(results []ledger.Result, state func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
		local = Report{}
		gross := map[string]int64{}
		var newIDs []string
		for i, r := range results {
			switch {
			case r.Err != nil:
				local.Failed = append(local.Failed, Failed{Charge: cs[i], Err: r.Err})
			case r.Existed:
				local.Existed++
			default:
				local.Charged++
				local.Gross += cs[i].Amount
				gross[cs[i].Asset] += cs[i].Amount
				newIDs = append(newIDs, cs[i].ID)
			}
		}
		if len(newIDs) == 0 {
			return nil, nil, nil
		}
		// The split transfers are named after the set of charges they
		// split, so they are unique and the same on every replay of it.
		slices.Sort(newIDs)
		h := sha256.Sum256([]byte(strings.Join(newIDs, "\x00")))
		tag := hex.EncodeToString(h[:12])
		assets := make([]string, 0, len(gross))
		for a := range gross {
			assets = append(assets, a)
		}
		slices.SortFunc(assets, cmp.Compare)
		var follow []ledger.Transfer
		writes := make(map[string][]byte, len(assets))
		for _, a := range assets {
			p, err := s.plan(a)
			if err != nil {
				return nil, nil, err
			}
			var carry split.Carry
			raw, err := state(CarryKey(s.assetAccount(a)))
			if err != nil {
				return nil, nil, err
			}
			if raw != nil {
				if err := carry.UnmarshalBinary(raw); err != nil {
					return nil, nil, fmt.Errorf("settle: carry of %s: %w", a, err)
				}
			}
			ps, err := p.Split(gross[a], &carry)
			if err != nil {
				return nil, nil, fmt.Errorf("settle: split %s: %w", a, err)
			}
			carry.Last = tag
			var flags ledger.TransferFlags
			if s.Held != nil && s.Held(a) {
				flags = ledger.Pending
			}
			for _, q := range ps {
				follow = append(follow, ledger.Transfer{
					Flags:  flags,
					ID:     fmt.Sprintf("split:%s:%s:%d", tag, a, q.Slot),
					Debit:  s.assetAccount(a),
					Credit: q.Account,
					Amount: q.Amount,
					Code:   CodeSplit,
					Ref:    Provenance(tag, q.Path),
				})
			}
			writes[CarryKey(s.assetAccount(a))], _ = carry.MarshalBinary()
		}
		writes[BatchKey(tag)] = []byte(strings.Join(newIDs, "\n"))
		local.Postings = len(follow)
		return follow, writes, nil
	}
	if _, err := s.Ledger.Commit(ctx, ledger.Batch{Transfers: ts, Then: then}); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	rep.Charged += local.Charged
	rep.Existed += local.Existed
	rep.Postings += local.Postings
	rep.Gross += local.Gross
	rep.Failed = append(rep.Failed, local.Failed...)
	return nil
}

// Provenance is the Ref of a split transfer: the settlement tag that names
// the set of charges split, and the lineage path from the used asset to the
// asset whose contributor is paid.
//
//	split <tag> via <leaf> > <parent> > ... > <owner>
func Provenance(tag string, path []string) string {
	return "split " + tag + " via " + strings.Join(path, " > ")
}

// ParseProvenance reads a Ref written by Provenance. ok is false for any
// other text.
func ParseProvenance(ref string) (tag string, path []string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "split ")
	if !ok {
		return "", nil, false
	}
	tag, via, ok := strings.Cut(rest, " via ")
	if !ok || tag == "" || strings.Contains(tag, " ") || via == "" {
		return "", nil, false
	}
	path = strings.Split(via, " > ")
	for _, p := range path {
		if p == "" || strings.Contains(p, " ") {
			return "", nil, false
		}
	}
	return tag, path, true
}

// Held returns the split transfers out of assetAccount that are still
// pending (held by Settler.Held), ordered by time and journal position. It
// reads the account's open pending postings only, so its cost follows
// what the account holds, not the whole journal. Resolve each with a
// PostPending (release to the contributor) or VoidPending (keep the money
// in the asset's revenue account) transfer.
func Held(ctx context.Context, l ledger.PostingReader, assetAccount string) ([]ledger.Record, error) {
	lines, err := l.Postings(ctx, assetAccount, ledger.PostingQuery{Only: ledger.OpenPending})
	if err != nil {
		return nil, err
	}
	var out []ledger.Record
	for _, line := range lines {
		if line.Code == CodeSplit && line.Debit == assetAccount {
			out = append(out, line.Record)
		}
	}
	return out, nil
}

// HeldSplits is Held computed from the whole journal in one pass, in
// journal order: the reference Held is tested against.
func HeldSplits(rows iter.Seq2[ledger.JournalRow, error], assetAccount string) ([]ledger.Record, error) {
	var held []ledger.Record
	resolved := map[string]bool{}
	for r, err := range rows {
		if err != nil {
			return nil, err
		}
		t := r.Entry.Transfer
		if r.Entry.Kind != ledger.EntryTransfer {
			continue
		}
		if t.PendingID != "" {
			resolved[t.PendingID] = true
			continue
		}
		if t.Flags&ledger.Pending != 0 && t.Code == CodeSplit && t.Debit == assetAccount {
			held = append(held, ledger.Record{Transfer: t, Seq: r.Seq, Time: r.Entry.Time})
		}
	}
	out := held[:0]
	for _, h := range held {
		if !resolved[h.ID] {
			out = append(out, h)
		}
	}
	return out, nil
}
