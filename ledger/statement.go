package ledger

import "iter"

// Line is one transfer on an account's statement.
type Line struct {
	Record
	// Amount is signed from the account's side: positive when the account
	// was credited, negative when debited. Pending reservations and voids
	// are not listed; posts are.
	Amount int64
	// Counterparty is the other account.
	Counterparty string
}

// Statement filters journal rows down to the posted transfers that touched
// account with a time in [from, to) (Unix nanoseconds; to == 0 means no
// end). Ref carries the provenance (see ledger/settle). It reads the rows
// in one pass and stops at the first error.
func Statement(rows iter.Seq2[JournalRow, error], account string, from, to int64) ([]Line, error) {
	var out []Line
	for r, err := range rows {
		if err != nil {
			return out, err
		}
		e := r.Entry
		if e.Kind != EntryTransfer || e.Time < from || (to != 0 && e.Time >= to) {
			continue
		}
		t := e.Transfer
		if m := t.mode(); m == Pending || m == VoidPending {
			continue
		}
		rec := Record{Transfer: t, Seq: r.Seq, Time: e.Time}
		switch account {
		case t.Credit:
			out = append(out, Line{Record: rec, Amount: t.Amount, Counterparty: t.Debit})
		case t.Debit:
			out = append(out, Line{Record: rec, Amount: -t.Amount, Counterparty: t.Credit})
		}
	}
	return out, nil
}
