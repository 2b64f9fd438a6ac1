package split_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/charter-dev/charter/ledger/split"
	"pgregory.net/rapid"
)

func loader(nodes ...split.Node) split.Loader {
	m := map[string]split.Node{}
	for _, n := range nodes {
		m[n.Asset] = n
	}
	return func(a string) (split.Node, error) {
		n, ok := m[a]
		if !ok {
			return split.Node{}, fmt.Errorf("no asset %s", a)
		}
		return n, nil
	}
}

func TestApportion(t *testing.T) {
	for _, c := range []struct {
		amount  int64
		weights []int64
		want    []int64
	}{
		{100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{2, []int64{1, 1, 1}, []int64{1, 1, 0}},
		{10, []int64{3333, 3333, 3334}, []int64{3, 3, 4}},
		{1, []int64{5000, 5000}, []int64{1, 0}},
		{7, []int64{0, 1}, []int64{0, 7}},
		{0, []int64{1, 2}, []int64{0, 0}},
		{math.MaxInt64 - split.MaxSlots, []int64{1, 1}, []int64{(math.MaxInt64 - split.MaxSlots + 1) / 2, (math.MaxInt64 - split.MaxSlots) / 2}},
	} {
		got, err := split.Apportion(c.amount, c.weights)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Apportion(%d, %v) = %v, %v; want %v", c.amount, c.weights, got, err, c.want)
		}
	}
	if _, err := split.Apportion(-1, []int64{1}); !errors.Is(err, split.ErrAmount) {
		t.Errorf("negative amount: %v", err)
	}
	if _, err := split.Apportion(1, []int64{0}); !errors.Is(err, split.ErrShares) {
		t.Errorf("zero weights: %v", err)
	}
}

// The README scenario: a dataset with two contributors, a model trained on
// it that passes 20% upstream.
func TestReadmeScenario(t *testing.T) {
	load := loader(
		split.Node{Asset: "dataset", Contributors: []split.Contributor{{"ann", 600000}, {"bea", 400000}}},
		split.Node{Asset: "model", Contributors: []split.Contributor{{"max", 1000000}}, Parents: []split.Parent{{Asset: "dataset", Share: 200000}}},
	)
	p, err := split.Compile("model", load)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.Split(1001, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var sum int64
	for _, q := range ps {
		got[q.Account] += q.Amount
		sum += q.Amount
	}
	// Exact: max 800.8, ann 120.12, bea 80.08 -> floors 800,120,80 and one
	// unit to the largest remainder (max, .8).
	if want := map[string]int64{"max": 801, "ann": 120, "bea": 80}; !mapsEqual(got, want) || sum != 1001 {
		t.Fatalf("split of 1001 = %v (sum %d), want %v", got, sum, want)
	}
	for _, q := range ps {
		if q.Account == "ann" && !slices.Equal(q.Path, []string{"model", "dataset"}) {
			t.Fatalf("ann's provenance path = %v", q.Path)
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestStacking(t *testing.T) {
	// fine-tune F (10% to M) on model M (20% to D) on dataset D.
	mk := func(st split.Stacking) split.Loader {
		return loader(
			split.Node{Asset: "D", Contributors: []split.Contributor{{"d", 1000000}}},
			split.Node{Asset: "M", Contributors: []split.Contributor{{"m", 1000000}}, Parents: []split.Parent{{"D", 200000, st}}},
			split.Node{Asset: "F", Contributors: []split.Contributor{{"f", 1000000}}, Parents: []split.Parent{{"M", 300000, split.Relative}}},
		)
	}
	shares := func(p *split.Plan) map[string]string {
		m := map[string]string{}
		for i, s := range p.Slots {
			m[s.Account] = p.Share(i).RatString()
		}
		return m
	}
	rel, err := split.Compile("F", mk(split.Relative))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := shares(rel), map[string]string{"f": "7/10", "m": "6/25", "d": "3/50"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("relative: %v, want %v", got, want)
	}
	abs, err := split.Compile("F", mk(split.Absolute))
	if err != nil {
		t.Fatal(err)
	}
	// D gets 20% of the gross from M's 30%; M's contributor keeps 10%.
	if got, want := shares(abs), map[string]string{"f": "7/10", "m": "1/10", "d": "1/5"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("absolute: %v, want %v", got, want)
	}
	over := loader(
		split.Node{Asset: "D", Contributors: []split.Contributor{{"d", 1000000}}},
		split.Node{Asset: "M", Contributors: []split.Contributor{{"m", 1000000}}, Parents: []split.Parent{{"D", 400000, split.Absolute}}},
		split.Node{Asset: "F", Contributors: []split.Contributor{{"f", 1000000}}, Parents: []split.Parent{{"M", 300000, split.Relative}}},
	)
	if _, err := split.Compile("F", over); !errors.Is(err, split.ErrOverAllocated) {
		t.Fatalf("absolute 40%% above a 30%% edge: %v", err)
	}
	if _, err := split.Compile("M", over); err != nil {
		t.Fatalf("the same edge used directly: %v", err)
	}
	// Royalty 0 records lineage without payment; the parent is not even loaded.
	free, err := split.Compile("M", loader(split.Node{Asset: "M", Contributors: []split.Contributor{{"m", 1000000}}, Parents: []split.Parent{{"unregistered", 0, split.Relative}}}))
	if err != nil || len(free.Slots) != 1 || free.Slots[0].Account != "m" {
		t.Fatalf("zero royalty: %v %+v", err, free)
	}
}

func TestBadLineage(t *testing.T) {
	c := []split.Contributor{{"x", 1000000}}
	for name, c := range map[string]struct {
		load split.Loader
		want error
	}{
		"shares under 100%": {loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 500000}}}), split.ErrShares},
		"shares over 100%":  {loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 600000}, {"y", 500000}}}), split.ErrShares},
		"negative share":    {loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 1000100}, {"y", -1}}}), split.ErrShares},
		"no contributors":   {loader(split.Node{Asset: "A"}), split.ErrShares},
		"twice":             {loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 500000}, {"x", 500000}}}), split.ErrShares},
		"royalties over 100%": {loader(split.Node{Asset: "A", Contributors: c, Parents: []split.Parent{{"B", 600000, 0}, {"C", 500000, 0}}},
			split.Node{Asset: "B", Contributors: c}, split.Node{Asset: "C", Contributors: c}), split.ErrOverAllocated},
		"cycle": {loader(split.Node{Asset: "A", Contributors: c, Parents: []split.Parent{{"B", 10000, 0}}},
			split.Node{Asset: "B", Contributors: c, Parents: []split.Parent{{"A", 10000, 0}}}), split.ErrCycle},
		"self":    {loader(split.Node{Asset: "A", Contributors: c, Parents: []split.Parent{{"A", 10000, 0}}}), split.ErrCycle},
		"unknown": {loader(split.Node{Asset: "A", Contributors: c, Parents: []split.Parent{{"B", 10000, 0}}}), nil},
	} {
		_, err := split.Compile("A", c.load)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A deep chain hits MaxDepth.
	var nodes []split.Node
	for i := range split.MaxDepth + 2 {
		n := split.Node{Asset: fmt.Sprint(i), Contributors: c}
		if i < split.MaxDepth+1 {
			n.Parents = []split.Parent{{fmt.Sprint(i + 1), 100, 0}}
		}
		nodes = append(nodes, n)
	}
	if _, err := split.Compile("0", loader(nodes...)); !errors.Is(err, split.ErrTooLarge) {
		t.Errorf("deep chain: %v", err)
	}
}

