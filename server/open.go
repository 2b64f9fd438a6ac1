package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob/localfs"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/identity"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
)

// The embedded defaults live in one data folder: blobs/ (blob/localfs),
// log/ (POSIX tessera tiles), catalog.db and ledger.db (SQLite), and keys/
// (server.key, the operator's identity; log.key, the log's signing key).
// Open and OpenDefaults are conveniences for cmd/charter, tests and
// embedding programs; New itself opens nothing.

// Open opens (creating if needed) the data folder cfg.DataDir and returns a
// server on its embedded backends; cfg.Catalog, when set, replaces the
// SQLite catalog.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	d := Deps{Catalog: cfg.Catalog, Config: cfg}
	if err := OpenDefaults(ctx, cfg.DataDir, &d); err != nil {
		return nil, err
	}
	return New(ctx, d)
}

// OpenDefaults fills every backend d does not hold, and the key, with the
// embedded default in the data folder dir (created if needed), and sets
// d.Config.DataDir to dir so that hints name its files. On failure it
// closes what it opened and leaves d's own backends open.
func OpenDefaults(ctx context.Context, dir string, d *Deps) (err error) {
	if dir == "" {
		return errors.New("server: no data folder given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: data folder: %w", err)
	}
	var opened Deps
	defer func() {
		if err != nil {
			closeDeps(opened)
		}
	}()
	d.Config.DataDir = dir
	keys := filepath.Join(dir, "keys")
	// A replica never makes keys: a fleet whose replicas made keys of
	// their own would sign with several.
	replica := d.Config.Replica != nil
	hint := ""
	if replica {
		hint = fmt.Sprintf("\nhint: replicas share one server.key and log.key; start one server on a fresh --data once to create them, then copy its keys/ folder to %s on every replica", keys)
	} else if err := os.MkdirAll(keys, 0o700); err != nil {
		return fmt.Errorf("server: keys folder: %w", err)
	}
	mustExist := func(f string) error {
		if _, err := os.Stat(filepath.Join(keys, f)); replica && err != nil {
			return fmt.Errorf("server: replica keys: %w%s", err, hint)
		}
		return nil
	}
	if d.Key == nil {
		if err := mustExist("server.key"); err != nil {
			return err
		}
		if d.Key, _, err = identity.LoadOrGenerate(filepath.Join(keys, "server.key")); err != nil {
			return fmt.Errorf("server: server key: %w%s", err, hint)
		}
	}
	if d.Blobs == nil {
		if d.Blobs, err = localfs.Open(ctx, filepath.Join(dir, "blobs")); err != nil {
			return fmt.Errorf("server: blob store: %w", err)
		}
	}
	if d.Log == nil {
		routeKlog(d.Config.Logger) // before the log's goroutines read klog
		origin := d.Config.LogOrigin
		if origin == "" {
			origin = DefaultLogOrigin
		}
		if err := mustExist("log.key"); err != nil {
			return err
		}
		logKey, err := auditlog.LoadOrCreateKey(filepath.Join(keys, "log.key"), origin)
		if err != nil {
			return fmt.Errorf("server: log key: %w%s", err, hint)
		}
		if opened.Log, err = auditlog.Open(ctx, logDir(dir), logKey, d.Config.LogOptions); err != nil {
			return explainTampered(logDir(dir), fmt.Errorf("server: transparency log: %w", err))
		}
	}
	if d.Catalog == nil {
		if opened.Catalog, err = catsqlite.Open(ctx, filepath.Join(dir, "catalog.db")); err != nil {
			return err
		}
	}
	if d.Ledger == nil {
		path := filepath.Join(dir, "ledger.db")
		if opened.Ledger, err = ledgersqlite.Open(ctx, path, nil); err != nil {
			return fmt.Errorf("server: ledger: %w", err)
		}
		d.LedgerName = path
	}
	if opened.Log != nil {
		d.Log = opened.Log
	}
	if opened.Catalog != nil {
		d.Catalog = opened.Catalog
	}
	if opened.Ledger != nil {
		d.Ledger = opened.Ledger
	}
	return nil
}
