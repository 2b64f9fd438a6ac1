// Package postgres is the catalog backend on PostgreSQL, through pgx and
// a connection pool (pgxpool), for deployments that outgrow the embedded
// SQLite file.
//
// It keeps the tables of catalog/sqlite, with the same methods and the
// same answers: the same errors (catalog.ErrNotFound, ErrApplied,
// ErrNoEffect), the same orderings (text keys sort byte-wise, COLLATE "C"),
// times as Unix nanoseconds, and a Dump whose lines equal SQLite's for the
// same state. Log entries are applied as in SQLite: a run of entries in
// one transaction, each in its own savepoint, with the applied set kept as
// a watermark plus the applied indexes above it.
//
// Where SQLite relies on its single writer, this backend takes row locks
// or transaction-scoped advisory locks, so that several processes may share
// one database: the applier takes one lock per catalog schema, quota
// reservations one per quota key, upload and grant-request counters one
// per key.
//
// The tables live in one schema: "charter_catalog", or the first schema of
// the URL's search_path parameter. The schema is created, and migrated, on
// Open (docs/design/catalog.md, "PostgreSQL").
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema holds the catalog's tables when the URL names none.
const DefaultSchema = "charter_catalog"

// defaultMaxConns is the pool size when the URL does not set
// pool_max_conns: pgxpool's default (4 on a small machine) leaves
// concurrent readers queueing behind the applier.
const defaultMaxConns = 16

