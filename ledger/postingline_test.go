package ledger_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/ledger"
)

// lineVector is one postings index row of testdata/posting-lines.json: a
// journaled transfer (the transfer vectors of testdata/journal.json) from
// one of its accounts' side, and its posting-line encoding.
type lineVector struct {
	Comment  string    `json:"comment"`
	Account  string    `json:"account"`
	Seq      uint64    `json:"seq"`
	Time     int64     `json:"time_unix_nano,string"`
	Transfer vTransfer `json:"transfer"`
	Line     string    `json:"line_hex"`
}

func lineVectors() []lineVector {
	var out []lineVector
	for i, v := range vectorEntries() {
		if v.Entry.Kind != ledger.EntryTransfer {
			continue
		}
		t := v.Entry.Transfer
		for _, side := range []struct {
			account, what string
		}{{t.Debit, "debited"}, {t.Credit, "credited"}} {
			out = append(out, lineVector{Comment: v.Comment + ", " + side.what + " side", Account: side.account,
				Seq: uint64(i + 1), Time: v.Entry.Time, Transfer: *toJSON(v.Entry).Transfer})
		}
	}
	return out
}

func TestPostingLineVectors(t *testing.T) {
	path := filepath.Join("testdata", "posting-lines.json")
	if *update {
		vs := lineVectors()
		for i := range vs {
			rec := ledger.Record{Transfer: fromJSON(vEntry{Transfer: &vs[i].Transfer}).Transfer, Seq: vs[i].Seq, Time: vs[i].Time}
			b, ok := ledger.PostingLineOf(rec, vs[i].Account)
			if !ok {
				t.Fatalf("vector %d: account not in the transfer", i)
			}
			vs[i].Line = hex.EncodeToString(b)
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []lineVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if want := lineVectors(); len(vs) != len(want) {
		t.Fatalf("%d vectors, want %d", len(vs), len(want))
	}
	for i, v := range vs {
		rec := ledger.Record{Transfer: fromJSON(vEntry{Transfer: &v.Transfer}).Transfer, Seq: v.Seq, Time: v.Time}
		want, ok := ledger.LineOf(rec, v.Account)
		if !ok {
			t.Fatalf("vector %d (%s): account not in the transfer", i, v.Comment)
		}
		b, _ := hex.DecodeString(v.Line)
		if got, _ := ledger.PostingLineOf(rec, v.Account); !bytes.Equal(got, b) {
			t.Errorf("vector %d (%s): encodes to %x, want %s", i, v.Comment, got, v.Line)
		}
		got, err := ledger.DecodePostingLine(v.Account, b)
		if err != nil || got != want {
			t.Errorf("vector %d (%s): decodes to %+v, %v; want %+v", i, v.Comment, got, err, want)
		}
	}
}

func TestDecodePostingLineRejects(t *testing.T) {
	rec := func(tr ledger.Transfer) ledger.Record { return ledger.Record{Transfer: tr, Seq: 3, Time: 4} }
	tr := ledger.Transfer{ID: "t", Debit: "a", Credit: "b", Amount: 5, Code: 2, Ref: "r"}
	good := ledger.AppendPostingLine(nil, true, "a", rec(tr))
	if l, err := ledger.DecodePostingLine("b", good); err != nil || l.Seq != 3 || l.Time != 4 || l.Amount != 5 || l.Debit != "a" {
		t.Fatal(l, err)
	}
	for name, c := range map[string]struct {
		account string
		b       []byte
	}{
		"empty":          {"b", nil},
		"version":        {"b", append([]byte{2}, good[1:]...)},
		"side":           {"b", append(append(append([]byte{}, good[:17]...), 2), good[18:]...)},
		"truncated":      {"b", good[:len(good)-1]},
		"trailing":       {"b", append(append([]byte{}, good...), 0)},
		"own account":    {"a", good},
		"seq 0":          {"b", ledger.AppendPostingLine(nil, true, "a", ledger.Record{Transfer: tr})},
		"empty other":    {"b", ledger.AppendPostingLine(nil, true, "", rec(tr))},
		"zero amount":    {"b", ledger.AppendPostingLine(nil, true, "a", rec(ledger.Transfer{ID: "t", Amount: 0}))},
		"negative":       {"b", ledger.AppendPostingLine(nil, true, "a", rec(ledger.Transfer{ID: "t", Amount: -1}))},
		"unknown flags":  {"b", ledger.AppendPostingLine(nil, true, "a", rec(ledger.Transfer{ID: "t", Amount: 1, Flags: 1 << 9}))},
		"bad id":         {"b", ledger.AppendPostingLine(nil, true, "a", rec(ledger.Transfer{ID: "t\n", Amount: 1}))},
		"post no target": {"b", ledger.AppendPostingLine(nil, true, "a", rec(ledger.Transfer{ID: "t", Amount: 1, Flags: ledger.PostPending}))},
		"non-minimal":    {"b", append(append(append([]byte{}, good[:18]...), 0x81, 0x00), good[19:]...)},
	} {
		if _, err := ledger.DecodePostingLine(c.account, c.b); !errors.Is(err, ledger.ErrBadPosting) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPostingOrder(t *testing.T) {
	at := func(tm int64, seq uint64) ledger.Line {
		return ledger.Line{Record: ledger.Record{Seq: seq, Time: tm}}
	}
	for _, c := range []struct {
		prev ledger.Cursor
		line ledger.Line
		q    ledger.PostingQuery
		ok   bool
	}{
		{ledger.Cursor{}, at(5, 1), ledger.PostingQuery{}, true},
		{ledger.Cursor{Time: 5, Seq: 1}, at(5, 2), ledger.PostingQuery{}, true},
		{ledger.Cursor{Time: 5, Seq: 1}, at(6, 1), ledger.PostingQuery{}, true},
		{ledger.Cursor{Time: 5, Seq: 2}, at(5, 2), ledger.PostingQuery{}, false},
		{ledger.Cursor{Time: 5, Seq: 2}, at(5, 1), ledger.PostingQuery{}, false},
		{ledger.Cursor{Time: 6, Seq: 1}, at(5, 9), ledger.PostingQuery{}, false},
		{ledger.Cursor{}, at(5, 1), ledger.PostingQuery{From: 6}, false},
		{ledger.Cursor{}, at(5, 1), ledger.PostingQuery{To: 5}, false},
		{ledger.Cursor{}, at(5, 1), ledger.PostingQuery{From: 5, To: 6}, true},
		{ledger.Cursor{}, at(5, 1), ledger.PostingQuery{After: ledger.Cursor{Time: 5, Seq: 1}}, false},
		{ledger.Cursor{}, at(5, 2), ledger.PostingQuery{After: ledger.Cursor{Time: 5, Seq: 1}}, true},
	} {
		if err := ledger.PostingOrder(c.prev, c.line, c.q); (err == nil) != c.ok || err != nil && !errors.Is(err, ledger.ErrBadPosting) {
			t.Errorf("PostingOrder(%+v, %d/%d, %+v) = %v, want ok %v", c.prev, c.line.Time, c.line.Seq, c.q, err, c.ok)
		}
	}
}

// FuzzDecodePostingLine: an index row is read from a file anyone with
// access to it can edit; a line is accepted only in the form
// AppendPostingLine writes, and never panics.
func FuzzDecodePostingLine(f *testing.F) {
	for _, v := range lineVectors() {
		rec := ledger.Record{Transfer: fromJSON(vEntry{Transfer: &v.Transfer}).Transfer, Seq: v.Seq, Time: v.Time}
		b, _ := ledger.PostingLineOf(rec, v.Account)
		f.Add(v.Account, b)
	}
	f.Fuzz(func(t *testing.T, account string, b []byte) {
		l, err := ledger.DecodePostingLine(account, b)
		if err != nil {
			if !errors.Is(err, ledger.ErrBadPosting) {
				t.Fatalf("error not wrapping ErrBadPosting: %v", err)
			}
			return
		}
		got, ok := ledger.PostingLineOf(l.Record, account)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("accepted a non-canonical encoding: %x re-encodes to %x (%v)", b, got, ok)
		}
		if want, _ := ledger.LineOf(l.Record, account); want != l {
			t.Fatalf("line %+v, LineOf %+v", l, want)
		}
	})
}
