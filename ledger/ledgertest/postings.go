package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
)

// CheckPostings checks the postings index of l against the journal: for
// every account, every kind of Postings equals ledger.ScanPostings over the
// journal, Posted equals ledger.Statement, and Accounts lists exactly the
// accounts Balances knows, with the same balances.
func CheckPostings(t testing.TB, ctx context.Context, l ledger.Ledger) {
	t.Helper()
	bal, err := l.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := l.Accounts(ctx, "")
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if len(all) != len(bal) {
		t.Fatalf("Accounts(\"\") lists %d accounts, Balances %d", len(all), len(bal))
	}
	if !slices.IsSortedFunc(all, func(a, b ledger.AccountBalance) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("Accounts not sorted by id")
	}
	for _, a := range all {
		if b, ok := bal[a.ID]; !ok || b != a.Balance {
			t.Fatalf("Accounts: %s %+v, Balances %+v (%v)", a.ID, a.Balance, b, ok)
		}
		def, err := l.LookupAccount(ctx, a.ID)
		if err != nil || def != a {
			t.Fatalf("Accounts: %+v, LookupAccount %+v %v", a, def, err)
		}
	}
	for _, a := range all {
		for _, kind := range []ledger.PostingKind{ledger.AllPostings, ledger.Posted, ledger.OpenPending} {
			got, err := l.Postings(ctx, a.ID, ledger.PostingQuery{Only: kind})
			if err != nil {
				t.Fatalf("Postings(%s, kind %d): %v", a.ID, kind, err)
			}
			want, err := ledger.ScanPostings(l.Entries(ctx, 1), a.ID, ledger.PostingQuery{Only: kind})
			if err != nil {
				t.Fatal(err)
			}
			if !sameLines(got, want) {
				t.Fatalf("Postings(%s, kind %d):\n got %+v\nwant %+v (from the journal)", a.ID, kind, got, want)
			}
			if kind == ledger.Posted {
				st, err := ledger.Statement(l.Entries(ctx, 1), a.ID, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !sameLines(got, st) {
					t.Fatalf("Posted postings of %s differ from its Statement:\n got %+v\nwant %+v", a.ID, got, st)
				}
			}
		}
	}
}

func sameLines(a, b []ledger.Line) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestPostings checks the per-account reads: prefixes, time windows, pages,
// kinds, and that an account's postings ignore everyone else's.
func TestPostings(t *testing.T, open Factory) {
	ctx := context.Background()
	var tick int64
	clock := func() time.Time { tick++; return time.Unix(1_750_000_000+tick, 0) }
	l := open(t, clock)
	t.Cleanup(func() { l.Close() })
	accts := []ledger.Account{Bank, Revenue, Escrow,
		{ID: "contributor:ann@USD", Kind: ledger.KindContributor, Currency: "USD"},
		{ID: "contributor:ann@EUR", Kind: ledger.KindContributor, Currency: "EUR"},
		{ID: "contributor:anna@USD", Kind: ledger.KindContributor, Currency: "USD"},
		{ID: "contributor:bob@USD", Kind: ledger.KindContributor, Currency: "USD"},
	}
	if err := l.CreateAccounts(ctx, accts...); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, l: l}
	h.ok(ledger.Transfer{ID: "fund", Debit: Bank.ID, Credit: Revenue.ID, Amount: 10_000})
	// Ten batches, one journal time each: ann gets i+1 and bob 100 in each;
	// every other batch holds a pending split for ann, resolved two
	// batches later (posted, then voided, alternately).
	for i := range 10 {
		batch := []ledger.Transfer{
			{ID: fmt.Sprint("ann-", i), Debit: Revenue.ID, Credit: "contributor:ann@USD", Amount: int64(i + 1), Code: 2, Ref: fmt.Sprint("split ", i)},
			{ID: fmt.Sprint("bob-", i), Debit: Revenue.ID, Credit: "contributor:bob@USD", Amount: 100, Code: 2},
		}
		if i%2 == 0 {
			batch = append(batch, ledger.Transfer{ID: fmt.Sprint("held-", i), Debit: Revenue.ID, Credit: "contributor:ann@USD", Amount: 7, Flags: ledger.Pending, Code: 2})
		}
		if i >= 2 && i%2 == 0 {
			flag := ledger.PostPending
			if i%4 == 0 {
				flag = ledger.VoidPending
			}
			batch = append(batch, ledger.Transfer{ID: fmt.Sprint("resolve-", i-2), PendingID: fmt.Sprint("held-", i-2), Flags: flag})
		}
		h.ok(batch...)
	}
	CheckInvariants(t, ctx, l)

	ids := func(as []ledger.AccountBalance) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	for prefix, want := range map[string][]string{
		"contributor:ann@": {"contributor:ann@EUR", "contributor:ann@USD"},
		"contributor:":     {"contributor:ann@EUR", "contributor:ann@USD", "contributor:anna@USD", "contributor:bob@USD"},
		"contributor:zed":  nil,
	} {
		as, err := l.Accounts(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(as); !slices.Equal(got, want) {
			t.Errorf("Accounts(%q) = %v, want %v", prefix, got, want)
		}
	}

	ann := "contributor:ann@USD"
	all, err := l.Postings(ctx, ann, ledger.PostingQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// 10 splits, 5 pending, 4 resolutions (held-0..held-6).
	if len(all) != 19 {
		t.Fatalf("ann has %d postings, want 19: %+v", len(all), all)
	}
	for _, line := range all {
		if line.Credit != ann || line.Amount <= 0 || line.Counterparty != Revenue.ID {
			t.Fatalf("line %+v: ann is credited by the revenue account", line)
		}
	}
	held, err := l.Postings(ctx, ann, ledger.PostingQuery{Only: ledger.OpenPending})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].ID != "held-8" {
		t.Fatalf("open pending of ann: %+v, want held-8 only", held)
	}
	if rev, err := l.Postings(ctx, Revenue.ID, ledger.PostingQuery{Only: ledger.OpenPending}); err != nil || len(rev) != 1 || rev[0].ID != "held-8" || rev[0].Amount != -7 {
		t.Fatalf("open pending of the revenue account: %+v %v", rev, err)
	}
	posted, err := l.Postings(ctx, ann, ledger.PostingQuery{Only: ledger.Posted})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, line := range posted {
		sum += line.Amount
	}
	// 1+…+10 plus two posted holds of 7 (held-0, held-4).
	if b := h.balance(ann); sum != 55+14 || b.CreditsPosted != sum {
		t.Fatalf("posted lines sum to %d, balance %+v; want 69", sum, b)
	}
	// Time window: the batches are one second apart, the fund first.
	t0 := all[0].Time
	win, err := l.Postings(ctx, ann, ledger.PostingQuery{From: t0 + int64(2*time.Second), To: t0 + int64(4*time.Second), Only: ledger.Posted})
	if err != nil {
		t.Fatal(err)
	}
	if len(win) != 3 || win[0].ID != "ann-2" || win[1].ID != "resolve-0" || win[2].ID != "ann-3" {
		t.Fatalf("window [t0+2s, t0+4s): %+v", win)
	}
	// Pages of 4 give the same lines as one read.
	var paged []ledger.Line
	var after ledger.Cursor
	for {
		page, err := l.Postings(ctx, ann, ledger.PostingQuery{After: after, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 4 {
			t.Fatalf("page of %d lines with limit 4", len(page))
		}
		paged = append(paged, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].Cursor()
	}
	if !sameLines(paged, all) {
		t.Fatalf("paged postings differ from one read:\n%+v\n%+v", paged, all)
	}
	if none, err := l.Postings(ctx, "contributor:nobody@USD", ledger.PostingQuery{}); err != nil || len(none) != 0 {
		t.Fatalf("unknown account: %+v %v", none, err)
	}
	if _, err := l.Postings(ctx, ann, ledger.PostingQuery{Only: 99}); err == nil {
		t.Fatal("unknown posting kind accepted")
	}
	// EachPosting yields what Postings returns, and stops at fn's error,
	// which it returns as it is.
	var each []ledger.Line
	if err := l.EachPosting(ctx, ann, ledger.PostingQuery{}, func(line ledger.Line) error { each = append(each, line); return nil }); err != nil || !sameLines(each, all) {
		t.Fatalf("EachPosting: %v\n%+v\n%+v", err, each, all)
	}
	stop := errors.New("enough")
	n := 0
	if err := l.EachPosting(ctx, ann, ledger.PostingQuery{}, func(ledger.Line) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("EachPosting stopped by fn: %v after %d lines", err, n)
	}
	// States reads several state records at once, absent keys left out.
	if sr, ok := l.(ledger.StatesReader); ok {
		if _, err := l.Commit(ctx, ledger.Batch{Then: func([]ledger.Result, func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
			return nil, map[string][]byte{"states-a": []byte("A"), "states-b": []byte("B")}, nil
		}}); err != nil {
			t.Fatal(err)
		}
		got, err := sr.States(ctx, []string{"states-a", "no-such-key", "states-b"})
		if err != nil || len(got) != 2 || string(got["states-a"]) != "A" || string(got["states-b"]) != "B" {
			t.Fatalf("States: %q %v", got, err)
		}
	}
}
