package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	blobs3 "github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/catalog"
	catpostgres "github.com/charter-dev/charter/catalog/postgres"
	"github.com/charter-dev/charter/identity"
	leasepostgres "github.com/charter-dev/charter/lease/postgres"
	"github.com/charter-dev/charter/ledger"
	ledgerpostgres "github.com/charter-dev/charter/ledger/postgres"
	"github.com/charter-dev/charter/server"
)

// Backends are where a server keeps each kind of state, as the operator
// names them (flags, CHARTER_* variables or the config file). An empty
// field is the embedded default in the data folder: catalog.db,
// ledger.db, blobs/ and log/. Nothing below cmd opens a backend itself.
type backends struct {
	Catalog, Ledger, Blobs, Log string
	// ServerKey and LogKey are key files replicas share; empty is
	// keys/server.key and keys/log.key in the data folder, made if
	// missing. A named file must exist: a replica never makes up a key
	// the others would not have.
	ServerKey, LogKey string
}

// flags defines the backend flags on fs, as serve and admin check take
// them.
func (b *backends) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.Catalog, "catalog", "", "catalog: postgres://user@host:5432/db?search_path=schema (default: catalog.db in the data folder)")
	fs.StringVar(&b.Ledger, "ledger", "", "ledger: postgres://user@host:5432/db?search_path=schema (default: ledger.db in the data folder)")
	fs.StringVar(&b.Blobs, "blobs", "", "blob store: s3://bucket/prefix?endpoint=URL, or a folder (default: blobs/ in the data folder)")
	fs.StringVar(&b.Log, "log", "", "transparency log: mysql://user:password@tcp(host:3306)/database, or a folder (default: log/ in the data folder)")
	fs.StringVar(&b.ServerKey, "server-key", "", "the server's key file, which replicas share (default: keys/server.key in the data folder, made if missing)")
	fs.StringVar(&b.LogKey, "log-key", "", "the log's signing key file, which replicas share (default: keys/log.key in the data folder, made if missing)")
}

// shared reports whether b names any store or key outside the data
// folder beyond the catalog.
func (b backends) shared() bool {
	return b.Ledger != "" || b.Blobs != "" || b.Log != "" || b.ServerKey != "" || b.LogKey != ""
}

// replicated reports whether b makes the server one of several replicas:
// its log is shared (MySQL), so others may append to it.
func (b backends) replicated() bool { return strings.HasPrefix(b.Log, auditlog.SchemeMySQL) }

// open opens every backend b names, then the embedded default of every
// other one in cfg.DataDir (server.OpenDefaults), and returns them for
// server.New, with a function that closes what the server does not own
// (the lease store) after it. On failure it closes what it opened.
//
// A shared log (--log mysql://) makes the server a replica: the catalog
// and the ledger must then be shared too (PostgreSQL) and the blobs named,
// background work runs under leases kept in the catalog's schema, and the
// keys must exist (server.Replica).
func (b backends) open(ctx context.Context, cfg server.Config) (d server.Deps, done func(), err error) {
	d.Config = cfg
	var leases *leasepostgres.Store
	done = func() {
		if leases != nil {
			leases.Close()
		}
	}
	defer func() {
		if err != nil {
			closeBackends(d)
			done()
		}
	}()
	if b.replicated() {
		if !isPostgres(b.Catalog) || !isPostgres(b.Ledger) || b.Blobs == "" {
			return d, done, fmt.Errorf("--log %s is shared, so this server is one of several replicas, and replicas share every store\nhint: give --catalog postgres://…, --ledger postgres://… and --blobs s3://… (or a folder all replicas mount) too: docs/operations.md, \"Several replicas\"", redact(b.Log))
		}
	}
	if d.Catalog, err = openCatalog(ctx, b.Catalog); err != nil {
		return d, done, err
	}
	if d.Ledger, err = openLedger(ctx, b.Ledger); err != nil {
		return d, done, err
	}
	if d.Ledger != nil {
		d.LedgerName = "the ledger at " + redact(b.Ledger)
	}
	if d.Blobs, err = openBlobs(ctx, b.Blobs); err != nil {
		return d, done, err
	}
	if b.ServerKey != "" {
		if d.Key, err = identity.Load(b.ServerKey); err != nil {
			return d, done, fmt.Errorf("--server-key: %w", err)
		}
	}
	if b.Log != "" || b.LogKey != "" {
		var signer *auditlog.Signer
		path := b.LogKey
		if path == "" {
			path = filepath.Join(cfg.DataDir, "keys", "log.key")
		}
		if b.LogKey != "" || b.replicated() {
			// A key replicas share is made once (admin keys), never here.
			if signer, err = auditlog.LoadKey(path); err != nil {
				return d, done, fmt.Errorf("log key: %w\nhint: replicas share the log key: make it once with `charter admin keys --out DIR` and give every replica --log-key DIR/log.key", err)
			}
		} else {
			origin := cfg.LogOrigin
			if origin == "" {
				origin = server.DefaultLogOrigin
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return d, done, fmt.Errorf("keys folder: %w", err)
			}
			if signer, err = auditlog.LoadOrCreateKey(path, origin); err != nil {
				return d, done, fmt.Errorf("log key: %w", err)
			}
		}
		loc := b.Log
		if loc == "" {
			loc = filepath.Join(cfg.DataDir, "log")
		}
		if d.Log, err = openLog(ctx, loc, signer, cfg.LogOptions); err != nil {
			return d, done, err
		}
	}
	if b.replicated() {
		if leases, err = leasepostgres.Open(ctx, b.Catalog); err != nil {
			return d, done, fmt.Errorf("leases (in the catalog's database): %w", err)
		}
		rep := &server.Replica{Lease: leases}
		if s3store, ok := d.Blobs.(*blobs3.Store); ok {
			// Incomplete uploads of writers that died, after a day.
			rep.Sweep = func(ctx context.Context) error {
				_, err := s3store.Sweep(ctx, 24*time.Hour)
				return err
			}
		}
		d.Config.Replica = rep
	}
	if err := server.OpenDefaults(ctx, cfg.DataDir, &d); err != nil {
		return d, done, err
	}
	return d, done, nil
}

