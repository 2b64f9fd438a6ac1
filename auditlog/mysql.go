package auditlog

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera/storage/mysql"
	"golang.org/x/mod/sumdb/note"
)

// mysqlSchema is tessera's MySQL schema (storage/mysql/schema.sql of
// tessera v1.0.4, verbatim). Every statement is idempotent.
//
//go:embed mysql_schema.sql
var mysqlSchema string

// MinMySQLCheckpointInterval is the shortest checkpoint interval tessera's
// MySQL driver accepts; a log on MySQL uses it when Options ask for less.
const MinMySQLCheckpointInterval = time.Second

// MySQLBatchMaxAge and MySQLPollInterval are a MySQL log's defaults for
// Options.BatchMaxAge and Options.PollInterval. Tessera's MySQL driver
// integrates each batch in one transaction that rewrites the partial
// entry bundle and the edge tiles, so its cost is per batch, not per
// entry: with several processes appending, batches of DefaultBatchMaxAge
// hold one entry or two. Statements wait for a checkpoint published at
// most every MinMySQLCheckpointInterval anyway, so longer batches cost
// little latency; likewise a process that did not sign the checkpoint
// reads it every MySQLPollInterval, not every DefaultPollInterval
// (docs/design/scale-out.md has the figures).
const (
	MySQLBatchMaxAge  = 250 * time.Millisecond
	MySQLPollInterval = 50 * time.Millisecond
)

// MySQLMaxConns bounds the connections one process's log holds to the
// MySQL server: give the server max_connections of at least replicas ×
// MySQLMaxConns plus what else uses it.
const MySQLMaxConns = 16

// URL schemes OpenURL accepts.
const (
	SchemeMySQL = "mysql://"
	SchemeFile  = "file://"
)

// OpenURL opens the log named by location:
//
//	mysql://USER[:PASSWORD]@tcp(HOST:PORT)/DATABASE[?PARAMS]   tessera's MySQL driver (MySQL or MariaDB)
//	mysql://USER@unix(/run/mysqld/mysqld.sock)/DATABASE        the same over a Unix socket
//	file:///path/to/dir, or a plain path                       tessera's POSIX driver (Open)
//
// After mysql:// comes a go-sql-driver/mysql DSN. See OpenMySQL and Open.
func OpenURL(ctx context.Context, location string, signer note.Signer, opts Options) (*Log, error) {
	switch {
	case strings.HasPrefix(location, SchemeMySQL):
		return OpenMySQL(ctx, strings.TrimPrefix(location, SchemeMySQL), signer, opts)
	case strings.HasPrefix(location, SchemeFile):
		return Open(ctx, strings.TrimPrefix(location, SchemeFile), signer, opts)
	case strings.Contains(location, "://"):
		scheme, _, _ := strings.Cut(location, "://")
		return nil, fmt.Errorf("auditlog: open %s: no log driver for %q\nhint: use mysql://USER@tcp(HOST:3306)/DATABASE or a directory", location, scheme)
	}
	return Open(ctx, location, signer, opts)
}

// OpenMySQL opens the log in a MySQL or MariaDB database with tessera's
// MySQL driver, creating tessera's tables when the database has none. dsn
// is a go-sql-driver/mysql data source name, e.g.
// "charter@tcp(127.0.0.1:3306)/charterlog"; the database must exist and
// the user may create tables in it. Integration is synchronous on this
// driver (an append returns once its entry is in the tree), and a
// checkpoint is published at most every MinMySQLCheckpointInterval.
// Several processes may open the same database: tessera serialises their
// appends with row locks.
func OpenMySQL(ctx context.Context, dsn string, signer note.Signer, opts Options) (*Log, error) {
	v, vkey, err := verifierOf(signer, opts)
	if err != nil {
		return nil, err
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("auditlog: open MySQL log: bad data source name: %v\nhint: write it as mysql://USER[:PASSWORD]@tcp(HOST:3306)/DATABASE", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("auditlog: open MySQL log: the data source name names no database\nhint: end it with /DATABASE, e.g. mysql://charter@tcp(127.0.0.1:3306)/charterlog")
	}
	name := fmt.Sprintf("MySQL database %s at %s", cfg.DBName, cfg.Addr)
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("auditlog: open %s: %w", name, err)
	}
	// Bounded: every proof reads tiles, and under load one connection per
	// concurrent read would exhaust the server's max_connections (151 by
	// default) that all replicas share.
	db.SetMaxOpenConns(MySQLMaxConns)
	db.SetMaxIdleConns(MySQLMaxConns)
	// Processes opening one new log together (replicas starting at once)
	// would deadlock in tessera's first write of the tree state: open
	// one at a time, under a lock of the database server.
	unlock, err := mysqlOpenLock(ctx, db, cfg.DBName)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("auditlog: open %s: %w", name, err)
	}
	defer unlock()
	if err := createMySQLSchema(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("auditlog: open %s: %w\nhint: the database must exist and the user may create tables in it", name, err)
	}
	drv, err := mysql.New(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("auditlog: open %s: %w", name, err)
	}
	opts.CheckpointInterval = max(opts.CheckpointInterval, MinMySQLCheckpointInterval)
	if opts.BatchMaxAge == 0 {
		opts.BatchMaxAge = MySQLBatchMaxAge
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = MySQLPollInterval
	}
	l, err := open(ctx, storage{
		name:     name,
		driver:   drv,
		existing: drv.ReadCheckpoint,
		close:    db.Close,
		spaced:   true, // publishCheckpoint: not before the stored one's time + interval
	}, signer, v, vkey, opts)
	if err != nil {
		return nil, err
	}
	// A new log's first checkpoint comes with the driver's first
	// integration, up to a checkpoint interval later; until then a reader
	// would find none and take the log for tampered. Open returns once
	// there is one, still under the lock, so no process sees a log
	// without a checkpoint.
	if err := l.awaitFirstCheckpoint(ctx); err != nil {
		l.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("auditlog: open %s: no first checkpoint: %w", name, err)
	}
	return l, nil
}

// awaitFirstCheckpoint waits, keeping the appender awake, until the log
// has a published checkpoint.
func (l *Log) awaitFirstCheckpoint(ctx context.Context) error {
	if _, err := l.reader.ReadCheckpoint(ctx); err == nil {
		return nil
	}
	if _, err := l.acquire(); err != nil {
		return err
	}
	defer l.release()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := l.AwaitCheckpoint(wctx, 0)
	return err
}

// mysqlOpenLock takes the server's named lock for opening database dbName
// (GET_LOCK, held by one connection until unlock), waiting up to a minute.
func mysqlOpenLock(ctx context.Context, db *sql.DB, dbName string) (unlock func(), err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	name := "charter-log-open:" + dbName
	if len(name) > 64 { // MySQL's limit on lock names
		name = name[:64]
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", name).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock for opening: %w", err)
	}
	if got.Int64 != 1 {
		conn.Close()
		return nil, errors.New("another process has been opening this log for a minute\nhint: check for a stuck charter process using the same database")
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name)
		conn.Close()
	}, nil
}

// createMySQLSchema creates tessera's tables unless they exist.
func createMySQLSchema(ctx context.Context, db *sql.DB) error {
	var b strings.Builder
	for _, line := range strings.Split(mysqlSchema, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line + "\n")
		}
	}
	for _, stmt := range strings.Split(b.String(), ";") {
		q := strings.TrimSpace(stmt)
		if q == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create tessera's tables: %w", err)
		}
	}
	return nil
}