// genLineage draws a random DAG over assets a0..a(n-1) in which parents
// always have a higher index (so it is acyclic), with random shares.
func genLineage(t *rapid.T) (map[string]split.Node, split.Loader) {
	n := rapid.IntRange(1, 6).Draw(t, "assets")
	nodes := map[string]split.Node{}
	for i := n - 1; i >= 0; i-- {
		node := split.Node{Asset: fmt.Sprintf("a%d", i)}
		k := rapid.IntRange(1, 4).Draw(t, "contributors")
		cuts := make([]int64, 0, k+1)
		cuts = append(cuts, 0, split.Whole)
		for range k - 1 {
			cuts = append(cuts, rapid.Int64Range(1, split.Whole-1).Draw(t, "cut"))
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for j := 1; j < len(cuts); j++ {
			node.Contributors = append(node.Contributors, split.Contributor{Account: fmt.Sprintf("c%d", rapid.IntRange(0, 7).Draw(t, "who")), Share: cuts[j] - cuts[j-1]})
		}
		// distinct accounts within a node
		seen := map[string]bool{}
		for j := range node.Contributors {
			for seen[node.Contributors[j].Account] {
				node.Contributors[j].Account += "'"
			}
			seen[node.Contributors[j].Account] = true
		}
		budget := int64(split.Whole)
		for p := i + 1; p < n; p++ {
			if !rapid.Bool().Draw(t, "edge") || budget == 0 {
				continue
			}
			share := rapid.Int64Range(0, min(budget, 500000)).Draw(t, "royalty")
			budget -= share
			st := split.Relative
			if rapid.IntRange(0, 3).Draw(t, "absolute") == 0 {
				st = split.Absolute
			}
			node.Parents = append(node.Parents, split.Parent{Asset: fmt.Sprintf("a%d", p), Share: share, Stacking: st})
		}
		nodes[node.Asset] = node
	}
	return nodes, func(a string) (split.Node, error) { return nodes[a], nil }
}

// exactShares computes each account's share of the gross straight from the
// recursion in the package doc, independently of Compile. It reports false
// when some asset owes more than it receives.
func exactShares(nodes map[string]split.Node, asset string, f *big.Rat, out map[string]*big.Rat) bool {
	n := nodes[asset]
	rest := new(big.Rat).Set(f)
	ok := true
	for _, p := range n.Parents {
		var due *big.Rat
		if p.Stacking == split.Absolute {
			due = big.NewRat(p.Share, split.Whole)
		} else {
			due = new(big.Rat).Mul(f, big.NewRat(p.Share, split.Whole))
		}
		if due.Sign() == 0 {
			continue
		}
		rest.Sub(rest, due)
		if rest.Sign() < 0 {
			ok = false
		}
		ok = exactShares(nodes, p.Asset, due, out) && ok
	}
	for _, c := range n.Contributors {
		if out[c.Account] == nil {
			out[c.Account] = new(big.Rat)
		}
		out[c.Account].Add(out[c.Account], new(big.Rat).Mul(rest, big.NewRat(c.Share, split.Whole)))
	}
	return ok
}

// TestSplitProperties: over random lineage DAGs and amounts, every split
// sums exactly to its amount, payments are never negative, and the running
// totals stay within quota of the exact rational shares (no drift).
func TestSplitProperties(t *testing.T) {
	var feasibleRuns, refusedRuns int
	defer func() {
		t.Logf("%d lineages split, %d refused as over-allocated", feasibleRuns, refusedRuns)
		if feasibleRuns < 10 || refusedRuns == 0 {
			t.Errorf("generator covers too little: %d split, %d refused", feasibleRuns, refusedRuns)
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		nodes, load := genLineage(t)
		want := map[string]*big.Rat{}
		feasible := exactShares(nodes, "a0", big.NewRat(1, 1), want)
		p, err := split.Compile("a0", load)
		if !feasible {
			if !errors.Is(err, split.ErrOverAllocated) {
				t.Fatalf("over-allocated lineage compiled: %v", err)
			}
			refusedRuns++
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		feasibleRuns++
		got := map[string]*big.Rat{}
		for i, s := range p.Slots {
			if got[s.Account] == nil {
				got[s.Account] = new(big.Rat)
			}
			got[s.Account].Add(got[s.Account], p.Share(i))
			if s.Path[0] != "a0" {
				t.Fatalf("slot path %v does not start at the leaf", s.Path)
			}
		}
		for a, w := range want {
			if w.Sign() != 0 && (got[a] == nil || got[a].Cmp(w) != 0) {
				t.Fatalf("account %s: plan share %v, exact %v", a, got[a], w)
			}
		}
		var c split.Carry
		total := int64(0)
		paid := make([]int64, len(p.Slots))
		for k := range rapid.IntRange(1, 20).Draw(t, "splits") {
			amount := rapid.OneOf(rapid.Int64Range(0, 10), rapid.Int64Range(0, 1_000_000), rapid.Int64Range(0, 1<<50)).Draw(t, fmt.Sprint("amount", k))
			ps, err := p.Split(amount, &c)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, q := range ps {
				if q.Amount <= 0 {
					t.Fatalf("posting of %d", q.Amount)
				}
				sum += q.Amount
				paid[q.Slot] += q.Amount
			}
			if sum != amount {
				t.Fatalf("split of %d sums to %d", amount, sum)
			}
			total += amount
			if c.Gross != total || !slices.Equal(c.Paid, paid) {
				t.Fatalf("carry %+v does not match postings %v / %d", c, paid, total)
			}
			for i := range p.Slots {
				exact := new(big.Rat).Mul(p.Share(i), new(big.Rat).SetInt64(total))
				diff := new(big.Rat).Sub(new(big.Rat).SetInt64(paid[i]), exact)
				// Never above the ceiling of the exact share, never more
				// than one unit per other slot below it.
				if diff.Cmp(big.NewRat(1, 1)) >= 0 || diff.Cmp(big.NewRat(-int64(len(p.Slots)), 1)) <= 0 {
					t.Fatalf("slot %d paid %d of exact %s after %d splits", i, paid[i], exact.FloatString(3), k+1)
				}
			}
		}
		// A carry survives encoding.
		b, _ := c.MarshalBinary()
		var back split.Carry
		if err := back.UnmarshalBinary(b); err != nil || back.Gross != c.Gross || !slices.Equal(back.Paid, c.Paid) || back.Plan != c.Plan {
			t.Fatalf("carry round trip: %v %+v", err, back)
		}
	})
}

func TestCarryChecks(t *testing.T) {
	p, err := split.Compile("A", loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 500000}, {"y", 500000}}}))
	if err != nil {
		t.Fatal(err)
	}
	c := split.Carry{Plan: p.Hash, Gross: 10, Paid: []int64{9, 1}}
	if _, err := p.Split(1, &c); !errors.Is(err, split.ErrBadCarry) {
		t.Fatalf("carry above quota: %v", err)
	}
	c = split.Carry{Plan: p.Hash, Gross: 10, Paid: []int64{5, 4}}
	if _, err := p.Split(1, &c); !errors.Is(err, split.ErrBadCarry) {
		t.Fatalf("carry not summing: %v", err)
	}
	c = split.Carry{Plan: [32]byte{1}, Gross: 10, Paid: []int64{9, 1}}
	if _, err := p.Split(3, &c); err != nil || c.Plan != p.Hash || c.Gross != 3 {
		t.Fatalf("foreign carry should restart: %v %+v", err, c)
	}
	if _, err := p.Split(-1, &c); !errors.Is(err, split.ErrAmount) {
		t.Fatalf("negative: %v", err)
	}
	if _, err := p.Split(math.MaxInt64, &c); !errors.Is(err, split.ErrAmount) {
		t.Fatalf("overflow: %v", err)
	}
	// Repeated one-unit splits alternate instead of always favouring x.
	c = split.Carry{}
	var got []string
	for range 4 {
		ps, _ := p.Split(1, &c)
		got = append(got, ps[0].Account)
	}
	if fmt.Sprint(got) != "[x y x y]" {
		t.Fatalf("unit splits went to %v", got)
	}
}