// closeBackends closes the backends of d that are open.
func closeBackends(d server.Deps) {
	if d.Log != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d.Log.Close(ctx)
		cancel()
	}
	if d.Catalog != nil {
		d.Catalog.Close()
	}
	if d.Ledger != nil {
		d.Ledger.Close()
	}
}

// describe names each backend for the start-up log, passwords hidden.
func (b backends) describe() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"catalog": b.Catalog, "ledger": b.Ledger, "blobs": b.Blobs, "log": b.Log} {
		if v == "" {
			v = "embedded"
		}
		out[k] = redact(v)
	}
	return out
}

// isPostgres reports whether u is a PostgreSQL URL.
func isPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// openCatalog opens the catalog a --catalog URL names: "" is the data
// folder's own SQLite catalog (nil: the server opens it), postgres:// a
// schema of a PostgreSQL database. One catalog belongs to one log: point
// each log at its own schema.
func openCatalog(ctx context.Context, u string) (catalog.Catalog, error) {
	switch {
	case u == "":
		return nil, nil
	case isPostgres(u):
		cat, err := catpostgres.Open(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("--catalog: %w", err)
		}
		return cat, nil
	default:
		return nil, fmt.Errorf("--catalog %q: not a catalog URL\nhint: leave it out for the data folder's SQLite catalog, or give postgres://user@host:5432/database?search_path=schema", redact(u))
	}
}

// DefaultLedgerSchema is the schema a --ledger URL without search_path
// uses; the catalog's default is another (catalog/postgres.DefaultSchema),
// so one URL may name the database of both.
const DefaultLedgerSchema = "charter_ledger"

// openLedger opens the ledger a --ledger URL names: "" is the data
// folder's ledger.db (nil: the server opens it), postgres:// a schema of a
// PostgreSQL database, the first entry of the URL's search_path or
// DefaultLedgerSchema.
func openLedger(ctx context.Context, u string) (ledger.Ledger, error) {
	switch {
	case u == "":
		return nil, nil
	case isPostgres(u):
		schema, err := firstSchema(u)
		if err != nil {
			return nil, fmt.Errorf("--ledger %q: %v\nhint: give postgres://user@host:5432/database?search_path=schema", redact(u), err)
		}
		if schema == "" {
			schema = DefaultLedgerSchema
		}
		l, err := ledgerpostgres.Open(ctx, u, &ledgerpostgres.Options{Schema: schema})
		if err != nil {
			return nil, fmt.Errorf("--ledger: %w", err)
		}
		return l, nil
	default:
		return nil, fmt.Errorf("--ledger %q: not a ledger URL\nhint: leave it out for the data folder's SQLite ledger (ledger.db), or give postgres://user@host:5432/database?search_path=schema", redact(u))
	}
}

// firstSchema is the first entry of a PostgreSQL URL's search_path ("" if
// it has none).
func firstSchema(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("not a URL")
	}
	sp := p.Query().Get("search_path")
	s := strings.Trim(strings.TrimSpace(strings.Split(sp, ",")[0]), `"`)
	return s, nil
}

// openBlobs opens the blob store a --blobs URL names: "" is the data
// folder's blobs/ (nil: the server opens it), file:///dir or a plain path
// a folder on this machine, s3://bucket[/prefix]?endpoint=… a bucket of an
// S3-compatible store (credentials from the standard AWS variables).
func openBlobs(ctx context.Context, u string) (blob.Store, error) {
	switch {
	case u == "":
		return nil, nil
	case strings.HasPrefix(u, "s3://"):
		if p, err := url.Parse(u); err == nil && p.User != nil {
			return nil, fmt.Errorf("--blobs %q: credentials do not belong in the URL\nhint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the server's environment", redact(u))
		}
		s, err := blobs3.OpenURL(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("--blobs: %w", err)
		}
		return s, nil
	case strings.HasPrefix(u, "file://"):
		return openBlobDir(ctx, strings.TrimPrefix(u, "file://"))
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return nil, fmt.Errorf("--blobs %q: no blob store for %s://\nhint: give s3://bucket/prefix?endpoint=URL for an S3-compatible store, or a folder (file:///srv/blobs)", redact(u), scheme)
	default:
		return openBlobDir(ctx, u)
	}
}

func openBlobDir(ctx context.Context, dir string) (blob.Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("--blobs: no folder given\nhint: give file:///absolute/path or a path")
	}
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("--blobs %s: %w", dir, err)
	}
	return s, nil
}

// openLog opens the transparency log a --log location names, signed with
// signer: "" is the data folder's log/ (the server opens it: nil),
// mysql://DSN tessera's MySQL driver, file:///dir or a plain path tessera's
// POSIX driver (auditlog.OpenURL).
func openLog(ctx context.Context, loc string, signer *auditlog.Signer, opts auditlog.Options) (*auditlog.Log, error) {
	if loc == "" {
		return nil, nil
	}
	l, err := auditlog.OpenURL(ctx, loc, signer, opts)
	if err != nil {
		return nil, fmt.Errorf("--log %s: %w", redact(loc), err)
	}
	return l, nil
}

// redact hides the password of a URL or a MySQL DSN (user:password@…),
// for messages and logs.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		if _, has := p.User.Password(); has {
			return p.Redacted()
		}
		return u
	}
	// mysql://user:password@tcp(host)/db is not a URL net/url parses.
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return u
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
