package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Swap makes the catalog in schema fresh the live one, in one
// transaction: the schema live (if any) is renamed to
// "<live>_old_<unix time>", which Swap returns (kept, as a rebuild of
// SQLite keeps the old file), and fresh is renamed to live. Both schemas
// are in the database at url. The servers using live must be stopped:
// their connections keep statements planned for the old tables.
func Swap(ctx context.Context, url, fresh, live string) (kept string, err error) {
	if fresh == live {
		return "", fmt.Errorf("catalog: swapping schema %s with itself", live)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("catalog: connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Two swaps of one schema take turns.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("migrate", live)); err != nil {
			return err
		}
		var hasFresh, hasLive bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)`, fresh, live).Scan(&hasFresh, &hasLive); err != nil {
			return err
		}
		if !hasFresh {
			return fmt.Errorf("schema %s does not exist", fresh)
		}
		if hasLive {
			kept = fmt.Sprintf("%s_old_%d", live, time.Now().Unix())
			if _, err := tx.Exec(ctx, `ALTER SCHEMA `+pgx.Identifier{live}.Sanitize()+` RENAME TO `+pgx.Identifier{kept}.Sanitize()); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `ALTER SCHEMA `+pgx.Identifier{fresh}.Sanitize()+` RENAME TO `+pgx.Identifier{live}.Sanitize())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("catalog: swapping schema %s in as %s: %w\nhint: nothing was changed", fresh, live, err)
	}
	return kept, nil
}
