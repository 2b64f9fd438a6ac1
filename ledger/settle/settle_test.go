package settle_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/settle"
	"github.com/charter-dev/charter/ledger/split"
	"github.com/charter-dev/charter/ledger/sqlite"
)

var ctx = context.Background()

// readme is the newcomer scenario: a dataset with two contributors, a model
// trained on it that passes 20% upstream, a consumer using the model.
func readme() split.Loader {
	nodes := map[string]split.Node{
		"dataset": {Asset: "dataset", Contributors: []split.Contributor{{Account: "contributor:ann", Share: 600000}, {Account: "contributor:bea", Share: 400000}}},
		"model":   {Asset: "model", Contributors: []split.Contributor{{Account: "contributor:max", Share: 1000000}}, Parents: []split.Parent{{Asset: "dataset", Share: 200000}}},
	}
	return func(a string) (split.Node, error) {
		n, ok := nodes[a]
		if !ok {
			return n, fmt.Errorf("no asset %s", a)
		}
		return n, nil
	}
}

func openLedger(t testing.TB, path string) *sqlite.Ledger {
	t.Helper()
	l, err := sqlite.Open(ctx, path, &sqlite.Options{Now: ledgertest.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	usd := func(id string, k ledger.AccountKind) ledger.Account {
		return ledger.Account{ID: id, Kind: k, Currency: "USD"}
	}
	err = l.CreateAccounts(ctx,
		ledger.Account{ID: "external:bank", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		usd("licensee:carl", ledger.KindLicensee),
		ledger.Account{ID: "licensee:dora", Kind: ledger.KindLicensee, CreditLimit: 1 << 40, Currency: "USD"},
		usd("asset:model", ledger.KindAssetRevenue), usd("asset:dataset", ledger.KindAssetRevenue),
		usd("contributor:ann", ledger.KindContributor), usd("contributor:bea", ledger.KindContributor),
		usd("contributor:max", ledger.KindContributor),
	)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func nets(t testing.TB, l ledger.Reader) map[string]int64 {
	t.Helper()
	b, err := l.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for id, x := range b {
		m[id] = x.Net()
	}
	return m
}

func TestReadmeSettlement(t *testing.T) {
	l := openLedger(t, filepath.Join(t.TempDir(), "l.db"))
	if _, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: "deposit", Debit: "external:bank", Credit: "licensee:carl", Amount: 10_000}}); err != nil {
		t.Fatal(err)
	}
	s := &settle.Settler{Ledger: l, Lineage: readme()}
	charges := []settle.Charge{
		{ID: "use-1", Licensee: "licensee:carl", Asset: "model", Amount: 1001},
		{ID: "use-2", Licensee: "licensee:carl", Asset: "model", Amount: 9000}, // more than carl has left
	}
	rep, err := s.Settle(ctx, charges)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Charged != 1 || len(rep.Failed) != 1 || !errors.Is(rep.Failed[0].Err, ledger.ErrExceedsLimit) || rep.Gross != 1001 {
		t.Fatalf("report %+v", rep)
	}
	if head, _ := l.JournalRoot(ctx); rep.Root != head || head.Size == 0 {
		t.Fatalf("report root %+v, journal %+v", rep.Root, head)
	}
	got := nets(t, l)
	want := map[string]int64{"contributor:max": 801, "contributor:ann": 120, "contributor:bea": 80, "licensee:carl": 10_000 - 1001}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s has %d, want %d", id, got[id], w)
		}
	}
	if got["asset:model"] != 0 {
		t.Errorf("model revenue account keeps %d after the split", got["asset:model"])
	}
	// Re-running is a no-op.
	root, _ := l.JournalRoot(ctx)
	rep, err = s.Settle(ctx, charges[:1])
	if err != nil || rep.Existed != 1 || rep.Charged != 0 || rep.Postings != 0 {
		t.Fatalf("re-run: %+v, %v", rep, err)
	}
	if again, _ := l.JournalRoot(ctx); again != root {
		t.Fatal("re-run changed the journal")
	}
	// Provenance: ann's statement names the path and the uses.
	lines, err := ledger.Statement(l.Entries(ctx, 1), "contributor:ann", 0, 0)
	if err != nil || len(lines) != 1 || lines[0].Amount != 120 || lines[0].Counterparty != "asset:model" {
		t.Fatalf("ann's statement: %+v, %v", lines, err)
	}
	tag, path, ok := settle.ParseProvenance(lines[0].Ref)
	if !ok || strings.Join(path, ">") != "model>dataset" {
		t.Fatalf("ann's split ref %q", lines[0].Ref)
	}
	uses, err := l.State(ctx, settle.BatchKey(tag))
	if err != nil || string(uses) != "use-1" {
		t.Fatalf("batch %s lists %q, %v", tag, uses, err)
	}
	ledgertest.CheckInvariants(t, ctx, l)
}

