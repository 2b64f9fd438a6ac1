package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/ledger/ledgertest"
	"github.com/charter-dev/charter/ledger/sqlite"
)

func open(t testing.TB, now func() time.Time) ledger.Ledger {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), &sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSuite(t *testing.T) { ledgertest.Test(t, open) }
