package ledger

import (
	"encoding/binary"
	"fmt"
)

// postingLineVersion is the first byte of every encoded posting line.
const postingLineVersion = 1

// AppendPostingLine appends the posting-line encoding of rec as the index
// row of one of its accounts stores it (docs/spec/ledger.md, "Postings
// index"): the journal position, then the transfer's fields with that
// account's own side reduced to one byte (credited or debited) and the
// other account named once.
//
//	line = version:u8(1) time:i64 seq:u64 side:u8(0 debited | 1 credited)
//	       other:str id:str amount:i64 flags:u32 pending_id:str
//	       reverses:str code:u16 ref:str
//	str  = len:uvarint bytes
//
// Integers are big-endian, as in a journal entry. Backends that pay per
// column read (SQLite through modernc.org/sqlite) store the line as one
// value and decode it with DecodePostingLine.
func AppendPostingLine(dst []byte, credited bool, other string, rec Record) []byte {
	side := byte(0)
	if credited {
		side = 1
	}
	t := rec.Transfer
	dst = append(dst, postingLineVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(rec.Time))
	dst = binary.BigEndian.AppendUint64(dst, rec.Seq)
	dst = append(dst, side)
	dst = appendStr(dst, other)
	dst = appendStr(dst, t.ID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.Amount))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Flags))
	dst = appendStr(dst, t.PendingID)
	dst = appendStr(dst, t.Reverses)
	dst = binary.BigEndian.AppendUint16(dst, t.Code)
	return appendStr(dst, t.Ref)
}

// PostingLineOf returns the posting-line encoding of rec from account's
// side, and false when rec does not touch account.
func PostingLineOf(rec Record, account string) ([]byte, bool) {
	switch account {
	case rec.Credit:
		return AppendPostingLine(nil, true, rec.Debit, rec), true
	case rec.Debit:
		return AppendPostingLine(nil, false, rec.Credit, rec), true
	}
	return nil, false
}

// DecodePostingLine parses a posting line of account, as IndexedLine
// builds it. It accepts only what AppendPostingLine writes for a journaled
// (resolved) transfer: the transfer must pass the shape rules DecodeEntry
// applies, so a damaged or edited index row is refused with ErrBadPosting
// rather than shown. (That its position matches the row's key is the
// reader's check: PostingOrder.)
//
// The line's strings share one allocation (a copy of b), so b may be
// reused once DecodePostingLine returns.
func DecodePostingLine(account string, b []byte) (Line, error) {
	d := decoder{b: b, s: string(b)}
	if v := d.u8(); v != postingLineVersion && d.err == nil {
		return Line{}, fmt.Errorf("version %d: %w", v, ErrBadPosting)
	}
	time := int64(d.u64())
	seq := d.u64()
	side := d.u8()
	other := d.str()
	var t Transfer
	t.ID = d.str()
	t.Amount = int64(d.u64())
	t.Flags = TransferFlags(d.u32())
	t.PendingID = d.str()
	t.Reverses = d.str()
	t.Code = d.u16()
	t.Ref = d.str()
	if d.err == nil && side > 1 {
		d.err = fmt.Errorf("side %d", side)
	}
	if d.err == nil && seq == 0 {
		d.err = fmt.Errorf("journal position 0")
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	line := IndexedLine(account, other, side == 1, t, seq, time)
	if d.err == nil {
		if err := line.Transfer.Validate(); err != nil {
			d.err = err
		} else if other == "" || t.Amount <= 0 {
			d.err = fmt.Errorf("transfer %q not resolved", t.ID)
		}
	}
	if d.err != nil {
		return Line{}, fmt.Errorf("posting of %q: %w: %v", account, ErrBadPosting, d.err)
	}
	return line, nil
}

// PostingOrder checks that line, read after prev (the zero Cursor for the
// first line), is where an answer to q may put it: after prev and q.After,
// inside [q.From, q.To). A backend that reads a line's position from the
// line itself rather than from the key it sorted by calls it on every
// line, so an edited row can neither move a line out of the window asked
// for nor make a caller paging by Cursor go back (and loop).
func PostingOrder(prev Cursor, line Line, q PostingQuery) error {
	c := line.Cursor()
	switch {
	case c.Time < q.From || q.To != 0 && c.Time >= q.To:
		return fmt.Errorf("posting %d at %d outside [%d, %d): %w", c.Seq, c.Time, q.From, q.To, ErrBadPosting)
	case q.After.Seq != 0 && !c.after(q.After), prev.Seq != 0 && !c.after(prev):
		return fmt.Errorf("posting %d at %d out of order: %w", c.Seq, c.Time, ErrBadPosting)
	}
	return nil
}

func (c Cursor) after(d Cursor) bool { return c.Time > d.Time || c.Time == d.Time && c.Seq > d.Seq }
