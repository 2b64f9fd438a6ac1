package ledger

import (
	"fmt"
	"math"
)

// Snapshot is the part of a ledger's state a batch reads and writes. A
// backend loads it (see Needs), runs Apply on it, and stores what the
// Outcome says changed, all inside one storage transaction. Apply keeps no
// other state, so every backend applies the same rules.
type Snapshot struct {
	// Accounts holds every account a batch names, with its balance.
	Accounts map[string]*AccountBalance
	// Transfers holds every stored transfer the batch names (by id, pending
	// id or reversed id); Apply adds the ones it applies.
	Transfers map[string]*Record
	// Resolved maps a pending transfer to the transfer that posted or
	// voided it, and a reversed transfer to its reversal.
	Resolved map[string]string
	// Seq is the journal's size before the batch.
	Seq uint64
}

// NewSnapshot returns an empty snapshot at journal size seq.
func NewSnapshot(seq uint64) *Snapshot {
	return &Snapshot{
		Accounts:  make(map[string]*AccountBalance),
		Transfers: make(map[string]*Record),
		Resolved:  make(map[string]string),
		Seq:       seq,
	}
}

// Needs lists the transfer ids a backend must load into a Snapshot (with
// their Resolved entries) before applying batch. After loading them, the
// backend loads the accounts AccountsNeeded names.
func Needs(batch []Transfer) []string {
	ids := make([]string, 0, len(batch))
	for _, t := range batch {
		ids = append(ids, t.ID)
		if t.PendingID != "" {
			ids = append(ids, t.PendingID)
		}
		if t.Reverses != "" {
			ids = append(ids, t.Reverses)
		}
	}
	return ids
}

// AccountsNeeded lists the account ids a batch touches, given a snapshot
// already holding the transfers Needs named.
func (s *Snapshot) AccountsNeeded(batch []Transfer) []string {
	ids := make([]string, 0, 2*len(batch))
	for _, t := range batch {
		if t.Debit != "" {
			ids = append(ids, t.Debit)
		}
		if t.Credit != "" {
			ids = append(ids, t.Credit)
		}
		if p, ok := s.Transfers[t.PendingID]; ok && t.PendingID != "" {
			ids = append(ids, p.Debit, p.Credit)
		}
	}
	return ids
}

// Outcome is what Apply changed.
type Outcome struct {
	Results []Result
	// New lists the records to append to the journal, in sequence order.
	New []Record
	// Resolutions lists (target, by) pairs added to Snapshot.Resolved.
	Resolutions [][2]string
	// Touched lists the accounts whose balances may have changed.
	Touched []string
}

// Apply applies batch to s in order at time now (Unix nanoseconds). See
// Poster.CreateTransfers for the semantics.
func Apply(s *Snapshot, batch []Transfer, now int64) Outcome {
	out := Outcome{Results: make([]Result, len(batch)), New: make([]Record, 0, len(batch))}
	touched := make(map[string]struct{})
	for start := 0; start < len(batch); {
		end := start
		for end < len(batch)-1 && batch[end].Flags&Linked != 0 {
			end++
		}
		if batch[end].Flags&Linked != 0 { // chain runs off the end of the batch
			for i := start; i <= end; i++ {
				out.Results[i].Err = fmt.Errorf("transfer %q: %w\nhint: clear the Linked flag on the last transfer of a chain", batch[i].ID, ErrLinkedChainOpen)
			}
			break
		}
		var u undo
		if end > start {
			u.accounts = make(map[string]AccountBalance)
		}
		chain := &u
		if end == start {
			chain = nil
		}
		seq0, new0, res0 := s.Seq, len(out.New), len(out.Resolutions)
		failed := -1
		for i := start; i <= end; i++ {
			r := applyOne(s, batch[i], now, chain, touched, &out)
			out.Results[i] = r
			if r.Err != nil {
				failed = i
				break
			}
		}
		if failed >= 0 && chain != nil {
			for id, a := range u.accounts {
				*s.Accounts[id] = a
			}
			for _, rec := range out.New[new0:] {
				delete(s.Transfers, rec.ID)
			}
			for _, p := range out.Resolutions[res0:] {
				delete(s.Resolved, p[0])
			}
			s.Seq, out.New, out.Resolutions = seq0, out.New[:new0], out.Resolutions[:res0]
			for i := start; i <= end; i++ {
				if i != failed {
					out.Results[i] = Result{Err: fmt.Errorf("transfer %q: %w", batch[i].ID, ErrLinkedEventFailed)}
				}
			}
		}
		start = end + 1
	}
	out.Touched = make([]string, 0, len(touched))
	for id := range touched {
		out.Touched = append(out.Touched, id)
	}
	return out
}

type undo struct {
	accounts map[string]AccountBalance
}

func (u *undo) save(a *AccountBalance) {
	if u == nil {
		return
	}
	if _, ok := u.accounts[a.ID]; !ok {
		u.accounts[a.ID] = *a
	}
}

