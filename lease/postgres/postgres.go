// Package postgres keeps leases (package lease) in a PostgreSQL table, for
// replicas that share a database: every replica runs lease.Hold against
// the same Store, and the database decides who holds each lease.
//
// Expiry is judged on the database's clock (clock_timestamp()), never a
// replica's, so replicas whose clocks disagree still agree on who holds a
// lease. One statement takes or renews a lease (an upsert whose update
// applies only when the lease is free, expired or the caller's own), so no
// two holders can both succeed.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charter-dev/charter/lease"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema holds the lease table when the URL names none.
const DefaultSchema = "charter_lease"

// Store is a lease.Store in one PostgreSQL schema.
type Store struct {
	pool   *pgxpool.Pool
	schema string
}

var _ lease.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…) and creates the
// lease table unless it exists. The schema is the first one of the URL's
// search_path parameter, or DefaultSchema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("lease: PostgreSQL URL: %w\nhint: use postgres://user@host:5432/database", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 2 // a few statements every few seconds
	}
	rp := cfg.ConnConfig.RuntimeParams
	schema := strings.Trim(strings.TrimSpace(strings.Split(rp["search_path"], ",")[0]), `"`)
	if schema == "" {
		schema = DefaultSchema
		rp["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("lease: PostgreSQL at %s: %w", where, err)
	}
	s := &Store{pool: pool, schema: schema}
	if err := s.create(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("lease: preparing schema %s at %s: %w\nhint: is the server running, and may this user create a schema?", schema, where, err)
	}
	return s, nil
}

// create makes the schema and the table, once, under an advisory lock so
// that replicas starting together do not race on CREATE.
func (s *Store) create(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('charter-lease-create', 0))`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{s.schema, "leases"}.Sanitize()+` (
		name    TEXT COLLATE "C" PRIMARY KEY,
		holder  TEXT NOT NULL,
		epoch   BIGINT NOT NULL,
		expires TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Close closes the connection pool.
func (s *Store) Close() { s.pool.Close() }

// Acquire implements lease.Store. One upsert takes, renews or leaves the
// lease; the row it returns is the lease as it stands afterwards.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (lease.Lease, bool, error) {
	if err := lease.Check(name, holder, ttl); err != nil {
		return lease.Lease{}, false, err
	}
	t := pgx.Identifier{s.schema, "leases"}.Sanitize()
	// The update runs only when the lease is free, expired or holder's;
	// otherwise the row is read as it is.
	q := `WITH up AS (
		INSERT INTO ` + t + ` AS l(name, holder, epoch, expires)
		VALUES($1, $2, 1, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT(name) DO UPDATE SET
			holder  = excluded.holder,
			epoch   = CASE WHEN l.holder = excluded.holder AND l.expires > clock_timestamp() THEN l.epoch ELSE l.epoch + 1 END,
			expires = excluded.expires
		WHERE l.holder = excluded.holder OR l.holder = '' OR l.expires <= clock_timestamp()
		RETURNING holder, epoch, expires, true AS ok
	)
	SELECT holder, epoch, expires, ok FROM up
	UNION ALL
	SELECT holder, epoch, expires, false FROM ` + t + ` WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM up)`
	var l lease.Lease
	var epoch int64
	var ok bool
	err := s.pool.QueryRow(ctx, q, name, holder, ttl.Microseconds()).Scan(&l.Holder, &epoch, &l.Expires, &ok)
	if errors.Is(err, pgx.ErrNoRows) {
		// The row was taken by a concurrent insert between the two reads
		// of this statement's snapshot: another holder got it.
		return lease.Lease{Name: name}, false, nil
	}
	if err != nil {
		return lease.Lease{}, false, fmt.Errorf("lease: acquire %s: %w", name, err)
	}
	l.Name, l.Epoch = name, uint64(epoch)
	return l, ok, nil
}

// Release implements lease.Store: the lease expires now if holder holds it.
func (s *Store) Release(ctx context.Context, name, holder string) error {
	t := pgx.Identifier{s.schema, "leases"}.Sanitize()
	if _, err := s.pool.Exec(ctx, `UPDATE `+t+` SET holder = '', expires = clock_timestamp() WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("lease: release %s: %w", name, err)
	}
	return nil
}
