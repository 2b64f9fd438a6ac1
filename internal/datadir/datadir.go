// Package datadir runs the operations on a data folder that need no
// server: rebuilding its catalog from the log, checking the catalog
// against the log and the ledger against its journal, and backing the
// folder up while a server runs on it. The folder holds the log (log/), the blobs (blobs/) and
// the keys (keys/); the catalog is the folder's SQLite catalog.db, or a
// PostgreSQL schema named by a catalog URL (the --catalog of `charter
// serve`). The state machine is package registry's; this package only
// opens the folder's parts and hands them to it.
package datadir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/catalog"
	catpostgres "github.com/charter-dev/charter/catalog/postgres"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/registry"
)

// DefaultLogOrigin names the log in its checkpoints when its key is first
// made (server.DefaultLogOrigin).
const DefaultLogOrigin = "charter.local/log"

// Folder is an opened data folder: its log, its blob store and a registry
// that trusts its server key.
type Folder struct {
	Dir      string
	Log      *auditlog.Log
	Blobs    blob.Store
	Registry *registry.Registry
}

// Options tune Open; the zero value is fine.
type Options struct {
	Logger     *slog.Logger
	LogOrigin  string           // default DefaultLogOrigin
	LogOptions auditlog.Options // batching and checkpoints of the log
}

// Open opens the data folder dir. Nothing is appended to its log.
func Open(ctx context.Context, dir string, o Options) (*Folder, error) {
	if o.LogOrigin == "" {
		o.LogOrigin = DefaultLogOrigin
	}
	blobs, err := localfs.Open(ctx, filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return nil, err
	}
	key, _, err := identity.LoadOrGenerate(filepath.Join(keys, "server.key"))
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	logKey, err := auditlog.LoadOrCreateKey(filepath.Join(keys, "log.key"), o.LogOrigin)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	logDir := filepath.Join(dir, "log")
	tlog, err := auditlog.Open(ctx, logDir, logKey, o.LogOptions)
	if err != nil {
		return nil, auditlog.ExplainTampered(logDir, fmt.Errorf("transparency log: %w", err))
	}
	reg := registry.New(registry.Config{Operator: key.DID(), Logger: o.Logger})
	return &Folder{Dir: dir, Log: tlog, Blobs: blobs, Registry: reg}, nil
}

// Close closes the log.
func (f *Folder) Close() error { return f.Log.Close(context.Background()) }

// Build fills cat, a new catalog, from the folder's log and blobs
// (registry.Rebuild).
func (f *Folder) Build(ctx context.Context, cat registry.Rebuildable) error {
	err := f.Registry.Rebuild(ctx, cat, f.Log, f.Blobs)
	return auditlog.ExplainTampered(filepath.Join(f.Dir, "log"), err)
}

// IsPostgres reports whether a catalog URL names a PostgreSQL catalog.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// checkURL refuses a catalog URL that names no catalog backend.
func checkURL(url string) error {
	if url == "" || IsPostgres(url) {
		return nil
	}
	return fmt.Errorf("--catalog %q: not a catalog URL\nhint: leave it out for the data folder's SQLite catalog, or give postgres://user@host:5432/database?search_path=schema", url)
}

// Rebuild recreates the catalog from the folder's log and blobs and puts
// it in place of the live one, carrying over what the log does not hold
// (catalog/sqlite.Rebuild, catalog/postgres.Rebuild). catalogURL is ""
// for the folder's catalog.db, or a postgres:// URL. No server may run on
// the folder or the catalog.
func (f *Folder) Rebuild(ctx context.Context, catalogURL string) (catalog.RebuildReport, error) {
	if err := checkURL(catalogURL); err != nil {
		return catalog.RebuildReport{}, err
	}
	if IsPostgres(catalogURL) {
		return catpostgres.Rebuild(ctx, catalogURL, func(c *catpostgres.Catalog) error { return f.Build(ctx, c) })
	}
	return catsqlite.Rebuild(ctx, filepath.Join(f.Dir, "catalog.db"), func(c *catsqlite.Catalog) error { return f.Build(ctx, c) })
}

// Check builds a catalog from the folder's log and blobs beside the live
// one (a scratch file, or a scratch schema of the same database, dropped
// afterwards) and compares them (registry.Check).
func (f *Folder) Check(ctx context.Context, catalogURL string) (*registry.CheckReport, error) {
	live, err := OpenCatalog(ctx, f.Dir, catalogURL)
	if err != nil {
		return nil, err
	}
	defer live.Close()
	var built interface {
		registry.Rebuildable
		catalog.Checker
	}
	if IsPostgres(catalogURL) {
		c, drop, err := catpostgres.OpenScratch(ctx, catalogURL)
		if err != nil {
			return nil, err
		}
		defer drop()
		built = c
	} else {
		scratch, err := os.MkdirTemp("", "charter-check-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(scratch)
		c, err := catsqlite.Open(ctx, filepath.Join(scratch, "catalog.db"))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		built = c
	}
	if err := f.Build(ctx, built); err != nil {
		return nil, err
	}
	return registry.Check(ctx, live, built)
}

// OpenCatalog opens the live catalog: the folder's catalog.db, or the
// PostgreSQL catalog catalogURL names.
func OpenCatalog(ctx context.Context, dir, catalogURL string) (catalog.Catalog, error) {
	if err := checkURL(catalogURL); err != nil {
		return nil, err
	}
	if IsPostgres(catalogURL) {
		return catpostgres.Open(ctx, catalogURL)
	}
	return catsqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
}

// Rebuild opens the folder dir, rebuilds its catalog (Folder.Rebuild) and
// closes it.
func Rebuild(ctx context.Context, dir, catalogURL string, o Options) (catalog.RebuildReport, error) {
	f, err := Open(ctx, dir, o)
	if err != nil {
		return catalog.RebuildReport{}, err
	}
	rep, err := f.Rebuild(ctx, catalogURL)
	return rep, errors.Join(err, f.Close())
}

// Check opens the folder dir, checks its catalog (Folder.Check) and
// closes it.
func Check(ctx context.Context, dir, catalogURL string, o Options) (*registry.CheckReport, error) {
	f, err := Open(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	rep, err := f.Check(ctx, catalogURL)
	return rep, errors.Join(err, f.Close())
}