// sameContent reports whether t, as submitted, is the transfer r journaled.
// Fields a post or void may leave zero match the resolved values.
func sameContent(t Transfer, r *Record) bool {
	resolving := t.mode() == PostPending || t.mode() == VoidPending
	eqOrZero := func(a, b string) bool { return a == b || (resolving && a == "") }
	return t.ID == r.ID && t.Flags == r.Flags && t.PendingID == r.PendingID &&
		t.Reverses == r.Reverses && t.Code == r.Code && t.Ref == r.Ref &&
		eqOrZero(t.Debit, r.Debit) && eqOrZero(t.Credit, r.Credit) &&
		(t.Amount == r.Amount || (resolving && t.Amount == 0))
}

func applyOne(s *Snapshot, t Transfer, now int64, u *undo, touched map[string]struct{}, out *Outcome) Result {
	if err := t.Validate(); err != nil {
		return Result{Err: err}
	}
	if r, ok := s.Transfers[t.ID]; ok {
		if sameContent(t, r) {
			return Result{Record: *r, Existed: true}
		}
		return Result{Err: fmt.Errorf("transfer %q: %w\nhint: choose a new id for a new transfer; correct an applied one with a reversal", t.ID, ErrIDConflict)}
	}
	rec := Record{Transfer: t}
	switch t.mode() {
	case 0, Pending:
		dr, cr, err := accountsFor(s, t.ID, t.Debit, t.Credit)
		if err != nil {
			return Result{Err: err}
		}
		if t.Reverses != "" {
			o, ok := s.Transfers[t.Reverses]
			switch {
			case !ok:
				return Result{Err: fmt.Errorf("transfer %q reverses %q: %w", t.ID, t.Reverses, ErrTransferNotFound)}
			case o.mode() != 0 && o.mode() != PostPending:
				return Result{Err: fmt.Errorf("transfer %q reverses %q, which moved no money: %w\nhint: void a pending transfer instead of reversing it", t.ID, o.ID, ErrReversal)}
			case o.Debit != t.Credit || o.Credit != t.Debit || o.Amount != t.Amount:
				return Result{Err: fmt.Errorf("transfer %q reverses %q: %w\nhint: build it with ledger.Reversal", t.ID, o.ID, ErrReversal)}
			}
			if by, ok := s.Resolved[o.ID]; ok {
				return Result{Err: fmt.Errorf("transfer %q: %q was reversed by %q: %w", t.ID, o.ID, by, ErrAlreadyReversed)}
			}
		}
		pending := t.mode() == Pending
		// Debit side.
		dDebits, err := addChecked(dr.DebitsPosted, dr.DebitsPending)
		if err == nil {
			dDebits, err = addChecked(dDebits, t.Amount)
		}
		if err != nil {
			return Result{Err: fmt.Errorf("transfer %q: debits of %q: %w", t.ID, dr.ID, ErrOverflow)}
		}
		if dr.Flags&AllowNegative == 0 {
			limit := int64(math.MaxInt64)
			if dr.CreditsPosted <= math.MaxInt64-dr.CreditLimit {
				limit = dr.CreditsPosted + dr.CreditLimit
			}
			if dDebits > limit {
				return Result{Err: fmt.Errorf("transfer %q: %q has %d available, needs %d: %w\nhint: fund the account first, or give it a credit limit",
					t.ID, dr.ID, limit-(dr.DebitsPosted+dr.DebitsPending), t.Amount, ErrExceedsLimit)}
			}
		}
		cCredits, err := addChecked(cr.CreditsPosted, cr.CreditsPending)
		if err == nil {
			_, err = addChecked(cCredits, t.Amount)
		}
		if err != nil {
			return Result{Err: fmt.Errorf("transfer %q: credits of %q: %w", t.ID, cr.ID, ErrOverflow)}
		}
		u.save(dr)
		u.save(cr)
		if pending {
			dr.DebitsPending += t.Amount
			cr.CreditsPending += t.Amount
		} else {
			dr.DebitsPosted += t.Amount
			cr.CreditsPosted += t.Amount
		}
		touched[dr.ID], touched[cr.ID] = struct{}{}, struct{}{}
		if t.Reverses != "" {
			s.Resolved[t.Reverses] = t.ID
			out.Resolutions = append(out.Resolutions, [2]string{t.Reverses, t.ID})
		}
	case PostPending, VoidPending:
		p, ok := s.Transfers[t.PendingID]
		switch {
		case !ok:
			return Result{Err: fmt.Errorf("transfer %q resolves %q: %w", t.ID, t.PendingID, ErrPendingNotFound)}
		case p.mode() != Pending:
			return Result{Err: fmt.Errorf("transfer %q resolves %q: %w", t.ID, t.PendingID, ErrNotPending)}
		}
		if by, ok := s.Resolved[p.ID]; ok {
			return Result{Err: fmt.Errorf("transfer %q: %q was already resolved by %q: %w", t.ID, p.ID, by, ErrAlreadyResolved)}
		}
		if (t.Debit != "" && t.Debit != p.Debit) || (t.Credit != "" && t.Credit != p.Credit) {
			return Result{Err: fmt.Errorf("transfer %q: accounts differ from pending %q: %w", t.ID, p.ID, ErrExceedsPending)}
		}
		amt := p.Amount
		if t.mode() == PostPending && t.Amount != 0 {
			if t.Amount > p.Amount {
				return Result{Err: fmt.Errorf("transfer %q posts %d of pending %q's %d: %w", t.ID, t.Amount, p.ID, p.Amount, ErrExceedsPending)}
			}
			amt = t.Amount
		}
		if t.mode() == VoidPending && t.Amount != 0 && t.Amount != p.Amount {
			return Result{Err: fmt.Errorf("transfer %q voids %d of pending %q's %d: %w\nhint: a void releases the whole amount; leave Amount zero", t.ID, t.Amount, p.ID, p.Amount, ErrExceedsPending)}
		}
		dr, cr, err := accountsFor(s, t.ID, p.Debit, p.Credit)
		if err != nil {
			return Result{Err: err}
		}
		u.save(dr)
		u.save(cr)
		dr.DebitsPending -= p.Amount
		cr.CreditsPending -= p.Amount
		if t.mode() == PostPending {
			dr.DebitsPosted += amt
			cr.CreditsPosted += amt
		}
		touched[dr.ID], touched[cr.ID] = struct{}{}, struct{}{}
		rec.Debit, rec.Credit, rec.Amount = p.Debit, p.Credit, amt
		s.Resolved[p.ID] = t.ID
		out.Resolutions = append(out.Resolutions, [2]string{p.ID, t.ID})
	}
	s.Seq++
	rec.Seq, rec.Time = s.Seq, now
	stored := rec
	s.Transfers[t.ID] = &stored
	out.New = append(out.New, rec)
	return Result{Record: rec}
}

