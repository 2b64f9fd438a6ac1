package ledgertest

import (
	"errors"
	"maps"
	"math"

	"github.com/charter-dev/charter/ledger"
)

// Model is a deliberately plain in-memory ledger used as the reference in
// property tests. It shares only Validate, the entry encoding and the
// sentinel errors with the engine; every rule is written again here, in the
// most direct form (a failed linked chain is undone by restoring a copy of
// the whole model).
type Model struct {
	Accounts  map[string]ledger.Account
	Bal       map[string]ledger.Balance
	Transfers map[string]ledger.Record
	Resolved  map[string]bool // pending posted/voided, or transfer reversed
	Journal   []ledger.Entry
	Root      ledger.Root
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{
		Accounts:  map[string]ledger.Account{},
		Bal:       map[string]ledger.Balance{},
		Transfers: map[string]ledger.Record{},
		Resolved:  map[string]bool{},
	}
}

func (m *Model) clone() *Model {
	return &Model{
		Accounts:  maps.Clone(m.Accounts),
		Bal:       maps.Clone(m.Bal),
		Transfers: maps.Clone(m.Transfers),
		Resolved:  maps.Clone(m.Resolved),
		Journal:   append([]ledger.Entry(nil), m.Journal...),
		Root:      m.Root,
	}
}

func (m *Model) journal(e ledger.Entry) uint64 {
	m.Journal = append(m.Journal, e)
	m.Root = ledger.Root{Size: m.Root.Size + 1, Hash: ledger.ChainHash(m.Root.Hash, e.Canonical())}
	return m.Root.Size
}

// CreateAccounts mirrors ledger.AccountCreator.
func (m *Model) CreateAccounts(now int64, as ...ledger.Account) error {
	for _, a := range as {
		if err := a.Validate(); err != nil {
			return err
		}
		if old, ok := m.Accounts[a.ID]; ok && old != a {
			return ledger.ErrIDConflict
		}
	}
	for i, a := range as {
		for _, b := range as[:i] {
			if a.ID == b.ID && a != b {
				return ledger.ErrIDConflict
			}
		}
	}
	for _, a := range as {
		if _, ok := m.Accounts[a.ID]; ok {
			continue
		}
		m.Accounts[a.ID] = a
		m.Bal[a.ID] = ledger.Balance{}
		m.journal(ledger.Entry{Kind: ledger.EntryAccount, Time: now, Account: a})
	}
	return nil
}

// CreateTransfers mirrors ledger.Poster; it returns one sentinel error (or
// nil) per transfer.
func (m *Model) CreateTransfers(now int64, ts []ledger.Transfer) []error {
	errs := make([]error, len(ts))
	for i := 0; i < len(ts); {
		j := i
		for j < len(ts) && ts[j].Flags&ledger.Linked != 0 {
			j++
		}
		if j == len(ts) { // open chain
			for k := i; k < j; k++ {
				errs[k] = ledger.ErrLinkedChainOpen
			}
			break
		}
		saved := m.clone()
		for k := i; k <= j; k++ {
			if err := m.one(now, ts[k]); err != nil {
				if j > i {
					*m = *saved
					for l := i; l <= j; l++ {
						errs[l] = ledger.ErrLinkedEventFailed
					}
				}
				errs[k] = err
				break
			}
		}
		i = j + 1
	}
	return errs
}

