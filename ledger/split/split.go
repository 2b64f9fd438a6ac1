// Package split divides revenue among an asset's contributors and up its
// lineage, exactly, in integer units. It does no I/O: lineage is read
// through a Loader the caller passes in.
//
// When a use of asset L brings a gross amount g, money flows as follows.
// Each asset X on the way receives some amount x (at L, x = g). X first pays
// each of its parents P a royalty:
//
//   - Relative stacking (the default): P receives share/Whole of x, what X
//     itself received. Royalties compound: a grandparent behind two 20%
//     edges receives 4% of g.
//   - Absolute stacking: P receives share/Whole of g, the gross of the
//     original use, however deep X sits below the leaf.
//
// A parent with royalty 0 records lineage without payment and is not
// visited. What remains of x after its royalties goes to X's contributors
// by their shares (summing to Whole). If the royalties X owes exceed x,
// the lineage is refused with ErrOverAllocated. Each parent then splits what
// it received the same way, recursively.
//
// Compile turns this recursion into a Plan: one Slot per (path, contributor)
// with an exact rational weight; the weights sum to exactly one. Plan.Split
// then divides an amount over the slots with largest-remainder rounding
// (ties broken by slot key, i.e. account id then path) and a Carry that
// makes repeated splits equal, to the unit, one split of the running total:
// a slot is never paid more than the ceiling of its exact cumulative share,
// payments never go negative, and the parts of every split sum to exactly
// the amount split.
package split

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Whole is 100%. Shares are integers in parts per million, as in asset
// manifests (asset.Share): 1,000,000 = 100%, 100 = 1 basis point.
const Whole = 1_000_000

// Limits on a lineage, so a hostile or broken graph cannot exhaust memory.
const (
	MaxDepth = 32    // longest path from the leaf to an ancestor
	MaxSlots = 10000 // most (path, contributor) pairs in a plan
)

// Errors.
var (
	// ErrShares reports contributor shares that are not positive or do not
	// sum to Whole, or a royalty share outside [0, Whole].
	ErrShares = errors.New("split: invalid shares")
	// ErrOverAllocated reports an asset whose royalties exceed what it
	// receives (shares over 100%).
	ErrOverAllocated = errors.New("split: royalties exceed the revenue they are paid from")
	// ErrCycle reports a lineage in which an asset is its own ancestor.
	ErrCycle = errors.New("split: lineage has a cycle")
	// ErrTooLarge reports a lineage beyond MaxDepth or MaxSlots.
	ErrTooLarge = errors.New("split: lineage too large")
	// ErrAmount reports a negative amount or a running total past int64.
	ErrAmount = errors.New("split: invalid amount")
	// ErrBadCarry reports a carry that does not belong to the plan or is
	// inconsistent.
	ErrBadCarry = errors.New("split: invalid carry")
)

// Stacking says what a parent's royalty share is a share of.
type Stacking uint8

// Stacking modes.
const (
	Relative Stacking = iota // share of what the child asset received
	Absolute                 // share of the gross amount of the original use
)

