// Package ledgertest is the test suite every ledger backend runs: scenario
// tests of each rule and rapid property tests against a plain in-memory
// reference Model.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"pgregory.net/rapid"
)

// Factory opens an empty ledger whose journal times come from now. The
// suite closes it.
type Factory func(t testing.TB, now func() time.Time) ledger.Ledger

// Clock is the fixed clock the suite passes to factories.
var Clock = func() time.Time { return time.Unix(1_750_000_000, 0) }

// sentinels lists every error a transfer can fail with; results are
// compared by which of these they match.
var sentinels = []error{
	ledger.ErrInvalid, ledger.ErrAmount, ledger.ErrOverflow, ledger.ErrIDConflict,
	ledger.ErrAccountNotFound, ledger.ErrTransferNotFound, ledger.ErrCurrencyMismatch,
	ledger.ErrExceedsLimit, ledger.ErrPendingNotFound, ledger.ErrNotPending,
	ledger.ErrAlreadyResolved, ledger.ErrExceedsPending, ledger.ErrReversal,
	ledger.ErrAlreadyReversed, ledger.ErrLinkedEventFailed, ledger.ErrLinkedChainOpen,
}

// Class returns the sentinel err matches, or nil.
func Class(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return fmt.Errorf("unclassified: %w", err)
}

// Test runs the whole suite.
func Test(t *testing.T, open Factory) {
	t.Run("Scenarios", func(t *testing.T) { TestScenarios(t, open) })
	t.Run("Properties", func(t *testing.T) { TestProperties(t, open) })
	t.Run("Postings", func(t *testing.T) { TestPostings(t, open) })
}

