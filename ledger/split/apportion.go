package split

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
)

// Carry is what a plan remembers between splits: the running total split so
// far and what each slot has been paid of it. Store it with the postings it
// produced, in the same transaction.
type Carry struct {
	Plan  [32]byte // the plan this carry belongs to
	Gross int64    // total split so far
	Paid  []int64  // per slot, in Plan.Slots order; sums to Gross
	// Last is a caller-chosen tag of the last split (a settlement run id),
	// so a re-run can tell it already happened.
	Last string
}

// Posting is one slot's part of a split.
type Posting struct {
	Slot    int
	Account string
	Path    []string // provenance: leaf asset first
	Amount  int64
}

// Split divides amount over the plan's slots, continuing from c (which it
// updates; a nil or foreign carry starts a new one). Postings are returned
// in slot order and only for slots that receive something; their amounts
// sum to exactly amount.
func (p *Plan) Split(amount int64, c *Carry) ([]Posting, error) {
	if amount < 0 {
		return nil, fmt.Errorf("%w: %d is negative", ErrAmount, amount)
	}
	var local Carry
	if c == nil {
		c = &local
	}
	if c.Plan != p.Hash {
		*c = Carry{Plan: p.Hash, Paid: make([]int64, len(p.Slots))}
	}
	if err := p.checkCarry(c); err != nil {
		return nil, err
	}
	if amount > maxTotal-c.Gross {
		return nil, fmt.Errorf("%w: running total %d + %d overflows", ErrAmount, c.Gross, amount)
	}
	g1 := c.Gross + amount
	target := p.apportion(g1, c.Paid)
	var out []Posting
	for i := range target {
		if d := target[i] - c.Paid[i]; d > 0 {
			s := p.Slots[i]
			out = append(out, Posting{Slot: i, Account: s.Account, Path: s.Path, Amount: d})
		}
	}
	c.Gross, c.Paid = g1, target
	return out, nil
}

func (p *Plan) checkCarry(c *Carry) error {
	if c.Gross < 0 || c.Gross > maxTotal {
		return fmt.Errorf("%w: running total %d", ErrBadCarry, c.Gross)
	}
	if len(c.Paid) != len(p.Slots) {
		return fmt.Errorf("%w: %d slots paid, plan has %d", ErrBadCarry, len(c.Paid), len(p.Slots))
	}
	var sum int64
	g := new(big.Int).SetInt64(c.Gross)
	for i, v := range c.Paid {
		if v < 0 || v > c.Gross {
			return fmt.Errorf("%w: slot %d paid %d of %d", ErrBadCarry, i, v, c.Gross)
		}
		sum += v
		// paid must not exceed the ceiling of the exact share.
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(g, p.Slots[i].Weight), p.Den, new(big.Int))
		ceil := q.Int64()
		if r.Sign() != 0 {
			ceil++
		}
		if v > ceil {
			return fmt.Errorf("%w: slot %d paid %d, above its share %d", ErrBadCarry, i, v, ceil)
		}
	}
	if sum != c.Gross {
		return fmt.Errorf("%w: slots paid %d of %d", ErrBadCarry, sum, c.Gross)
	}
	return nil
}

// apportion returns cumulative amounts for total g, none below paid, each
// within one unit of its exact share from below and at most its ceiling.
func (p *Plan) apportion(g int64, paid []int64) []int64 {
	n := len(p.Slots)
	floor := make([]int64, n)
	rem := make([]*big.Int, n)
	gb := new(big.Int).SetInt64(g)
	target := make([]int64, n)
	var sum int64
	for i, s := range p.Slots {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(gb, s.Weight), p.Den, new(big.Int))
		floor[i], rem[i] = q.Int64(), r
		target[i] = max(paid[i], floor[i])
		sum += target[i]
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	switch {
	case sum < g:
		// Largest remainders first; ties by slot key (the slots are sorted by
		// key, so by index).
		slices.SortStableFunc(order, func(a, b int) int { return rem[b].Cmp(rem[a]) })
		for _, i := range order {
			if sum == g {
				break
			}
			if target[i] == floor[i] && rem[i].Sign() > 0 {
				target[i]++
				sum++
			}
		}
	case sum > g:
		// Only slots lifted to their floor this time can give way; smallest
		// remainders first, ties by reverse slot key.
		slices.SortStableFunc(order, func(a, b int) int {
			if c := rem[a].Cmp(rem[b]); c != 0 {
				return c
			}
			return cmp.Compare(b, a)
		})
		for _, i := range order {
			if sum == g {
				break
			}
			d := min(target[i]-paid[i], sum-g)
			target[i] -= d
			sum -= d
		}
	}
	return target
}

// maxTotal bounds running totals so that sums of rounded-up parts cannot
// overflow int64.
const maxTotal = math.MaxInt64 - MaxSlots

// Apportion divides amount by integer weights with largest-remainder
// rounding, ties going to the lower index (sort the inputs by account id
// for an id tie-break). The parts sum to exactly amount.
func Apportion(amount int64, weights []int64) ([]int64, error) {
	if amount < 0 {
		return nil, fmt.Errorf("%w: %d is negative", ErrAmount, amount)
	}
	if amount > maxTotal {
		return nil, fmt.Errorf("%w: %d too large", ErrAmount, amount)
	}
	den := new(big.Int)
	for _, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("%w: negative weight %d", ErrShares, w)
		}
		den.Add(den, big.NewInt(w))
	}
	if den.Sign() == 0 {
		return nil, fmt.Errorf("%w: weights sum to zero", ErrShares)
	}
	p := &Plan{Den: den, Slots: make([]Slot, len(weights))}
	for i, w := range weights {
		p.Slots[i].Weight = big.NewInt(w)
	}
	return p.apportion(amount, make([]int64, len(weights))), nil
}

// MarshalBinary encodes the carry:
// plan(32) gross:i64 n:uvarint paid:i64*n last_len:uvarint last.
func (c *Carry) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 32+8+10+8*len(c.Paid)+len(c.Last)+2)
	b = append(b, c.Plan[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Gross))
	b = binary.AppendUvarint(b, uint64(len(c.Paid)))
	for _, v := range c.Paid {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Last)))
	return append(b, c.Last...), nil
}

// UnmarshalBinary decodes a carry written by MarshalBinary. Whether it fits
// a plan is checked when it is used.
func (c *Carry) UnmarshalBinary(b []byte) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadCarry, what) }
	if len(b) < 40 {
		return bad("truncated")
	}
	var out Carry
	copy(out.Plan[:], b)
	out.Gross = int64(binary.BigEndian.Uint64(b[32:]))
	b = b[40:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > MaxSlots || uint64(len(b)-k) < 8*n {
		return bad("slot count")
	}
	b = b[k:]
	out.Paid = make([]int64, n)
	for i := range out.Paid {
		out.Paid[i] = int64(binary.BigEndian.Uint64(b))
		b = b[8:]
	}
	m, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) != m {
		return bad("tag")
	}
	out.Last = string(b[k:])
	*c = out
	return nil
}
