package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"iter"
)

// EntryKind says what a journal entry records.
type EntryKind byte

// Entry kinds.
const (
	EntryAccount  EntryKind = 'A'
	EntryTransfer EntryKind = 'T'
)

// entryVersion is the first byte of every canonical entry.
const entryVersion = 1

// Entry is one journal entry: an account opened or a transfer applied.
// Its canonical encoding (docs/spec/ledger.md) is what the hash chain covers.
type Entry struct {
	Kind     EntryKind
	Time     int64    // Unix nanoseconds
	Account  Account  // when Kind is EntryAccount
	Transfer Transfer // when Kind is EntryTransfer; resolved (see Record)
}

// ID returns the account or transfer id the entry records.
func (e Entry) ID() string {
	if e.Kind == EntryAccount {
		return e.Account.ID
	}
	return e.Transfer.ID
}

// Canonical returns the entry's canonical encoding.
func (e Entry) Canonical() []byte { return e.AppendCanonical(nil) }

// AppendCanonical appends the canonical encoding of e to dst.
//
//	entry    = version:u8(1) kind:u8 time:i64
//	account  = id:str kind:u8 flags:u32 credit_limit:i64 currency:str
//	transfer = id:str debit:str credit:str amount:i64 flags:u32
//	           pending_id:str reverses:str code:u16 ref:str
//	str      = len:uvarint bytes
//
// Integers are big-endian, signed ones two's complement.
func (e Entry) AppendCanonical(dst []byte) []byte {
	dst = append(dst, entryVersion, byte(e.Kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Time))
	switch e.Kind {
	case EntryAccount:
		a := e.Account
		dst = appendStr(dst, a.ID)
		dst = append(dst, byte(a.Kind))
		dst = binary.BigEndian.AppendUint32(dst, uint32(a.Flags))
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.CreditLimit))
		dst = appendStr(dst, a.Currency)
	case EntryTransfer:
		t := e.Transfer
		dst = appendStr(dst, t.ID)
		dst = appendStr(dst, t.Debit)
		dst = appendStr(dst, t.Credit)
		dst = binary.BigEndian.AppendUint64(dst, uint64(t.Amount))
		dst = binary.BigEndian.AppendUint32(dst, uint32(t.Flags))
		dst = appendStr(dst, t.PendingID)
		dst = appendStr(dst, t.Reverses)
		dst = binary.BigEndian.AppendUint16(dst, t.Code)
		dst = appendStr(dst, t.Ref)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// DecodeEntry parses a canonical entry. It accepts only the canonical form:
// DecodeEntry(b).Canonical() equals b for every b it accepts, and every
// field is validated as the ledger validates it on the way in.
//
// The strings of the entry share one allocation (a copy of b), so b may be
// reused once DecodeEntry returns.
func DecodeEntry(b []byte) (Entry, error) {
	d := decoder{b: b, s: string(b)}
	var e Entry
	if v := d.u8(); v != entryVersion {
		return Entry{}, fmt.Errorf("version %d: %w", v, ErrBadEntry)
	}
	e.Kind = EntryKind(d.u8())
	e.Time = int64(d.u64())
	switch e.Kind {
	case EntryAccount:
		a := &e.Account
		a.ID = d.str()
		a.Kind = AccountKind(d.u8())
		a.Flags = AccountFlags(d.u32())
		a.CreditLimit = int64(d.u64())
		a.Currency = d.str()
		if d.err == nil {
			if err := a.Validate(); err != nil {
				d.err = err
			}
		}
	case EntryTransfer:
		t := &e.Transfer
		t.ID = d.str()
		t.Debit = d.str()
		t.Credit = d.str()
		t.Amount = int64(d.u64())
		t.Flags = TransferFlags(d.u32())
		t.PendingID = d.str()
		t.Reverses = d.str()
		t.Code = d.u16()
		t.Ref = d.str()
		if d.err == nil {
			// Journaled transfers are resolved: accounts always present,
			// amount positive (a void records the amount it released).
			if err := t.Validate(); err != nil {
				d.err = err
			} else if t.Debit == "" || t.Credit == "" || t.Amount <= 0 {
				d.err = fmt.Errorf("transfer %q not resolved", t.ID)
			}
		}
	default:
		return Entry{}, fmt.Errorf("kind %#x: %w", byte(e.Kind), ErrBadEntry)
	}
	if d.err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrBadEntry, d.err)
	}
	if len(d.b) != 0 {
		return Entry{}, fmt.Errorf("%d trailing bytes: %w", len(d.b), ErrBadEntry)
	}
	return e, nil
}

type decoder struct {
	b   []byte // what is left to decode
	s   string // all of the entry, for str to slice
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("truncated")
		d.b = nil
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = fmt.Errorf("bad length")
		return ""
	}
	if k > 1 && d.b[k-1] == 0 { // a minimal varint never ends in a zero byte
		d.err = fmt.Errorf("non-minimal length")
		return ""
	}
	if n > MaxRefLen {
		d.err = fmt.Errorf("string of %d bytes", n)
		return ""
	}
	d.b = d.b[k:]
	at := len(d.s) - len(d.b)
	if d.take(int(n)) == nil && n > 0 {
		return ""
	}
	return d.s[at : at+int(n)]
}

// ChainHash returns sha256(prev || canonical), the hash of a journal row
// whose predecessor's hash is prev. The first row's predecessor is all zeros.
func ChainHash(prev [32]byte, canonical []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(canonical)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// VerifyRows checks the chain over rows (which must start at sequence 1)
// and returns the root it ends at.
func VerifyRows(rows iter.Seq2[JournalRow, error]) (Root, error) {
	var root Root
	for r, err := range rows {
		if err != nil {
			return root, err
		}
		if r.Seq != root.Size+1 {
			return root, fmt.Errorf("row %d follows row %d: %w", r.Seq, root.Size, ErrChainBroken)
		}
		h := ChainHash(root.Hash, r.Entry.Canonical())
		if h != r.Hash {
			return root, fmt.Errorf("row %d (%q): hash mismatch: %w\nhint: the journal was edited; restore it from a backup", r.Seq, r.Entry.ID(), ErrChainBroken)
		}
		root = Root{Size: r.Seq, Hash: h}
	}
	return root, nil
}
