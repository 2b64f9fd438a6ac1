package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/charter-dev/charter/catalog"
)

// PutCredential implements catalog.Credentials. Credentials of one
// licensee are recorded one at a time (an advisory lock on the licensee),
// so two requests cannot both pass the bound on the same room.
func (c *Catalog) PutCredential(ctx context.Context, r catalog.CredentialRecord, maxLive int, now time.Time) (bool, error) {
	ok := false
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		ok = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("credential", c.schema, r.Licensee)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM credentials WHERE licensee = $1 AND (revoked <> 0 OR expires <= $2)`, r.Licensee, now.UnixNano()); err != nil {
			return err
		}
		var live int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE licensee = $1`, r.Licensee).Scan(&live); err != nil {
			return err
		}
		if maxLive > 0 && live >= maxLive {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO credentials(id, licensee, assets, created, expires) VALUES($1, $2, $3, $4, $5)`,
			r.ID, r.Licensee, strings.Join(r.Assets, " "), r.Created.UnixNano(), r.Expires.UnixNano()); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("catalog: recording a credential: %w", err)
	}
	return ok, nil
}

func scanCredential(row pgx.Row) (*catalog.CredentialRecord, error) {
	var r catalog.CredentialRecord
	var assets string
	var created, expires, revoked int64
	if err := row.Scan(&r.ID, &r.Licensee, &assets, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	r.Assets = strings.Fields(assets)
	r.Created, r.Expires, r.Revoked = time.Unix(0, created), time.Unix(0, expires), revoked != 0
	return &r, nil
}

// Credential implements catalog.Credentials.
func (c *Catalog) Credential(ctx context.Context, id string) (*catalog.CredentialRecord, error) {
	r, err := scanCredential(c.pool.QueryRow(ctx, `SELECT id, licensee, assets, created, expires, revoked FROM credentials WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("credential %s: %w", id, catalog.ErrNotFound)
	}
	return r, err
}

// RevokeCredential implements catalog.Credentials.
func (c *Catalog) RevokeCredential(ctx context.Context, id, licensee string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE credentials SET revoked = 1 WHERE id = $1 AND licensee = $2`, id, licensee)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("credential %s of %s: %w", id, licensee, catalog.ErrNotFound)
	}
	return nil
}

// LiveCredentials implements catalog.Credentials.
func (c *Catalog) LiveCredentials(ctx context.Context, licensee string, now time.Time) ([]*catalog.CredentialRecord, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, licensee, assets, created, expires, revoked FROM credentials WHERE licensee = $1 AND revoked = 0 AND expires > $2 ORDER BY created DESC, id COLLATE "C"`, licensee, now.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.CredentialRecord
	for rows.Next() {
		r, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
