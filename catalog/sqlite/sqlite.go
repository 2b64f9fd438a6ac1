// Package sqlite is the embedded catalog backend: one SQLite file in WAL
// mode through the pure-Go modernc.org/sqlite driver.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// extraSchema and extraDumpQueries are added by the files of this package
// that keep further tables.
var extraSchema, extraDumpQueries []string

// Catalog is a catalog stored in one SQLite database.
type Catalog struct {
	db         *sql.DB
	extraDumps []string
	// writeMu serialises write transactions.
	writeMu sync.Mutex
	// pending updates wait for the committing caller (group commit).
	pendMu     sync.Mutex
	pending    []*update
	committing bool
	// group commits writes that are not log entries (group.go).
	group writeGroup
	// applier is the connection of UpdateSeq's transactions (commitBatch).
	applier *sql.Conn
	// rdb holds the read-only connections of queryRow and query.
	rdb *sql.DB
	// stmts and rstmts hold prepared statements on db and rdb by query
	// text.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	rstmts map[string]*sql.Stmt
	// ckpt checkpoints the WAL in the background (checkpoint.go).
	ckpt     checkpointer
	ckptOnce sync.Once
}

const schema = `
CREATE TABLE IF NOT EXISTS objects (
	id      TEXT PRIMARY KEY,
	size    INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS corruptions (
	id      TEXT PRIMARY KEY,
	off     INTEGER NOT NULL,
	len     INTEGER NOT NULL,
	detail  TEXT NOT NULL,
	found   INTEGER NOT NULL
);
`

// migrations upgrade a catalog file made by an older Charter: migration i
// (from 0) runs once, in a transaction with setting PRAGMA user_version to
// i+1, on a file whose user_version is i or less. The schema above (CREATE
// ... IF NOT EXISTS) runs first on every open; a migration adds what an
// existing file needs besides: indexes, derived tables and their backfill.
// Append only.
var migrations []string

// migrationFills holds, by migration number (from 1), a step in Go that
// runs after the migration's SQL in its transaction (a backfill SQL
// cannot compute).
var migrationFills = map[int]func(context.Context, *sql.Tx) error{}

// migrate runs the migrations the file has not run.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if fill := migrationFills[i+1]; fill != nil {
			if err := fill(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Open opens (creating if needed) the catalog database at path.
//
// The database runs in WAL mode with synchronous=NORMAL: a commit survives
// a crash of the process but may be lost with the last moments before a
// power failure. That is safe here because the catalog is derived state:
// on start the server replays every log entry the catalog has not applied.
// Only quota counters are not in the log; see docs/design/catalog.md.
//
// Temporary storage is in memory: every log entry applies in a savepoint,
// and a savepoint's journal in a temporary file cost a write system call
// per page an entry changed (a sixth of a registration's CPU in the
// ordered applier). WAL checkpoints run in the background (checkpoint.go).
func Open(ctx context.Context, path string) (*Catalog, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(" + strconv.Itoa(autoCheckpointPages) + ")&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	// Readers run concurrently (WAL); keep their connections open. With
	// database/sql's default of 2 idle connections, a burst of readers
	// opened (and prepared statements on) new SQLite connections over and
	// over: a tenth of the CPU of 1,024 concurrent registrations.
	db.SetMaxIdleConns(64)
	if _, err := db.ExecContext(ctx, schema+registrySchema+strings.Join(extraSchema, "")); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: create schema in %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: upgrade %s: %w", path, err)
	}
	// The ordered applier's transactions keep one connection with a
	// larger page cache: SQLite drops a connection's cache when another
	// connection wrote since its last transaction, so on whichever pooled
	// connection came next every commit read the index pages its random
	// keys touch again.
	applier, err := db.Conn(ctx)
	if err == nil {
		_, err = applier.ExecContext(ctx, `PRAGMA cache_size = -32768`) // KiB
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	// The hot single-statement reads (queryRow, query) go to a few
	// read-only connections that stay open: SQLite's work is CPU in this
	// process, so more connections than cores only queue inside SQLite,
	// and 1,024 concurrent requests would otherwise open hundreds (a
	// seventh of a registration's CPU went to opening connections and
	// preparing statements on them).
	// (A memory map, mmap_size, cost more CPU per page of a list than it
	// saved at 1,000,000 assets: 3.0 against 2.0 ms for an owner's page.)
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		applier.Close()
		db.Close()
		return nil, fmt.Errorf("catalog: open %s: %w", path, err)
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	c := &Catalog{db: db, applier: applier, rdb: rdb, extraDumps: slices.Clone(extraDumpQueries)}
	c.startCheckpointer()
	return c, nil
}

// DB exposes the database handle for packages that keep their own tables
// in the same file.
func (c *Catalog) DB() *sql.DB { return c.db }

// Close closes the database.
func (c *Catalog) Close() error {
	c.stopCheckpointer()
	c.stmtMu.Lock()
	for _, s := range c.stmts {
		s.Close()
	}
	for _, s := range c.rstmts {
		s.Close()
	}
	c.stmtMu.Unlock()
	return errors.Join(c.rdb.Close(), c.applier.Close(), c.db.Close())
}

// PutObject records a stored object. Recording the same id again keeps the
// first record, except that a blob later declared a dataset becomes one.
func (c *Catalog) PutObject(ctx context.Context, o catalog.Object) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.db.ExecContext(ctx, putObjectSQL, o.ID.String(), o.Size, string(o.Kind), o.Created.UnixNano())
	if err != nil {
		return fmt.Errorf("catalog: put object %s: %w", o.ID, err)
	}
	return nil
}