// Accounts used by the scenarios.
var (
	Bank     = ledger.Account{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"}
	Alice    = ledger.Account{ID: "licensee:alice", Kind: ledger.KindLicensee, Currency: "USD"}
	Bob      = ledger.Account{ID: "licensee:bob", Kind: ledger.KindLicensee, CreditLimit: 50, Currency: "USD"}
	Revenue  = ledger.Account{ID: "asset:m:revenue", Kind: ledger.KindAssetRevenue, Currency: "USD"}
	Carol    = ledger.Account{ID: "contributor:carol", Kind: ledger.KindContributor, Currency: "USD"}
	Escrow   = ledger.Account{ID: "escrow:m", Kind: ledger.KindEscrow, Currency: "USD"}
	EuroBank = ledger.Account{ID: "external:eur", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "EUR"}
)

type harness struct {
	t   testing.TB
	ctx context.Context
	l   ledger.Ledger
}

func (h *harness) post(ts ...ledger.Transfer) []ledger.Result {
	h.t.Helper()
	res, err := h.l.CreateTransfers(h.ctx, ts)
	if err != nil {
		h.t.Fatalf("CreateTransfers: %v", err)
	}
	if len(res) != len(ts) {
		h.t.Fatalf("%d results for %d transfers", len(res), len(ts))
	}
	return res
}

func (h *harness) ok(ts ...ledger.Transfer) []ledger.Result {
	h.t.Helper()
	res := h.post(ts...)
	for i, r := range res {
		if r.Err != nil {
			h.t.Fatalf("transfer %d (%s): %v", i, ts[i].ID, r.Err)
		}
	}
	return res
}

func (h *harness) fails(want error, ts ...ledger.Transfer) {
	h.t.Helper()
	res := h.post(ts...)
	last := res[len(res)-1]
	if !errors.Is(last.Err, want) {
		h.t.Fatalf("transfer %s: got %v, want %v", ts[len(ts)-1].ID, last.Err, want)
	}
}

func (h *harness) net(id string) int64 {
	h.t.Helper()
	a, err := h.l.LookupAccount(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.Net()
}

func (h *harness) balance(id string) ledger.Balance {
	h.t.Helper()
	a, err := h.l.LookupAccount(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.Balance
}

// CheckInvariants checks conservation, limits, replay and the chain of l.
func CheckInvariants(t testing.TB, ctx context.Context, l ledger.Ledger) ledger.Root {
	t.Helper()
	bal, err := l.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var net, dpend, cpend int64
	for id, b := range bal {
		if b.DebitsPosted < 0 || b.CreditsPosted < 0 || b.DebitsPending < 0 || b.CreditsPending < 0 {
			t.Fatalf("account %s has a negative total: %+v", id, b)
		}
		net += b.Net()
		dpend += b.DebitsPending
		cpend += b.CreditsPending
		a, err := l.LookupAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Flags&ledger.AllowNegative == 0 {
			if over := b.DebitsPosted + b.DebitsPending - b.CreditsPosted; over > a.CreditLimit {
				t.Fatalf("account %s overdrawn by %d past its limit %d", id, over, a.CreditLimit)
			}
		}
	}
	if net != 0 || dpend != cpend {
		t.Fatalf("money not conserved: net sum %d, pending debits %d vs credits %d", net, dpend, cpend)
	}
	replayed, err := l.Replay(ctx)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if len(replayed) != len(bal) {
		t.Fatalf("replay has %d accounts, store %d", len(replayed), len(bal))
	}
	for id, b := range bal {
		if replayed[id] != b {
			t.Fatalf("account %s: replay %+v, stored %+v", id, replayed[id], b)
		}
	}
	root, err := l.VerifyChain(ctx)
	if err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	head, err := l.JournalRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != root {
		t.Fatalf("JournalRoot %x/%d, verified chain ends at %x/%d", head.Hash, head.Size, root.Hash, root.Size)
	}
	seen := map[string]bool{}
	for r, err := range l.Entries(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Entry.Kind != ledger.EntryTransfer {
			continue
		}
		if seen[r.Entry.Transfer.ID] {
			t.Fatalf("transfer %s journaled twice", r.Entry.Transfer.ID)
		}
		seen[r.Entry.Transfer.ID] = true
	}
	CheckPostings(t, ctx, l)
	return root
}

// TestScenarios checks each rule with a hand-written case.
func TestScenarios(t *testing.T, open Factory) {
	ctx := context.Background()
	setup := func(t *testing.T) *harness {
		l := open(t, Clock)
		t.Cleanup(func() { l.Close() })
		if err := l.CreateAccounts(ctx, Bank, Alice, Bob, Revenue, Carol, Escrow, EuroBank); err != nil {
			t.Fatal(err)
		}
		return &harness{t: t, ctx: ctx, l: l}
	}
	fund := ledger.Transfer{ID: "fund-1", Debit: Bank.ID, Credit: Alice.ID, Amount: 1000}

	t.Run("AccountsIdempotent", func(t *testing.T) {
		h := setup(t)
		if err := h.l.CreateAccounts(ctx, Alice, Bob); err != nil {
			t.Fatalf("same definition again: %v", err)
		}
		changed := Alice
		changed.CreditLimit = 10
		if err := h.l.CreateAccounts(ctx, changed); !errors.Is(err, ledger.ErrIDConflict) {
			t.Fatalf("changed definition: %v", err)
		}
		if err := h.l.CreateAccounts(ctx, ledger.Account{ID: "x y", Kind: ledger.KindEscrow, Currency: "USD"}); !errors.Is(err, ledger.ErrInvalid) {
			t.Fatalf("bad id: %v", err)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		h := setup(t)
		first := h.ok(fund)[0]
		again := h.ok(fund)[0]
		if !again.Existed || again.Seq != first.Seq || again.Time != first.Time {
			t.Fatalf("resend: %+v, first %+v", again, first)
		}
		if n := h.net(Alice.ID); n != 1000 {
			t.Fatalf("alice has %d after a resend, want 1000", n)
		}
		changed := fund
		changed.Amount = 999
		h.fails(ledger.ErrIDConflict, changed)
		changed = fund
		changed.Ref = "other"
		h.fails(ledger.ErrIDConflict, changed)
		// Duplicate inside one batch.
		res := h.ok(ledger.Transfer{ID: "d", Debit: Bank.ID, Credit: Alice.ID, Amount: 1}, ledger.Transfer{ID: "d", Debit: Bank.ID, Credit: Alice.ID, Amount: 1})
		if res[0].Existed || !res[1].Existed {
			t.Fatalf("duplicate in batch: %+v", res)
		}
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("BadInput", func(t *testing.T) {
		h := setup(t)
		h.fails(ledger.ErrAmount, ledger.Transfer{ID: "neg", Debit: Bank.ID, Credit: Alice.ID, Amount: -5})
		h.fails(ledger.ErrAmount, ledger.Transfer{ID: "zero", Debit: Bank.ID, Credit: Alice.ID})
		h.fails(ledger.ErrInvalid, ledger.Transfer{ID: "", Debit: Bank.ID, Credit: Alice.ID, Amount: 1})
		h.fails(ledger.ErrInvalid, ledger.Transfer{ID: "self", Debit: Alice.ID, Credit: Alice.ID, Amount: 1})
		h.fails(ledger.ErrInvalid, ledger.Transfer{ID: "flags", Debit: Bank.ID, Credit: Alice.ID, Amount: 1, Flags: ledger.Pending | ledger.PostPending})
		h.fails(ledger.ErrAccountNotFound, ledger.Transfer{ID: "ghost", Debit: Bank.ID, Credit: "nobody", Amount: 1})
		h.fails(ledger.ErrCurrencyMismatch, ledger.Transfer{ID: "fx", Debit: EuroBank.ID, Credit: Alice.ID, Amount: 1})
		h.ok(ledger.Transfer{ID: "big", Debit: Bank.ID, Credit: Alice.ID, Amount: math.MaxInt64})
		h.fails(ledger.ErrOverflow, ledger.Transfer{ID: "over", Debit: Bank.ID, Credit: Alice.ID, Amount: 1})
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("Limits", func(t *testing.T) {
		h := setup(t)
		h.fails(ledger.ErrExceedsLimit, ledger.Transfer{ID: "a1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 1})
		h.ok(ledger.Transfer{ID: "b1", Debit: Bob.ID, Credit: Revenue.ID, Amount: 50})
		h.fails(ledger.ErrExceedsLimit, ledger.Transfer{ID: "b2", Debit: Bob.ID, Credit: Revenue.ID, Amount: 1})
		if n := h.net(Bob.ID); n != -50 {
			t.Fatalf("bob at %d, want -50 (his credit line)", n)
		}
		h.ok(fund)
		h.ok(ledger.Transfer{ID: "a2", Debit: Alice.ID, Credit: Revenue.ID, Amount: 1000})
		h.fails(ledger.ErrExceedsLimit, ledger.Transfer{ID: "a3", Debit: Alice.ID, Credit: Revenue.ID, Amount: 1})
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("Linked", func(t *testing.T) {
		h := setup(t)
		h.ok(fund)
		res := h.post(
			ledger.Transfer{ID: "l1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 600, Flags: ledger.Linked},
			ledger.Transfer{ID: "l2", Debit: Revenue.ID, Credit: Carol.ID, Amount: 600, Flags: ledger.Linked},
			ledger.Transfer{ID: "l3", Debit: Alice.ID, Credit: Revenue.ID, Amount: 600}, // only 400 left
			ledger.Transfer{ID: "after", Debit: Bank.ID, Credit: Carol.ID, Amount: 1},
		)
		if !errors.Is(res[0].Err, ledger.ErrLinkedEventFailed) || !errors.Is(res[1].Err, ledger.ErrLinkedEventFailed) ||
			!errors.Is(res[2].Err, ledger.ErrExceedsLimit) || res[3].Err != nil {
			t.Fatalf("results: %v / %v / %v / %v", res[0].Err, res[1].Err, res[2].Err, res[3].Err)
		}
		if n := h.net(Alice.ID); n != 1000 {
			t.Fatalf("alice at %d after a failed chain", n)
		}
		if _, err := h.l.LookupTransfer(ctx, "l1"); !errors.Is(err, ledger.ErrTransferNotFound) {
			t.Fatalf("l1 of a failed chain is stored: %v", err)
		}
		if n := h.net(Carol.ID); n != 1 {
			t.Fatalf("carol at %d, want 1", n)
		}
		// The ids of a failed chain stay free.
		h.ok(ledger.Transfer{ID: "l1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 600, Flags: ledger.Linked},
			ledger.Transfer{ID: "l2", Debit: Revenue.ID, Credit: Carol.ID, Amount: 600})
		h.fails(ledger.ErrLinkedChainOpen, ledger.Transfer{ID: "open", Debit: Bank.ID, Credit: Carol.ID, Amount: 1, Flags: ledger.Linked})
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("TwoPhase", func(t *testing.T) {
		h := setup(t)
		h.ok(fund)
		h.ok(ledger.Transfer{ID: "p1", Debit: Alice.ID, Credit: Escrow.ID, Amount: 700, Flags: ledger.Pending})
		if b := h.balance(Alice.ID); b.DebitsPending != 700 || b.DebitsPosted != 0 {
			t.Fatalf("alice after pending: %+v", b)
		}
		// Reserved funds are not available.
		h.fails(ledger.ErrExceedsLimit, ledger.Transfer{ID: "x", Debit: Alice.ID, Credit: Revenue.ID, Amount: 301})
		res := h.ok(ledger.Transfer{ID: "p1-post", PendingID: "p1", Flags: ledger.PostPending, Amount: 500})
		if r := res[0]; r.Debit != Alice.ID || r.Credit != Escrow.ID || r.Amount != 500 {
			t.Fatalf("post record not resolved: %+v", r)
		}
		if b := h.balance(Alice.ID); b.DebitsPending != 0 || b.DebitsPosted != 500 {
			t.Fatalf("alice after partial post: %+v", b)
		}
		h.fails(ledger.ErrAlreadyResolved, ledger.Transfer{ID: "p1-void", PendingID: "p1", Flags: ledger.VoidPending})
		h.ok(ledger.Transfer{ID: "p2", Debit: Alice.ID, Credit: Escrow.ID, Amount: 200, Flags: ledger.Pending})
		h.fails(ledger.ErrExceedsPending, ledger.Transfer{ID: "p2-post", PendingID: "p2", Flags: ledger.PostPending, Amount: 201})
		h.fails(ledger.ErrExceedsPending, ledger.Transfer{ID: "p2-post", PendingID: "p2", Flags: ledger.PostPending, Credit: Carol.ID})
		h.ok(ledger.Transfer{ID: "p2-void", PendingID: "p2", Flags: ledger.VoidPending})
		h.ok(ledger.Transfer{ID: "p2-void", PendingID: "p2", Flags: ledger.VoidPending}) // resend is a no-op
		h.fails(ledger.ErrPendingNotFound, ledger.Transfer{ID: "p3-post", PendingID: "nope", Flags: ledger.PostPending})
		h.fails(ledger.ErrNotPending, ledger.Transfer{ID: "p4-post", PendingID: "fund-1", Flags: ledger.PostPending})
		if n := h.net(Alice.ID); n != 500 {
			t.Fatalf("alice at %d, want 500", n)
		}
		// Pending and post in one batch, linked.
		h.ok(ledger.Transfer{ID: "p5", Debit: Alice.ID, Credit: Escrow.ID, Amount: 10, Flags: ledger.Pending | ledger.Linked},
			ledger.Transfer{ID: "p5-post", PendingID: "p5", Flags: ledger.PostPending})
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("Commit", func(t *testing.T) {
		h := setup(t)
		h.ok(fund)
		root, _ := h.l.JournalRoot(ctx)
		// A failing follow-up rolls back the whole batch, first part included.
		_, err := h.l.Commit(ctx, ledger.Batch{
			Transfers: []ledger.Transfer{{ID: "c1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 100}},
			Then: func(rs []ledger.Result, _ func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
				return []ledger.Transfer{{ID: "c2", Debit: Revenue.ID, Credit: Carol.ID, Amount: 101}}, map[string][]byte{"k": []byte("v")}, nil
			},
		})
		if !errors.Is(err, ledger.ErrBatchRejected) || !errors.Is(err, ledger.ErrExceedsLimit) {
			t.Fatalf("failing follow-up: %v", err)
		}
		if r, _ := h.l.JournalRoot(ctx); r != root {
			t.Fatal("rejected batch changed the journal")
		}
		if v, _ := h.l.State(ctx, "k"); v != nil {
			t.Fatal("rejected batch wrote state")
		}
		// An error from Then rolls back too.
		boom := errors.New("boom")
		if _, err := h.l.Commit(ctx, ledger.Batch{
			Transfers: []ledger.Transfer{{ID: "c1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 100}},
			Then: func([]ledger.Result, func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
				return nil, nil, boom
			},
		}); !errors.Is(err, boom) {
			t.Fatalf("Then error: %v", err)
		}
		if r, _ := h.l.JournalRoot(ctx); r != root {
			t.Fatal("failed Then changed the journal")
		}
		// Success: follow-ups see the first results and the stored state.
		for round := range 2 {
			res, err := h.l.Commit(ctx, ledger.Batch{
				Transfers: []ledger.Transfer{{ID: "c1", Debit: Alice.ID, Credit: Revenue.ID, Amount: 100}},
				Then: func(rs []ledger.Result, state func(string) ([]byte, error)) ([]ledger.Transfer, map[string][]byte, error) {
					v, err := state("k")
					if err != nil {
						return nil, nil, err
					}
					if rs[0].Existed {
						if string(v) != "v1" {
							return nil, nil, fmt.Errorf("state read %q", v)
						}
						return nil, nil, nil
					}
					return []ledger.Transfer{{ID: "c2", Debit: Revenue.ID, Credit: Carol.ID, Amount: 100}}, map[string][]byte{"k": []byte("v1")}, nil
				},
			})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if want := 2 - round; len(res) != want {
				t.Fatalf("round %d: %d results, want %d", round, len(res), want)
			}
		}
		if n := h.net(Carol.ID); n != 100 {
			t.Fatalf("carol at %d", n)
		}
		CheckInvariants(t, ctx, h.l)
	})
	t.Run("Reversal", func(t *testing.T) {
		h := setup(t)
		h.ok(fund)
		h.ok(ledger.Transfer{ID: "charge", Debit: Alice.ID, Credit: Revenue.ID, Amount: 300, Code: 7})
		orig, err := h.l.LookupTransfer(ctx, "charge")
		if err != nil {
			t.Fatal(err)
		}
		bad := ledger.Reversal("rev", orig.Transfer)
		bad.Amount = 299
		h.fails(ledger.ErrReversal, bad)
		h.ok(ledger.Reversal("rev", orig.Transfer))
		h.fails(ledger.ErrAlreadyReversed, ledger.Reversal("rev2", orig.Transfer))
		h.fails(ledger.ErrTransferNotFound, ledger.Reversal("rev3", ledger.Transfer{ID: "ghost", Debit: Alice.ID, Credit: Revenue.ID, Amount: 1}))
		h.ok(ledger.Transfer{ID: "p", Debit: Alice.ID, Credit: Escrow.ID, Amount: 5, Flags: ledger.Pending})
		h.fails(ledger.ErrReversal, ledger.Transfer{ID: "rev-p", Debit: Escrow.ID, Credit: Alice.ID, Amount: 5, Reverses: "p"})
		if n := h.net(Alice.ID); n != 1000 {
			t.Fatalf("alice at %d after reversal, want 1000", n)
		}
		CheckInvariants(t, ctx, h.l)
	})
}

// TestProperties runs random batches against the ledger and the Model and
// checks they agree on every result and balance, and that the invariants
// hold after every batch.
func TestProperties(t *testing.T, open Factory) {
	ctx := context.Background()
	accounts := []ledger.Account{
		{ID: "ext", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		{ID: "lic-a", Kind: ledger.KindLicensee, Currency: "USD"},
		{ID: "lic-b", Kind: ledger.KindLicensee, CreditLimit: 100, Currency: "USD"},
		{ID: "rev", Kind: ledger.KindAssetRevenue, Currency: "USD"},
		{ID: "con", Kind: ledger.KindContributor, Currency: "USD"},
		{ID: "eur", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "EUR"},
	}
	accountIDs := []string{"ext", "lic-a", "lic-b", "rev", "con", "eur", "missing"}
	rapid.Check(t, func(rt *rapid.T) {
		l := open(t, Clock)
		defer l.Close()
		m := NewModel()
		now := Clock().UnixNano()
		if err := l.CreateAccounts(ctx, accounts...); err != nil {
			rt.Fatal(err)
		}
		if err := m.CreateAccounts(now, accounts...); err != nil {
			rt.Fatal(err)
		}
		ids := rapid.SampledFrom([]string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"})
		acct := rapid.SampledFrom(accountIDs)
		amount := rapid.OneOf(
			rapid.Int64Range(1, 300),
			rapid.Int64Range(-2, 2),
			rapid.Int64Range(math.MaxInt64-3, math.MaxInt64),
		)
		gen := rapid.Custom(func(rt *rapid.T) ledger.Transfer {
			tr := ledger.Transfer{ID: ids.Draw(rt, "id"), Code: uint16(rapid.IntRange(0, 1).Draw(rt, "code"))}
			switch rapid.IntRange(0, 5).Draw(rt, "mode") {
			case 0, 1:
				tr.Debit, tr.Credit, tr.Amount = acct.Draw(rt, "debit"), acct.Draw(rt, "credit"), amount.Draw(rt, "amount")
			case 2:
				tr.Debit, tr.Credit, tr.Amount = acct.Draw(rt, "debit"), acct.Draw(rt, "credit"), amount.Draw(rt, "amount")
				tr.Flags = ledger.Pending
			case 3:
				tr.Flags, tr.PendingID = ledger.PostPending, ids.Draw(rt, "pending")
				if rapid.Bool().Draw(rt, "partial") {
					tr.Amount = rapid.Int64Range(0, 300).Draw(rt, "post")
				}
			case 4:
				tr.Flags, tr.PendingID = ledger.VoidPending, ids.Draw(rt, "pending")
			case 5:
				tr.Debit, tr.Credit, tr.Amount = acct.Draw(rt, "debit"), acct.Draw(rt, "credit"), amount.Draw(rt, "amount")
				tr.Reverses = ids.Draw(rt, "reverses")
			}
			if rapid.IntRange(0, 3).Draw(rt, "link") == 0 {
				tr.Flags |= ledger.Linked
			}
			return tr
		})
		batches := rapid.IntRange(1, 12).Draw(rt, "batches")
		for b := range batches {
			batch := rapid.SliceOfN(gen, 1, 6).Draw(rt, fmt.Sprintf("batch%d", b))
			res, err := l.CreateTransfers(ctx, batch)
			if err != nil {
				rt.Fatal(err)
			}
			want := m.CreateTransfers(now, batch)
			for i := range batch {
				if got := Class(res[i].Err); got != want[i] {
					rt.Fatalf("batch %d transfer %d %+v: ledger says %v (%v), model says %v", b, i, batch[i], got, res[i].Err, want[i])
				}
				if res[i].Err == nil {
					if mr := m.Transfers[batch[i].ID]; mr != res[i].Record {
						rt.Fatalf("transfer %s: ledger record %+v, model %+v", batch[i].ID, res[i].Record, mr)
					}
				}
			}
			bal, err := l.Balances(ctx)
			if err != nil {
				rt.Fatal(err)
			}
			for id, mb := range m.Bal {
				if bal[id] != mb {
					rt.Fatalf("after batch %d, %s: ledger %+v, model %+v", b, id, bal[id], mb)
				}
			}
			root := CheckInvariants(t, ctx, l)
			if root != m.Root {
				rt.Fatalf("journal root %x/%d, model %x/%d", root.Hash, root.Size, m.Root.Hash, m.Root.Size)
			}
		}
	})
}
