package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Rebuild replaces the catalog in the schema url names with one that
// build fills (registry.Rebuild replays the log into it), as
// catalog/sqlite's Rebuild does for a file: the new catalog is built in a
// scratch schema of the same database, takes over the live schema's
// operational rows (CarryOver), has its quota counters raised to what the
// log's receipts show was served, and is swapped in by one transaction
// (Swap), which keeps the old schema as "<live>_old_<unix time>". A
// rebuild that fails drops its scratch schema and leaves the live one as
// it was. The servers using the catalog must be stopped.
func Rebuild(ctx context.Context, url string, build func(*Catalog) error) (rep catalog.RebuildReport, err error) {
	c, live, err := openScratch(ctx, url, "rebuild")
	if err != nil {
		return rep, err
	}
	scratch := c.schema
	defer func() {
		if err != nil {
			err = errors.Join(err, dropSchema(context.WithoutCancel(ctx), url, scratch))
		}
	}()
	if err = build(c); err != nil {
		c.Close()
		return rep, fmt.Errorf("rebuilding the catalog: %w\nhint: schema %s is unchanged and still in use", err, live)
	}
	have, err := tableNames(ctx, c.pool, live)
	if err == nil && len(have) > 0 {
		rep.Carried, err = c.CarryOver(ctx, live)
	}
	if err != nil {
		rep.OldUnreadable, err = err.Error(), nil
	}
	rep.Raised, err = c.RaiseQuotaFloor(ctx)
	c.Close()
	if err != nil {
		return rep, fmt.Errorf("rebuilding the catalog: %w\nhint: schema %s is unchanged", err, live)
	}
	rep.Kept, err = Swap(ctx, url, scratch, live)
	return rep, err
}

// OpenScratch opens an empty catalog in a new schema of the database url
// names, beside the catalog's own schema, and returns it with a function
// that closes it and drops the schema: what `charter admin check` rebuilds
// into to compare with the live catalog.
func OpenScratch(ctx context.Context, url string) (*Catalog, func() error, error) {
	c, _, err := openScratch(ctx, url, "check")
	if err != nil {
		return nil, nil, err
	}
	return c, func() error {
		c.Close()
		return dropSchema(context.WithoutCancel(ctx), url, c.schema)
	}, nil
}

// openScratch opens a catalog in a new schema named after the schema url
// names (live, which it returns) and what it is for.
func openScratch(ctx context.Context, url, what string) (*Catalog, string, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, "", fmt.Errorf("catalog: PostgreSQL URL: %w\nhint: use postgres://user@host:5432/database", err)
	}
	live := schemaOf(cfg)
	// Identifiers are at most 63 bytes.
	scratch := fmt.Sprintf("%.36s_%s_%d", live, what, time.Now().UnixNano())
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{scratch}.Sanitize()
	c, err := OpenConfig(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	return c, live, nil
}

// schemaOf is the schema of the catalog cfg connects to: the first of its
// search_path, or DefaultSchema.
func schemaOf(cfg *pgxpool.Config) string {
	schema := strings.TrimSpace(strings.Split(cfg.ConnConfig.RuntimeParams["search_path"], ",")[0])
	if schema = strings.Trim(schema, `"`); schema == "" {
		return DefaultSchema
	}
	return schema
}

// dropSchema drops a schema and everything in it.
func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("catalog: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("catalog: dropping scratch schema %s: %w", schema, err)
	}
	return nil
}
