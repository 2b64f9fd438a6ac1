package datadir

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/settlement"
)

// CheckLedger verifies the ledger of the data folder dir (its ledger.db)
// against its journal and the settlement roots in the log
// (settlement.CheckLedger). It reads the roots from cat, or from the
// folder's catalog.db when cat is nil, so check the catalog against the
// log first. The server must not be running. A ledger elsewhere (a
// PostgreSQL URL) is checked by settlement.CheckLedger directly.
func CheckLedger(ctx context.Context, dir string, cat catalog.UsageReader) (*api.LedgerCheck, error) {
	if cat == nil {
		c, err := catsqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cat = c
	}
	path := filepath.Join(dir, "ledger.db")
	l, err := ledgersqlite.Open(ctx, path, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer l.Close()
	return settlement.CheckLedger(ctx, cat, l, path, dir)
}
