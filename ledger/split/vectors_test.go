package split_test

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/charter-dev/charter/ledger/split"
)

var update = flag.Bool("update", false, "rewrite testdata vectors")

// splitVector is one case of testdata/splits.json: a lineage, a leaf, a
// sequence of amounts split one after another with a carry, and the
// postings each split gives.
type splitVector struct {
	Comment string       `json:"comment"`
	Lineage []split.Node `json:"lineage"`
	Leaf    string       `json:"leaf"`
	Slots   []vSlot      `json:"slots"`
	Splits  []vSplit     `json:"splits"`
	Carry   string       `json:"final_carry_hex"`
}

type vSlot struct {
	Account string   `json:"account"`
	Path    []string `json:"path"`
	Share   string   `json:"share"` // exact fraction of every amount
}

type vSplit struct {
	Amount   int64      `json:"amount,string"`
	Postings []vPosting `json:"postings"`
}

type vPosting struct {
	Slot   int   `json:"slot"`
	Amount int64 `json:"amount,string"`
}

func splitCases() []splitVector {
	c := func(a string, s int64) split.Contributor { return split.Contributor{Account: a, Share: s} }
	return []splitVector{
		{Comment: "README: dataset with two contributors, model passing 20% upstream (relative)", Leaf: "model",
			Lineage: []split.Node{
				{Asset: "dataset", Contributors: []split.Contributor{c("ann", 600000), c("bea", 400000)}},
				{Asset: "model", Contributors: []split.Contributor{c("max", 1000000)}, Parents: []split.Parent{{Asset: "dataset", Share: 200000}}},
			},
			Splits: []vSplit{{Amount: 1001}, {Amount: 1}, {Amount: 1}, {Amount: 1}, {Amount: 7}, {Amount: 999_999_999}}},
		{Comment: "three equal thirds: units rotate by remainder, ties by account id", Leaf: "a",
			Lineage: []split.Node{{Asset: "a", Contributors: []split.Contributor{c("x", 333333), c("y", 333333), c("z", 333334)}}},
			Splits:  []vSplit{{Amount: 1}, {Amount: 1}, {Amount: 1}, {Amount: 1}, {Amount: 100}}},
		{Comment: "3 levels, relative and absolute stacking, a diamond (two paths to the dataset)", Leaf: "finetune",
			Lineage: []split.Node{
				{Asset: "dataset", Contributors: []split.Contributor{c("d1", 500000), c("d2", 500000)}},
				{Asset: "base", Contributors: []split.Contributor{c("b", 1000000)}, Parents: []split.Parent{{Asset: "dataset", Share: 100000, Stacking: split.Absolute}}},
				{Asset: "model", Contributors: []split.Contributor{c("m", 1000000)}, Parents: []split.Parent{{Asset: "base", Share: 250000}, {Asset: "dataset", Share: 150000}}},
				{Asset: "finetune", Contributors: []split.Contributor{c("f1", 700000), c("f2", 300000)}, Parents: []split.Parent{{Asset: "model", Share: 400000}}},
			},
			Splits: []vSplit{{Amount: 10_000}, {Amount: 3}, {Amount: 333}, {Amount: 9_223_372_036_854_000_000}}},
	}
}

func runCase(t *testing.T, v splitVector) splitVector {
	nodes := map[string]split.Node{}
	for _, n := range v.Lineage {
		nodes[n.Asset] = n
	}
	p, err := split.Compile(v.Leaf, func(a string) (split.Node, error) {
		n, ok := nodes[a]
		if !ok {
			return n, fmt.Errorf("no %s", a)
		}
		return n, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := v
	out.Slots = nil
	for i, s := range p.Slots {
		out.Slots = append(out.Slots, vSlot{Account: s.Account, Path: s.Path, Share: p.Share(i).RatString()})
	}
	out.Splits = nil
	var carry split.Carry
	for _, sp := range v.Splits {
		ps, err := p.Split(sp.Amount, &carry)
		if err != nil {
			t.Fatal(err)
		}
		got := vSplit{Amount: sp.Amount, Postings: []vPosting{}}
		for _, q := range ps {
			got.Postings = append(got.Postings, vPosting{Slot: q.Slot, Amount: q.Amount})
		}
		out.Splits = append(out.Splits, got)
	}
	b, _ := carry.MarshalBinary()
	out.Carry = hex.EncodeToString(b)
	return out
}

func TestSplitVectors(t *testing.T) {
	path := filepath.Join("testdata", "splits.json")
	if *update {
		var vs []splitVector
		for _, v := range splitCases() {
			vs = append(vs, runCase(t, v))
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []splitVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(splitCases()) {
		t.Fatalf("%d vectors, want %d", len(vs), len(splitCases()))
	}
	for i, v := range vs {
		if got := runCase(t, v); !reflect.DeepEqual(got, v) {
			g, _ := json.MarshalIndent(got, "", " ")
			t.Errorf("vector %d (%s): got\n%s", i, v.Comment, g)
		}
	}
}
