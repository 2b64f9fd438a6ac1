package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/registry"
	"github.com/charter-dev/charter/settlement"
)

// folder opens the log, the blobs and the server key b names (what b
// leaves out is taken from the data folder data, and must exist there: a
// named key or store is never made up here) as a datadir.Folder for
// `admin rebuild` and `admin check`; done closes the log.
func (b backends) folder(ctx context.Context, data string, logger *slog.Logger) (f *datadir.Folder, done func(), err error) {
	keyPath := b.ServerKey
	if keyPath == "" {
		keyPath = filepath.Join(data, "keys", "server.key")
	}
	key, err := identity.Load(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("server key: %w", err)
	}
	logKeyPath := b.LogKey
	if logKeyPath == "" {
		logKeyPath = filepath.Join(data, "keys", "log.key")
	}
	signer, err := auditlog.LoadKey(logKeyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("log key: %w", err)
	}
	loc := b.Log
	if loc == "" {
		loc = filepath.Join(data, "log")
	}
	tlog, err := openLog(ctx, loc, signer, auditlog.Options{})
	if err != nil {
		return nil, nil, err
	}
	done = func() { tlog.Close(context.WithoutCancel(ctx)) }
	blobs, err := openBlobs(ctx, b.Blobs)
	if err == nil && blobs == nil {
		if blobs, err = localfs.Open(ctx, filepath.Join(data, "blobs")); err != nil {
			err = fmt.Errorf("blob store: %w", err)
		}
	}
	if err != nil {
		done()
		return nil, nil, err
	}
	f = &datadir.Folder{Dir: data, Log: tlog, Blobs: blobs,
		Registry: registry.New(registry.Config{Operator: key.DID(), Logger: logger})}
	return f, done, nil
}

// rebuild is `admin rebuild` on the stores b names: the catalog b names
// (or the data folder's) rebuilt from the log and blobs b names
// (datadir.Folder.Rebuild). The ledger is not rebuilt: it is a source of
// truth of its own, which `admin check` verifies against the log.
func (b backends) rebuild(ctx context.Context, data string, logger *slog.Logger) (catalog.RebuildReport, error) {
	f, done, err := b.folder(ctx, data, logger)
	if err != nil {
		return catalog.RebuildReport{}, err
	}
	defer done()
	return f.Rebuild(ctx, b.Catalog)
}

// check is `admin check` on the stores b names (what a data folder does
// not hold is taken from data): the catalog against one rebuilt from the
// log and the blobs (registry.Check, in a scratch catalog beside the live
// one), and the ledger against its journal and the settlement roots in
// the catalog. Nothing is appended or changed; run it with the replicas
// stopped or idle, since an entry appended meanwhile shows as a
// difference. lerr is the ledger's verdict, err a failure to check.
func (b backends) check(ctx context.Context, data string, logger *slog.Logger) (rep *registry.CheckReport, lc *api.LedgerCheck, lerr, err error) {
	f, done, err := b.folder(ctx, data, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	defer done()
	if rep, err = f.Check(ctx, b.Catalog); err != nil {
		return nil, nil, nil, err
	}
	live, err := datadir.OpenCatalog(ctx, data, b.Catalog)
	if err != nil {
		return nil, nil, nil, err
	}
	defer live.Close()
	if b.Ledger == "" {
		lc, lerr = datadir.CheckLedger(ctx, data, live)
		return rep, lc, lerr, nil
	}
	l, err := openLedger(ctx, b.Ledger)
	if err != nil {
		return nil, nil, nil, err
	}
	defer l.Close()
	lc, lerr = settlement.CheckLedger(ctx, live, l, redact(b.Ledger), "")
	return rep, lc, lerr, nil
}
