package ledger_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/ledger"
)

var update = flag.Bool("update", false, "rewrite testdata vectors")

// vector is one journal row of testdata/journal.json: an entry, its
// canonical encoding and its chain hash (over the previous row's hash).
type vector struct {
	Comment   string       `json:"comment"`
	Entry     ledger.Entry `json:"-"`
	JSON      vEntry       `json:"entry"`
	Canonical string       `json:"canonical_hex"`
	Hash      string       `json:"chain_hash_hex"`
}

// vEntry is the language-neutral form of an entry in the vectors; 64-bit
// integers are decimal strings so JSON readers without int64 keep them.
type vEntry struct {
	Kind     string     `json:"kind"` // "account" or "transfer"
	Time     int64      `json:"time_unix_nano,string"`
	Account  *vAccount  `json:"account,omitempty"`
	Transfer *vTransfer `json:"transfer,omitempty"`
}

type vAccount struct {
	ID          string `json:"id"`
	Kind        uint8  `json:"kind"`
	Flags       uint32 `json:"flags"`
	CreditLimit int64  `json:"credit_limit,string"`
	Currency    string `json:"currency"`
}

type vTransfer struct {
	ID        string `json:"id"`
	Debit     string `json:"debit"`
	Credit    string `json:"credit"`
	Amount    int64  `json:"amount,string"`
	Flags     uint32 `json:"flags"`
	PendingID string `json:"pending_id"`
	Reverses  string `json:"reverses"`
	Code      uint16 `json:"code"`
	Ref       string `json:"ref"`
}

func toJSON(e ledger.Entry) vEntry {
	if e.Kind == ledger.EntryAccount {
		a := e.Account
		return vEntry{Kind: "account", Time: e.Time, Account: &vAccount{a.ID, uint8(a.Kind), uint32(a.Flags), a.CreditLimit, a.Currency}}
	}
	t := e.Transfer
	return vEntry{Kind: "transfer", Time: e.Time, Transfer: &vTransfer{t.ID, t.Debit, t.Credit, t.Amount, uint32(t.Flags), t.PendingID, t.Reverses, t.Code, t.Ref}}
}

func fromJSON(v vEntry) ledger.Entry {
	if v.Account != nil {
		a := v.Account
		return ledger.Entry{Kind: ledger.EntryAccount, Time: v.Time, Account: ledger.Account{ID: a.ID, Kind: ledger.AccountKind(a.Kind), Flags: ledger.AccountFlags(a.Flags), CreditLimit: a.CreditLimit, Currency: a.Currency}}
	}
	t := v.Transfer
	return ledger.Entry{Kind: ledger.EntryTransfer, Time: v.Time, Transfer: ledger.Transfer{ID: t.ID, Debit: t.Debit, Credit: t.Credit, Amount: t.Amount, Flags: ledger.TransferFlags(t.Flags), PendingID: t.PendingID, Reverses: t.Reverses, Code: t.Code, Ref: t.Ref}}
}