func (m *Model) one(now int64, t ledger.Transfer) error {
	if err := t.Validate(); err != nil {
		if errors.Is(err, ledger.ErrAmount) {
			return ledger.ErrAmount
		}
		return ledger.ErrInvalid
	}
	isResolve := t.Flags&(ledger.PostPending|ledger.VoidPending) != 0
	if r, ok := m.Transfers[t.ID]; ok {
		same := r.Flags == t.Flags && r.PendingID == t.PendingID && r.Reverses == t.Reverses &&
			r.Code == t.Code && r.Ref == t.Ref &&
			(r.Debit == t.Debit || isResolve && t.Debit == "") &&
			(r.Credit == t.Credit || isResolve && t.Credit == "") &&
			(r.Amount == t.Amount || isResolve && t.Amount == 0)
		if same {
			return nil
		}
		return ledger.ErrIDConflict
	}
	rec := t
	if !isResolve {
		d, okd := m.Accounts[t.Debit]
		c, okc := m.Accounts[t.Credit]
		if !okd || !okc {
			return ledger.ErrAccountNotFound
		}
		if d.Currency != c.Currency {
			return ledger.ErrCurrencyMismatch
		}
		if t.Reverses != "" {
			o, ok := m.Transfers[t.Reverses]
			if !ok {
				return ledger.ErrTransferNotFound
			}
			if o.Flags&(ledger.Pending|ledger.VoidPending) != 0 {
				return ledger.ErrReversal
			}
			if o.Debit != t.Credit || o.Credit != t.Debit || o.Amount != t.Amount {
				return ledger.ErrReversal
			}
			if m.Resolved[o.ID] {
				return ledger.ErrAlreadyReversed
			}
		}
		db, cb := m.Bal[t.Debit], m.Bal[t.Credit]
		// Use float-free wide arithmetic: compare in uint64 space where safe.
		if db.DebitsPosted > math.MaxInt64-db.DebitsPending || db.DebitsPosted+db.DebitsPending > math.MaxInt64-t.Amount {
			return ledger.ErrOverflow
		}
		debits := db.DebitsPosted + db.DebitsPending + t.Amount
		if d.Flags&ledger.AllowNegative == 0 {
			// debits - credits > limit, computed without overflow
			if uint64(debits) > uint64(db.CreditsPosted)+uint64(d.CreditLimit) {
				return ledger.ErrExceedsLimit
			}
		}
		if cb.CreditsPosted > math.MaxInt64-cb.CreditsPending || cb.CreditsPosted+cb.CreditsPending > math.MaxInt64-t.Amount {
			return ledger.ErrOverflow
		}
		if t.Flags&ledger.Pending != 0 {
			db.DebitsPending += t.Amount
			cb.CreditsPending += t.Amount
		} else {
			db.DebitsPosted += t.Amount
			cb.CreditsPosted += t.Amount
		}
		m.Bal[t.Debit], m.Bal[t.Credit] = db, cb
		if t.Reverses != "" {
			m.Resolved[t.Reverses] = true
		}
	} else {
		p, ok := m.Transfers[t.PendingID]
		if !ok {
			return ledger.ErrPendingNotFound
		}
		if p.Flags&ledger.Pending == 0 {
			return ledger.ErrNotPending
		}
		if m.Resolved[p.ID] {
			return ledger.ErrAlreadyResolved
		}
		if (t.Debit != "" && t.Debit != p.Debit) || (t.Credit != "" && t.Credit != p.Credit) {
			return ledger.ErrExceedsPending
		}
		amt := p.Amount
		if t.Flags&ledger.PostPending != 0 && t.Amount != 0 {
			if t.Amount > p.Amount {
				return ledger.ErrExceedsPending
			}
			amt = t.Amount
		}
		if t.Flags&ledger.VoidPending != 0 && t.Amount != 0 && t.Amount != p.Amount {
			return ledger.ErrExceedsPending
		}
		db, cb := m.Bal[p.Debit], m.Bal[p.Credit]
		db.DebitsPending -= p.Amount
		cb.CreditsPending -= p.Amount
		if t.Flags&ledger.PostPending != 0 {
			db.DebitsPosted += amt
			cb.CreditsPosted += amt
		}
		m.Bal[p.Debit], m.Bal[p.Credit] = db, cb
		m.Resolved[p.ID] = true
		rec.Debit, rec.Credit, rec.Amount = p.Debit, p.Credit, amt
	}
	seq := m.journal(ledger.Entry{Kind: ledger.EntryTransfer, Time: now, Transfer: rec})
	m.Transfers[t.ID] = ledger.Record{Transfer: rec, Seq: seq, Time: now}
	return nil
}