// Catalog is a catalog stored in one PostgreSQL schema. It is safe for
// concurrent use, also by several processes sharing the database.
type Catalog struct {
	pool *pgxpool.Pool
	// ops writes operational state (nonces, counters, metering) with
	// synchronous_commit off: see "Durability" in docs/design/catalog.md.
	ops    *pgxpool.Pool
	schema string
	// applyLock is the advisory lock key serialising log appliers of this
	// schema, across processes.
	applyLock int64

	// pending updates wait for the committing caller (group commit).
	pendMu     sync.Mutex
	pending    []*update
	committing bool
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the PostgreSQL database at url (postgres://… or a
// key=value string) and creates or migrates the catalog's tables. The
// schema is the first one of the URL's search_path parameter, or
// DefaultSchema; pool_max_conns and the other pgxpool parameters apply.
func Open(ctx context.Context, url string) (*Catalog, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("catalog: PostgreSQL URL: %w\nhint: use postgres://user@host:5432/database", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration. The schema is the
// first one of cfg's search_path run-time parameter, or DefaultSchema
// (then set as the search_path).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Catalog, error) {
	rp := cfg.ConnConfig.RuntimeParams
	schema := schemaOf(cfg)
	if strings.Trim(strings.TrimSpace(strings.Split(rp["search_path"], ",")[0]), `"`) == "" {
		rp["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	// The catalog's queries are short index walks (a page reads about 100
	// rows). Starting a parallel worker costs milliseconds, and the
	// planner, misjudging a join's selectivity, chose one for a page of
	// an owner's assets: 295 ms where the plain nested loop takes 4 ms.
	if _, set := rp["max_parallel_workers_per_gather"]; !set {
		rp["max_parallel_workers_per_gather"] = "0"
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("catalog: PostgreSQL at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("catalog: connecting to PostgreSQL at %s: %w\nhint: is the server running, and does the database exist?", where, err)
	}
	c := &Catalog{pool: pool, schema: schema, applyLock: lockKey("apply", schema)}
	if err := c.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("catalog: preparing schema %s at %s: %w", schema, where, err)
	}
	ocfg := cfg.Copy()
	ocfg.MaxConns = max(2, cfg.MaxConns/2)
	if _, set := rp["synchronous_commit"]; !set {
		ocfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	if c.ops, err = pgxpool.NewWithConfig(ctx, ocfg); err != nil {
		pool.Close()
		return nil, fmt.Errorf("catalog: PostgreSQL at %s: %w", where, err)
	}
	return c, nil
}

// lockKey names an advisory lock of this package: what it guards and the
// schema (and key) it guards it in.
func lockKey(parts ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte("charter-catalog"))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return int64(h.Sum64())
}

// migrate applies the embedded migrations the schema lacks, in order, in
// one transaction under an advisory lock, so processes opening the same
// database at once migrate it once. Every migration is recorded in
// schema_migrations; a database migrated by a newer Charter is refused.
func (c *Catalog) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("migrate", c.schema)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{c.schema}.Sanitize()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied BIGINT NOT NULL
	)`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	last := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: no version number", base)
		}
		if v <= last {
			return fmt.Errorf("migration %s: version %d is not above the one before it", base, v)
		}
		last = v
		if v <= have {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations(version, name, applied) VALUES($1, $2, $3)`, v, base, time.Now().UnixNano()); err != nil {
			return err
		}
	}
	if have > last {
		return fmt.Errorf("the catalog is at schema version %d, this Charter knows up to %d\nhint: run the newer Charter, or rebuild the catalog into another schema", have, last)
	}
	return tx.Commit(ctx)
}

// Schema returns the PostgreSQL schema holding the catalog's tables.
func (c *Catalog) Schema() string { return c.schema }

// Close closes the connection pool.
func (c *Catalog) Close() error {
	c.ops.Close()
	c.pool.Close()
	return nil
}

// PutObject records a stored object. Recording the same id again keeps the
// first record, except that a blob later declared a dataset becomes one.
func (c *Catalog) PutObject(ctx context.Context, o catalog.Object) error {
	_, err := c.pool.Exec(ctx, putObjectSQL, o.ID.String(), o.Size, string(o.Kind), o.Created.UnixNano())
	if err != nil {
		return fmt.Errorf("catalog: put object %s: %w", o.ID, err)
	}
	return nil
}

const putObjectSQL = `INSERT INTO objects(id, size, kind, created) VALUES($1,$2,$3,$4)
	ON CONFLICT(id) DO UPDATE SET kind = CASE WHEN excluded.kind = 'dataset' THEN 'dataset' ELSE objects.kind END`

// PutObjects records many stored objects in one transaction, sent in one
// round trip.
func (c *Catalog) PutObjects(ctx context.Context, os []catalog.Object) error {
	if len(os) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, o := range os {
			b.Queue(putObjectSQL, o.ID.String(), o.Size, string(o.Kind), o.Created.UnixNano())
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("catalog: put objects: %w", err)
	}
	return nil
}

// Object returns the record of id, or an error wrapping catalog.ErrNotFound.
func (c *Catalog) Object(ctx context.Context, id content.ID) (catalog.Object, error) {
	var o catalog.Object
	var kind string
	var created int64
	err := c.pool.QueryRow(ctx, `SELECT size, kind, created FROM objects WHERE id = $1`, id.String()).Scan(&o.Size, &kind, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("object %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("catalog: object %s: %w", id, err)
	}
	o.ID, o.Kind, o.Created = id, catalog.Kind(kind), time.Unix(0, created).UTC()
	return o, nil
}

// MarkCorrupt records that a blob failed verification.
func (c *Catalog) MarkCorrupt(ctx context.Context, k catalog.Corruption) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO corruptions(id, off, len, detail, found) VALUES($1,$2,$3,$4,$5)
		ON CONFLICT(id) DO UPDATE SET off = excluded.off, len = excluded.len, detail = excluded.detail, found = excluded.found`,
		k.ID.String(), k.Offset, k.Length, k.Detail, k.Found.UnixNano())
	if err != nil {
		return fmt.Errorf("catalog: mark %s corrupt: %w", k.ID, err)
	}
	return nil
}

// ClearCorrupt forgets a corruption record, after the blob was repaired.
func (c *Catalog) ClearCorrupt(ctx context.Context, id content.ID) error {
	_, err := c.pool.Exec(ctx, `DELETE FROM corruptions WHERE id = $1`, id.String())
	return err
}

// Corruption returns the corruption record of id, if any. It is on the
// path of every read, so it looks up one row.
func (c *Catalog) Corruption(ctx context.Context, id content.ID) (catalog.Corruption, bool, error) {
	k := catalog.Corruption{ID: id}
	var found int64
	err := c.pool.QueryRow(ctx, `SELECT off, len, detail, found FROM corruptions WHERE id = $1`, id.String()).Scan(&k.Offset, &k.Length, &k.Detail, &found)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, false, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("catalog: corruption of %s: %w", id, err)
	}
	k.Found = time.Unix(0, found).UTC()
	return k, true, nil
}

// Corruptions lists every blob known to be corrupt.
func (c *Catalog) Corruptions(ctx context.Context) ([]catalog.Corruption, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, off, len, detail, found FROM corruptions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: corruptions: %w", err)
	}
	defer rows.Close()
	var out []catalog.Corruption
	for rows.Next() {
		var k catalog.Corruption
		var id string
		var found int64
		if err := rows.Scan(&id, &k.Offset, &k.Length, &k.Detail, &found); err != nil {
			return nil, err
		}
		if k.ID, err = content.ParseID(id); err != nil {
			return nil, fmt.Errorf("catalog: corrupt row %q: %w", id, err)
		}
		k.Found = time.Unix(0, found).UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

var (
	_ catalog.Catalog = (*Catalog)(nil)
	_ catalog.Tx      = (*Tx)(nil)
)