// MarshalText writes "relative" or "absolute".
func (s Stacking) MarshalText() ([]byte, error) {
	if s > Absolute {
		return nil, fmt.Errorf("%w: stacking %d", ErrShares, uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads "relative" (or "") or "absolute".
func (s *Stacking) UnmarshalText(b []byte) error {
	switch string(b) {
	case "relative", "":
		*s = Relative
	case "absolute":
		*s = Absolute
	default:
		return fmt.Errorf("%w: stacking %q\nhint: use \"relative\" or \"absolute\"", ErrShares, b)
	}
	return nil
}

func (s Stacking) String() string {
	switch s {
	case Relative:
		return "relative"
	case Absolute:
		return "absolute"
	}
	return fmt.Sprintf("stacking(%d)", uint8(s))
}

// Contributor is an account paid a share of what remains of an asset's
// revenue after royalties.
type Contributor struct {
	Account string `json:"account"`
	Share   int64  `json:"share"` // parts per million
}

// Parent is an asset this one was derived from or trained on.
type Parent struct {
	Asset    string   `json:"asset"`
	Share    int64    `json:"share"` // parts per million; 0 records lineage without payment
	Stacking Stacking `json:"stacking"`
}

// Node is one asset's part of the lineage.
type Node struct {
	Asset        string        `json:"asset"`
	Contributors []Contributor `json:"contributors"`
	Parents      []Parent      `json:"parents,omitempty"`
}

// Validate checks a node on its own.
func (n Node) Validate() error {
	if n.Asset == "" {
		return fmt.Errorf("%w: empty asset id", ErrShares)
	}
	if len(n.Contributors) == 0 {
		return fmt.Errorf("%w: asset %s has no contributors\nhint: every asset needs at least one contributor to receive its revenue", ErrShares, n.Asset)
	}
	var sum int64
	seen := make(map[string]bool, len(n.Contributors))
	for _, c := range n.Contributors {
		if c.Account == "" || c.Share <= 0 || c.Share > Whole {
			return fmt.Errorf("%w: asset %s: contributor %q share %d", ErrShares, n.Asset, c.Account, c.Share)
		}
		if seen[c.Account] {
			return fmt.Errorf("%w: asset %s: contributor %q listed twice", ErrShares, n.Asset, c.Account)
		}
		seen[c.Account] = true
		sum += c.Share
	}
	if sum != Whole {
		return fmt.Errorf("%w: asset %s: contributor shares sum to %d, not %d\nhint: shares are parts per million; 1000000 is 100%%", ErrShares, n.Asset, sum, Whole)
	}
	seenP := make(map[string]bool, len(n.Parents))
	var rel int64
	for _, p := range n.Parents {
		if p.Asset == "" || p.Share < 0 || p.Share > Whole || p.Stacking > Absolute {
			return fmt.Errorf("%w: asset %s: parent %q share %d (%v)", ErrShares, n.Asset, p.Asset, p.Share, p.Stacking)
		}
		if seenP[p.Asset] {
			return fmt.Errorf("%w: asset %s: parent %q listed twice", ErrShares, n.Asset, p.Asset)
		}
		if p.Asset == n.Asset {
			return fmt.Errorf("%w: asset %s is its own parent", ErrCycle, n.Asset)
		}
		seenP[p.Asset] = true
		rel += p.Share
	}
	if rel > Whole {
		return fmt.Errorf("%w: asset %s: royalty shares sum to %d ppm, over 100%%", ErrOverAllocated, n.Asset, rel)
	}
	return nil
}

// Loader returns the lineage node of an asset.
type Loader func(asset string) (Node, error)

// Slot is one (path, contributor) recipient of a plan.
type Slot struct {
	Account string
	// Path runs from the leaf asset (where the use happened) to the asset
	// whose contributor Account is: it is the provenance of every unit
	// the slot receives.
	Path []string
	// Weight is the slot's exact share of every amount split, Weight/Den.
	Weight *big.Int
}

// Key is the slot's tie-break key: account, then path.
func (s Slot) Key() string { return s.Account + "\x00" + strings.Join(s.Path, "\x00") }

// Plan is a compiled lineage: how any amount used at Leaf divides.
type Plan struct {
	Leaf  string
	Slots []Slot   // sorted by Key
	Den   *big.Int // common denominator; the weights sum to it
	Hash  [32]byte // identifies the plan; a Carry belongs to one plan
}

// Share returns slot i's exact share.
func (p *Plan) Share(i int) *big.Rat { return new(big.Rat).SetFrac(p.Slots[i].Weight, p.Den) }

// Compile walks the lineage above leaf and returns its plan.
func Compile(leaf string, load Loader) (*Plan, error) {
	c := compiler{load: load, nodes: make(map[string]Node), acc: make(map[string]*Slot)}
	one := big.NewRat(1, 1)
	if err := c.visit(leaf, one, []string{leaf}); err != nil {
		return nil, err
	}
	p := &Plan{Leaf: leaf}
	den := big.NewInt(1)
	for _, s := range c.acc {
		d := c.rats[s.Key()].Denom()
		if new(big.Int).Rem(den, d).Sign() != 0 {
			den.Mul(den, new(big.Int).Quo(d, new(big.Int).GCD(nil, nil, den, d)))
		}
	}
	sum := new(big.Int)
	for k, s := range c.acc {
		r := c.rats[k]
		if r.Sign() == 0 {
			continue
		}
		w := new(big.Int).Mul(r.Num(), new(big.Int).Quo(den, r.Denom()))
		p.Slots = append(p.Slots, Slot{Account: s.Account, Path: s.Path, Weight: w})
		sum.Add(sum, w)
	}
	if sum.Cmp(den) != 0 {
		return nil, fmt.Errorf("split: internal error: weights of %s sum to %v/%v", leaf, sum, den)
	}
	slices.SortFunc(p.Slots, func(a, b Slot) int { return cmp.Compare(a.Key(), b.Key()) })
	p.Den = den
	h := sha256.New()
	h.Write([]byte("charter-split-plan-v1\x00"))
	h.Write([]byte(leaf + "\x00" + den.String() + "\x00"))
	for _, s := range p.Slots {
		h.Write([]byte(s.Key() + "\x00" + s.Weight.String() + "\x00"))
	}
	h.Sum(p.Hash[:0])
	return p, nil
}

type compiler struct {
	load  Loader
	nodes map[string]Node
	acc   map[string]*Slot
	rats  map[string]*big.Rat
}

// visit distributes fraction f (of the gross) received by asset at the end
// of path.
func (c *compiler) visit(asset string, f *big.Rat, path []string) error {
	if len(path) > MaxDepth {
		return fmt.Errorf("%w: path %s longer than %d", ErrTooLarge, strings.Join(path, " > "), MaxDepth)
	}
	n, ok := c.nodes[asset]
	if !ok {
		var err error
		n, err = c.load(asset)
		if err != nil {
			return fmt.Errorf("split: load %s: %w", asset, err)
		}
		if n.Asset != asset {
			return fmt.Errorf("%w: loader returned %q for %q", ErrShares, n.Asset, asset)
		}
		if err := n.Validate(); err != nil {
			return err
		}
		c.nodes[asset] = n
	}
	rest := new(big.Rat).Set(f)
	for _, p := range n.Parents {
		if p.Share == 0 {
			continue // lineage without payment
		}
		if slices.Contains(path, p.Asset) {
			return fmt.Errorf("%w: %s > %s", ErrCycle, strings.Join(path, " > "), p.Asset)
		}
		var due *big.Rat
		if p.Stacking == Absolute {
			due = big.NewRat(p.Share, Whole)
		} else {
			due = new(big.Rat).Mul(f, big.NewRat(p.Share, Whole))
		}
		rest.Sub(rest, due)
		if rest.Sign() < 0 {
			return fmt.Errorf("%w: %s receives %s of the gross on path %s but owes more in royalties\nhint: lower the absolute royalty shares above it, or make them relative",
				ErrOverAllocated, asset, f.FloatString(4), strings.Join(path, " > "))
		}
		if err := c.visit(p.Asset, due, append(slices.Clip(path), p.Asset)); err != nil {
			return err
		}
	}
	if c.rats == nil {
		c.rats = make(map[string]*big.Rat)
	}
	for _, ct := range n.Contributors {
		s := Slot{Account: ct.Account, Path: slices.Clone(path)}
		k := s.Key()
		if _, ok := c.acc[k]; !ok {
			if len(c.acc) >= MaxSlots {
				return fmt.Errorf("%w: more than %d recipients", ErrTooLarge, MaxSlots)
			}
			c.acc[k] = &s
			c.rats[k] = new(big.Rat)
		}
		c.rats[k].Add(c.rats[k], new(big.Rat).Mul(rest, big.NewRat(ct.Share, Whole)))
	}
	return nil
}