func vectorEntries() []vector {
	t := int64(1_750_000_000_000_000_000)
	return []vector{
		{Comment: "open an external account that may go negative", Entry: ledger.Entry{Kind: ledger.EntryAccount, Time: t, Account: ledger.Account{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"}}},
		{Comment: "open a licensee account with a credit line of 5000", Entry: ledger.Entry{Kind: ledger.EntryAccount, Time: t, Account: ledger.Account{ID: "licensee:did:key:z6MkExample", Kind: ledger.KindLicensee, CreditLimit: 5000, Currency: "USD"}}},
		{Comment: "open an asset revenue account", Entry: ledger.Entry{Kind: ledger.EntryAccount, Time: t, Account: ledger.Account{ID: "asset:model", Kind: ledger.KindAssetRevenue, Currency: "USD"}}},
		{Comment: "single-phase deposit", Entry: ledger.Entry{Kind: ledger.EntryTransfer, Time: t + 1, Transfer: ledger.Transfer{ID: "deposit-1", Debit: "external:bank", Credit: "licensee:did:key:z6MkExample", Amount: 10000, Ref: "card 4242"}}},
		{Comment: "pending charge, linked to the next row", Entry: ledger.Entry{Kind: ledger.EntryTransfer, Time: t + 2, Transfer: ledger.Transfer{ID: "charge:use-1", Debit: "licensee:did:key:z6MkExample", Credit: "asset:model", Amount: 1001, Flags: ledger.Pending | ledger.Linked, Code: 1}}},
		{Comment: "partial post of the pending charge (resolved: accounts and posted amount filled in)", Entry: ledger.Entry{Kind: ledger.EntryTransfer, Time: t + 2, Transfer: ledger.Transfer{ID: "charge:use-1:post", Debit: "licensee:did:key:z6MkExample", Credit: "asset:model", Amount: 1000, Flags: ledger.PostPending, PendingID: "charge:use-1", Code: 1}}},
		{Comment: "reversal of the deposit", Entry: ledger.Entry{Kind: ledger.EntryTransfer, Time: t + 3, Transfer: ledger.Transfer{ID: "deposit-1:rev", Debit: "licensee:did:key:z6MkExample", Credit: "external:bank", Amount: 10000, Reverses: "deposit-1", Ref: "card 4242"}}},
		{Comment: "largest amount", Entry: ledger.Entry{Kind: ledger.EntryTransfer, Time: t + 4, Transfer: ledger.Transfer{ID: "max", Debit: "external:bank", Credit: "asset:model", Amount: math.MaxInt64, Code: math.MaxUint16}}},
	}
}

func TestJournalVectors(t *testing.T) {
	path := filepath.Join("testdata", "journal.json")
	if *update {
		vs := vectorEntries()
		var prev [32]byte
		for i := range vs {
			c := vs[i].Entry.Canonical()
			prev = ledger.ChainHash(prev, c)
			vs[i].JSON = toJSON(vs[i].Entry)
			vs[i].Canonical, vs[i].Hash = hex.EncodeToString(c), hex.EncodeToString(prev[:])
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
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(vectorEntries()) {
		t.Fatalf("%d vectors, want %d", len(vs), len(vectorEntries()))
	}
	var prev [32]byte
	for i, v := range vs {
		v.Entry = fromJSON(v.JSON)
		if v.Entry != vectorEntries()[i].Entry {
			t.Errorf("vector %d (%s) differs from the test's entry", i, v.Comment)
		}
		c, _ := hex.DecodeString(v.Canonical)
		if got := v.Entry.Canonical(); !bytes.Equal(got, c) {
			t.Errorf("vector %d (%s): encodes to %x, want %s", i, v.Comment, got, v.Canonical)
		}
		e, err := ledger.DecodeEntry(c)
		if err != nil || e != v.Entry {
			t.Errorf("vector %d: decodes to %+v, %v", i, e, err)
		}
		prev = ledger.ChainHash(prev, c)
		if hex.EncodeToString(prev[:]) != v.Hash {
			t.Errorf("vector %d: chain hash %x, want %s", i, prev, v.Hash)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := vectorEntries()[3].Entry.Canonical()
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{2}, good[1:]...),
		"kind":        append([]byte{1, 'X'}, good[2:]...),
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"unresolved":  ledger.Entry{Kind: ledger.EntryTransfer, Transfer: ledger.Transfer{ID: "v", PendingID: "p", Flags: ledger.VoidPending}}.Canonical(),
		"negative":    ledger.Entry{Kind: ledger.EntryTransfer, Transfer: ledger.Transfer{ID: "n", Debit: "a", Credit: "b", Amount: -1}}.Canonical(),
		"bad account": ledger.Entry{Kind: ledger.EntryAccount, Account: ledger.Account{ID: "a b", Kind: 1, Currency: "USD"}}.Canonical(),
		"non-minimal": func() []byte {
			e := ledger.Entry{Kind: ledger.EntryAccount, Account: ledger.Account{ID: "a", Kind: 1, Currency: "USD"}}.Canonical()
			// replace the 1-byte length of "a" (offset 10) with a 2-byte form
			return append(append(append([]byte{}, e[:10]...), 0x81, 0x00), e[11:]...)
		}(),
	} {
		if _, err := ledger.DecodeEntry(b); !errors.Is(err, ledger.ErrBadEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, v := range vectorEntries() {
		f.Add(v.Entry.Canonical())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ledger.DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrBadEntry) {
				t.Fatalf("error not wrapping ErrBadEntry: %v", err)
			}
			return
		}
		if !bytes.Equal(e.Canonical(), b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

func TestVerifyRowsDetectsEdits(t *testing.T) {
	var rows []ledger.JournalRow
	var prev [32]byte
	for i, v := range vectorEntries() {
		prev = ledger.ChainHash(prev, v.Entry.Canonical())
		rows = append(rows, ledger.JournalRow{Seq: uint64(i + 1), Entry: v.Entry, Hash: prev})
	}
	seq := func(rs []ledger.JournalRow) func(func(ledger.JournalRow, error) bool) {
		return func(yield func(ledger.JournalRow, error) bool) {
			for _, r := range rs {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	root, err := ledger.VerifyRows(seq(rows))
	if err != nil || root.Size != uint64(len(rows)) || root.Hash != prev {
		t.Fatalf("clean chain: %v %+v", err, root)
	}
	edited := append([]ledger.JournalRow{}, rows...)
	edited[3].Entry.Transfer.Amount++
	if _, err := ledger.VerifyRows(seq(edited)); !errors.Is(err, ledger.ErrChainBroken) {
		t.Fatalf("edited amount: %v", err)
	}
	dropped := append(append([]ledger.JournalRow{}, rows[:2]...), rows[3:]...)
	if _, err := ledger.VerifyRows(seq(dropped)); !errors.Is(err, ledger.ErrChainBroken) {
		t.Fatalf("dropped row: %v", err)
	}
	// The last vector's MaxInt64 would overflow asset:model on replay.
	if _, _, err := ledger.Replay(seq(rows)); !errors.Is(err, ledger.ErrOverflow) {
		t.Fatalf("replay past int64: %v", err)
	}
	bal, _, err := ledger.Replay(seq(rows[:len(rows)-1]))
	if err != nil {
		t.Fatal(err)
	}
	// deposit then reversed; 1000 of the 1001 pending posted, the rest released.
	if b := bal["asset:model"]; b.CreditsPosted != 1000 || b.CreditsPending != 0 {
		t.Fatalf("asset replays to %+v", b)
	}
	if b := bal["licensee:did:key:z6MkExample"]; b.DebitsPending != 0 || b.DebitsPosted != 11000 || b.CreditsPosted != 10000 {
		t.Fatalf("licensee replays to %+v", b)
	}
}