func TestBadCharges(t *testing.T) {
	l := openLedger(t, filepath.Join(t.TempDir(), "l.db"))
	s := &settle.Settler{Ledger: l, Lineage: readme()}
	rep, err := s.Settle(ctx, []settle.Charge{
		{ID: "u1", Licensee: "licensee:dora", Asset: "model", Amount: 10},
		{ID: "u1", Licensee: "licensee:dora", Asset: "model", Amount: 10}, // duplicate event: counted once
		{ID: "u1", Licensee: "licensee:dora", Asset: "model", Amount: 11}, // same id, other content
		{ID: "u2", Licensee: "licensee:dora", Asset: "model", Amount: -5},
		{ID: "u3", Licensee: "external:bank", Asset: "model", Amount: 1 << 62},
		{ID: "u4", Licensee: "external:bank", Asset: "model", Amount: 1 << 62}, // model's credits would pass int64
		{ID: "u5", Licensee: "licensee:carl", Asset: "model", Amount: 1},       // carl has no funds
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{ledger.ErrIDConflict, ledger.ErrAmount, ledger.ErrOverflow, ledger.ErrExceedsLimit}
	if rep.Charged != 2 || rep.Existed != 1 || len(rep.Failed) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for i, f := range rep.Failed {
		if !errors.Is(f.Err, want[i]) {
			t.Errorf("failure %d (%s): %v, want %v", i, f.Charge.ID, f.Err, want[i])
		}
	}
	if got := nets(t, l); got["licensee:dora"] != -10 || got["external:bank"] != -(1<<62) || got["asset:model"] != 0 {
		t.Errorf("balances %v", got)
	}
	ledgertest.CheckInvariants(t, ctx, l)
}

// While an asset is held (a dispute), its splits are pending; resolution
// posts or voids them.
func TestHeld(t *testing.T) {
	l := openLedger(t, filepath.Join(t.TempDir(), "l.db"))
	disputed := true
	s := &settle.Settler{Ledger: l, Lineage: readme(), Held: func(a string) bool { return a == "model" && disputed }}
	if _, err := s.Settle(ctx, []settle.Charge{{ID: "u1", Licensee: "licensee:dora", Asset: "model", Amount: 1001}}); err != nil {
		t.Fatal(err)
	}
	if got := nets(t, l); got["contributor:max"] != 0 || got["asset:model"] != 1001 {
		t.Fatalf("held revenue paid out: %v", got)
	}
	held, err := settle.Held(ctx, l, "asset:model")
	if err != nil || len(held) != 3 {
		t.Fatalf("held: %d, %v", len(held), err)
	}
	if scan, err := settle.HeldSplits(l.Entries(ctx, 1), "asset:model"); err != nil || !reflect.DeepEqual(scan, held) {
		t.Fatalf("held from the postings %+v, from the journal %+v (%v)", held, scan, err)
	}
	// Resolution: release max's and ann's splits, void bea's.
	var res []ledger.Transfer
	for _, h := range held {
		mode := ledger.PostPending
		if h.Credit == "contributor:bea" {
			mode = ledger.VoidPending
		}
		res = append(res, ledger.Transfer{ID: h.ID + ":resolve", PendingID: h.ID, Flags: mode})
	}
	if r, err := l.CreateTransfers(ctx, res); err != nil || r[0].Err != nil || r[1].Err != nil || r[2].Err != nil {
		t.Fatalf("resolve: %v %+v", err, r)
	}
	if got := nets(t, l); got["contributor:max"] != 801 || got["contributor:ann"] != 120 || got["contributor:bea"] != 0 || got["asset:model"] != 80 {
		t.Fatalf("after resolution: %v", got)
	}
	if held, err := settle.Held(ctx, l, "asset:model"); err != nil || len(held) != 0 {
		t.Fatalf("%d still held (%v)", len(held), err)
	}
	if held, _ := settle.HeldSplits(l.Entries(ctx, 1), "asset:model"); len(held) != 0 {
		t.Fatalf("%d still held in the journal", len(held))
	}
	ledgertest.CheckInvariants(t, ctx, l)
}

func FuzzParseProvenance(f *testing.F) {
	f.Add(settle.Provenance("ab12", []string{"model", "dataset"}))
	f.Add("split x via ")
	f.Fuzz(func(t *testing.T, ref string) {
		tag, path, ok := settle.ParseProvenance(ref)
		if ok && settle.Provenance(tag, path) != ref {
			t.Fatalf("%q parses to %q %q, which writes back differently", ref, tag, path)
		}
	})
}

// Many small settlements pay exactly what one big one pays.
func TestCarryNoDrift(t *testing.T) {
	dir := t.TempDir()
	one := openLedger(t, filepath.Join(dir, "one.db"))
	many := openLedger(t, filepath.Join(dir, "many.db"))
	var cs []settle.Charge
	for i := range 300 {
		cs = append(cs, settle.Charge{ID: fmt.Sprint("u", i), Licensee: "licensee:dora", Asset: "model", Amount: int64(1 + i%7)})
	}
	if _, err := (&settle.Settler{Ledger: one, Lineage: readme(), ChunkSize: 1000}).Settle(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if _, err := (&settle.Settler{Ledger: many, Lineage: readme(), ChunkSize: 1}).Settle(ctx, cs); err != nil {
		t.Fatal(err)
	}
	a, b := nets(t, one), nets(t, many)
	for id := range a {
		if a[id] != b[id] {
			t.Errorf("%s: %d settled at once, %d one use at a time", id, a[id], b[id])
		}
	}
	ledgertest.CheckInvariants(t, ctx, many)
}

// TestBadLineageIsolated: a charge whose lineage cannot be split fails on
// its own, reported with ErrLineage and left out of the journal; the other
// charges of the same chunk (and of later chunks) settle.
func TestBadLineageIsolated(t *testing.T) {
	l := openLedger(t, filepath.Join(t.TempDir(), "l.db"))
	good := readme()
	s := &settle.Settler{Ledger: l, ChunkSize: 2, Lineage: func(a string) (split.Node, error) {
		if a == "other" {
			// shares under 100%: cannot be split
			return split.Node{Asset: a, Contributors: []split.Contributor{{Account: "contributor:ann", Share: 900000}}}, nil
		}
		return good(a)
	}}
	rep, err := s.Settle(ctx, []settle.Charge{
		{ID: "u1", Licensee: "licensee:dora", Asset: "other", Amount: 5},
		{ID: "u2", Licensee: "licensee:dora", Asset: "model", Amount: 7},
		{ID: "u3", Licensee: "licensee:dora", Asset: "model", Amount: 3},
	})
	if err != nil {
		t.Fatalf("one bad lineage stopped the settlement: %v", err)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Charge.ID != "u1" || !errors.Is(rep.Failed[0].Err, settle.ErrLineage) || !errors.Is(rep.Failed[0].Err, split.ErrShares) {
		t.Fatalf("failed = %+v, want u1 with ErrLineage", rep.Failed)
	}
	if rep.Charged != 2 || rep.Gross != 10 {
		t.Fatalf("charged %d (gross %d), want the two model uses (10)", rep.Charged, rep.Gross)
	}
	if _, err := l.LookupTransfer(ctx, "charge:u1"); !errors.Is(err, ledger.ErrTransferNotFound) {
		t.Fatalf("the refused charge is in the journal: %v", err)
	}
	n := nets(t, l)
	if n["contributor:max"]+n["contributor:ann"]+n["contributor:bea"] != 10 || n["licensee:dora"] != -10 {
		t.Fatalf("balances %v", n)
	}
	ledgertest.CheckInvariants(t, ctx, l)
}

// crashCharges is the workload of the crash test.
func crashCharges(n int) []settle.Charge {
	cs := make([]settle.Charge, n)
	for i := range cs {
		asset := "model"
		if i%3 == 0 {
			asset = "dataset"
		}
		cs[i] = settle.Charge{ID: fmt.Sprintf("use-%06d", i), Licensee: "licensee:dora", Asset: asset, Amount: int64(1 + i%97)}
	}
	return cs
}

const crashN, crashChunk = 40_000, 200

// TestCrashChild is the child half of TestCrash: it settles the workload
// into the database named by LEDGER_CRASH_DB, printing a line per chunk.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("LEDGER_CRASH_DB")
	if path == "" {
		t.Skip("run by TestCrash")
	}
	l := openLedger(t, path)
	s := &settle.Settler{Ledger: l, Lineage: readme(), ChunkSize: crashChunk}
	cs := crashCharges(crashN)
	for i := 0; i < len(cs); i += crashChunk {
		if _, err := s.Settle(ctx, cs[i:i+crashChunk]); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("chunk %d\n", i/crashChunk)
	}
}

// TestCrash kills a settling process with SIGKILL mid-way, then checks that
// the database is consistent (conservation, chain, replay), and that
// re-running the settlement finishes it with exactly the result of an
// uninterrupted run.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "LEDGER_CRASH_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killAt := 5 + rand.IntN(20)
	chunks := 0
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "chunk "); ok {
			chunks, _ = strconv.Atoi(n)
			if chunks >= killAt {
				break
			}
		}
	}
	// Land the kill at a random point of the next chunk's transaction.
	time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if chunks < killAt {
		t.Fatalf("child ended after %d chunks without being killed", chunks)
	}
	t.Logf("killed after chunk %d", chunks)

	l := openLedger(t, path)
	root := ledgertest.CheckInvariants(t, ctx, l)
	if root.Size == 0 {
		t.Fatal("nothing survived the crash")
	}
	s := &settle.Settler{Ledger: l, Lineage: readme(), ChunkSize: crashChunk}
	rep, err := s.Settle(ctx, crashCharges(crashN))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Existed == 0 || rep.Charged == 0 || rep.Existed+rep.Charged != crashN || len(rep.Failed) != 0 {
		t.Fatalf("re-run report: %+v", rep)
	}
	if rep.Existed%crashChunk != 0 {
		t.Fatalf("%d charges survived: not whole chunks", rep.Existed)
	}
	ledgertest.CheckInvariants(t, ctx, l)

	ref := openLedger(t, filepath.Join(dir, "ref.db"))
	if _, err := (&settle.Settler{Ledger: ref, Lineage: readme(), ChunkSize: crashChunk}).Settle(ctx, crashCharges(crashN)); err != nil {
		t.Fatal(err)
	}
	got, want := nets(t, l), nets(t, ref)
	for id := range want {
		if got[id] != want[id] {
			t.Errorf("%s: %d after crash and re-run, %d uninterrupted", id, got[id], want[id])
		}
	}
	r1, _ := l.JournalRoot(ctx)
	r2, _ := ref.JournalRoot(ctx)
	if r1 != r2 {
		t.Errorf("journal roots differ: %x/%d vs %x/%d", r1.Hash, r1.Size, r2.Hash, r2.Size)
	}
}