func FuzzCarry(f *testing.F) {
	c := split.Carry{Gross: 7, Paid: []int64{3, 4}, Last: "run-1"}
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	p, err := split.Compile("A", loader(split.Node{Asset: "A", Contributors: []split.Contributor{{"x", 300000}, {"y", 700000}}}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c split.Carry
		if err := c.UnmarshalBinary(b); err != nil {
			return
		}
		again, _ := c.MarshalBinary()
		var d split.Carry
		if err := d.UnmarshalBinary(again); err != nil || d.Gross != c.Gross || !slices.Equal(d.Paid, c.Paid) || d.Last != c.Last {
			t.Fatalf("re-encoding changed the carry")
		}
		// Any decoded carry is either refused or continues exactly.
		c.Plan = p.Hash
		ps, err := p.Split(5, &c)
		if err != nil {
			return
		}
		var sum int64
		for _, q := range ps {
			sum += q.Amount
		}
		if sum != 5 {
			t.Fatalf("split of 5 from a decoded carry sums to %d", sum)
		}
	})
}

// FuzzCompile feeds hostile lineages (JSON, as an asset registry might hand
// them over): Compile must refuse them or give a plan whose splits are exact.
func FuzzCompile(f *testing.F) {
	for _, v := range splitCases() {
		b, _ := json.Marshal(v.Lineage)
		f.Add(b, v.Leaf, int64(1001))
	}
	f.Add([]byte(`[{"asset":"a","contributors":[{"account":"x","share":1000000}],"parents":[{"asset":"a","share":1}]}]`), "a", int64(5))
	f.Add([]byte(`[{"asset":"a","contributors":[{"account":"x","share":1000000}],"parents":[{"asset":"b","share":600000,"stacking":"absolute"}]},{"asset":"b","contributors":[{"account":"y","share":1000000}],"parents":[{"asset":"a","share":1}]}]`), "a", int64(7))
	f.Fuzz(func(t *testing.T, raw []byte, leaf string, amount int64) {
		var nodes []split.Node
		if json.Unmarshal(raw, &nodes) != nil || len(nodes) > 16 {
			return
		}
		m := map[string]split.Node{}
		for _, n := range nodes {
			m[n.Asset] = n
		}
		p, err := split.Compile(leaf, func(a string) (split.Node, error) {
			n, ok := m[a]
			if !ok {
				return n, fmt.Errorf("no %s", a)
			}
			return n, nil
		})
		if err != nil {
			return
		}
		sum := new(big.Int)
		for _, s := range p.Slots {
			if s.Weight.Sign() <= 0 {
				t.Fatalf("slot %v has weight %v", s.Path, s.Weight)
			}
			sum.Add(sum, s.Weight)
		}
		if sum.Cmp(p.Den) != 0 {
			t.Fatalf("weights sum to %v/%v", sum, p.Den)
		}
		var c split.Carry
		for range 3 {
			ps, err := p.Split(amount, &c)
			if err != nil {
				if amount < 0 || errors.Is(err, split.ErrAmount) {
					return
				}
				t.Fatal(err)
			}
			var got int64
			for _, q := range ps {
				got += q.Amount
			}
			if got != amount {
				t.Fatalf("split of %d sums to %d", amount, got)
			}
		}
	})
}
