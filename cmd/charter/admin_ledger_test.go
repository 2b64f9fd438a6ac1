package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charter-dev/charter/ledger"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/server"
)

// TestAdminCheckLedger: `charter admin check` verifies the ledger against
// its journal; a balance raised in ledger.db by hand is reported with the
// file, the account and what to do (before, admin check said all was well).
func TestAdminCheckLedger(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	s, err := server.Open(ctx, server.Config{DataDir: data, ScrubInterval: -1, SettleInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	l, err := ledgersqlite.Open(ctx, filepath.Join(data, "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = l.CreateAccounts(ctx,
		ledger.Account{ID: "external:bank@USD", Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: "USD"},
		ledger.Account{ID: "contributor:x@USD", Kind: ledger.KindContributor, Currency: "USD"})
	if err == nil {
		_, err = l.CreateTransfers(ctx, []ledger.Transfer{{ID: "t1", Debit: "external:bank@USD", Credit: "contributor:x@USD", Amount: 100}})
	}
	if err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runCLI(ctx, "admin", "check", "--data", data); code != 0 || !strings.Contains(out, "ledger: 3 journal entries verified") {
		t.Fatalf("clean folder: exit %d\n%s\n%s", code, out, stderr)
	}
	if err := l.ForgeCredit(ctx, "contributor:x@USD", 1000000); err != nil {
		t.Fatal(err)
	}
	l.Close()
	code, out, stderr := runCLI(ctx, "admin", "check", "--data", data)
	for _, want := range []string{filepath.Join(data, "ledger.db"), "contributor:x@USD", "hint:", "restore"} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("tampered ledger: exit %d, stderr lacks %q\n%s\n%s", code, want, out, stderr)
		}
	}
}