const putObjectSQL = `INSERT INTO objects(id, size, kind, created) VALUES(?,?,?,?)
	ON CONFLICT(id) DO UPDATE SET kind = CASE WHEN excluded.kind = 'dataset' THEN 'dataset' ELSE objects.kind END`

// PutObjects records many stored objects in one transaction.
func (c *Catalog) PutObjects(ctx context.Context, os []catalog.Object) error {
	if len(os) == 0 {
		return nil
	}
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, putObjectSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range os {
			if _, err := st.ExecContext(ctx, o.ID.String(), o.Size, string(o.Kind), o.Created.UnixNano()); err != nil {
				return fmt.Errorf("%s: %w", o.ID, err)
			}
		}
		return nil
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
	err := c.queryRow(ctx, `SELECT size, kind, created FROM objects WHERE id = ?`, id.String()).Scan(&o.Size, &kind, &created)
	if errors.Is(err, sql.ErrNoRows) {
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
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.db.ExecContext(ctx, `INSERT INTO corruptions(id, off, len, detail, found) VALUES(?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET off=excluded.off, len=excluded.len, detail=excluded.detail, found=excluded.found`,
		k.ID.String(), k.Offset, k.Length, k.Detail, k.Found.UnixNano())
	if err != nil {
		return fmt.Errorf("catalog: mark %s corrupt: %w", k.ID, err)
	}
	return nil
}

// ClearCorrupt forgets a corruption record, after the blob was repaired.
func (c *Catalog) ClearCorrupt(ctx context.Context, id content.ID) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.db.ExecContext(ctx, `DELETE FROM corruptions WHERE id = ?`, id.String())
	return err
}

// Corruption returns the corruption record of id, if any. It is on the
// path of every read, so it looks up one row.
func (c *Catalog) Corruption(ctx context.Context, id content.ID) (catalog.Corruption, bool, error) {
	k := catalog.Corruption{ID: id}
	var found int64
	err := c.queryRow(ctx, `SELECT off, len, detail, found FROM corruptions WHERE id = ?`, id.String()).Scan(&k.Offset, &k.Length, &k.Detail, &found)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := c.db.QueryContext(ctx, `SELECT id, off, len, detail, found FROM corruptions ORDER BY id`)
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

// The catalog implements every role of package catalog.
var (
	_ catalog.Catalog = (*Catalog)(nil)
	_ catalog.Tx      = (*Tx)(nil)
)