func accountsFor(s *Snapshot, tid, debit, credit string) (dr, cr *AccountBalance, err error) {
	dr, ok := s.Accounts[debit]
	if !ok {
		return nil, nil, fmt.Errorf("transfer %q: debit account %q: %w\nhint: create the account first", tid, debit, ErrAccountNotFound)
	}
	cr, ok = s.Accounts[credit]
	if !ok {
		return nil, nil, fmt.Errorf("transfer %q: credit account %q: %w\nhint: create the account first", tid, credit, ErrAccountNotFound)
	}
	if dr.Currency != cr.Currency {
		return nil, nil, fmt.Errorf("transfer %q: %q is in %s, %q in %s: %w", tid, debit, dr.Currency, credit, cr.Currency, ErrCurrencyMismatch)
	}
	return dr, cr, nil
}

// ApplyAccounts opens accounts in s at time now and returns the journal
// entries to append. Accounts already in s with the same definition are
// skipped; a different definition fails the whole call with ErrIDConflict,
// leaving s unchanged. The backend must have loaded every id of as.
func ApplyAccounts(s *Snapshot, as []Account, now int64) ([]Entry, error) {
	seen := make(map[string]Account, len(as))
	for _, a := range as {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		if old, ok := s.Accounts[a.ID]; ok && old.Account != a {
			return nil, fmt.Errorf("account %q: %w", a.ID, ErrIDConflict)
		}
		if old, ok := seen[a.ID]; ok && old != a {
			return nil, fmt.Errorf("account %q given twice with different definitions: %w", a.ID, ErrIDConflict)
		}
		seen[a.ID] = a
	}
	var entries []Entry
	for _, a := range as {
		if _, ok := s.Accounts[a.ID]; ok {
			continue
		}
		s.Accounts[a.ID] = &AccountBalance{Account: a}
		entries = append(entries, Entry{Kind: EntryAccount, Time: now, Account: a})
	}
	s.Seq += uint64(len(entries))
	return entries, nil
}

// ApplyBatch is the backend side of Committer.Commit: it loads and applies
// b.Transfers, then, if b.Then is set, loads and applies its follow-ups,
// and returns the merged outcome with the state writes to store. load
// fills s with what a list of transfers needs (see Needs); state reads a
// stored record. A failed follow-up gives ErrBatchRejected (wrapping the
// failure) and the results so far; the backend must then write nothing.
func ApplyBatch(s *Snapshot, b Batch, now int64, load func([]Transfer) error, state func(string) ([]byte, error)) (Outcome, map[string][]byte, error) {
	if err := load(b.Transfers); err != nil {
		return Outcome{}, nil, err
	}
	out := Apply(s, b.Transfers, now)
	if b.Then == nil {
		return out, nil, nil
	}
	follow, writes, err := b.Then(out.Results, state)
	if err != nil {
		return out, nil, err
	}
	if err := load(follow); err != nil {
		return out, nil, err
	}
	more := Apply(s, follow, now)
	out.Results = append(out.Results, more.Results...)
	for _, r := range more.Results {
		if r.Err != nil {
			return out, nil, fmt.Errorf("%w: %w", ErrBatchRejected, r.Err)
		}
	}
	out.New = append(out.New, more.New...)
	out.Resolutions = append(out.Resolutions, more.Resolutions...)
	out.Touched = append(out.Touched, more.Touched...)
	return out, writes, nil
}
