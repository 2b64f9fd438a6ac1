package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charter-dev/charter/catalog"
)

// Read credentials (catalog.Credentials): operational state. No column
// holds a secret: the server derives it (package credential).
const credentialSchema = `
CREATE TABLE IF NOT EXISTS credentials (
	id TEXT PRIMARY KEY,
	licensee TEXT NOT NULL,
	assets TEXT NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS credentials_licensee ON credentials(licensee, expires);
`

func init() { extraSchema = append(extraSchema, credentialSchema) }

// PutCredential implements catalog.Credentials.
func (c *Catalog) PutCredential(ctx context.Context, r catalog.CredentialRecord, maxLive int, now time.Time) (bool, error) {
	ok := false
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE licensee = ? AND (revoked = 1 OR expires <= ?)`, r.Licensee, now.UnixNano()); err != nil {
			return err
		}
		var live int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM credentials WHERE licensee = ?`, r.Licensee).Scan(&live); err != nil {
			return err
		}
		if maxLive > 0 && live >= maxLive {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO credentials(id, licensee, assets, created, expires) VALUES(?, ?, ?, ?, ?)`,
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

// Credential implements catalog.Credentials.
func (c *Catalog) Credential(ctx context.Context, id string) (*catalog.CredentialRecord, error) {
	var r catalog.CredentialRecord
	var assets string
	var created, expires, revoked int64
	err := c.queryRow(ctx, `SELECT id, licensee, assets, created, expires, revoked FROM credentials WHERE id = ?`, id).Scan(&r.ID, &r.Licensee, &assets, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("credential %s: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	r.Assets = strings.Fields(assets)
	r.Created, r.Expires, r.Revoked = time.Unix(0, created), time.Unix(0, expires), revoked != 0
	return &r, nil
}

// RevokeCredential implements catalog.Credentials.
func (c *Catalog) RevokeCredential(ctx context.Context, id, licensee string) error {
	var n int64
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE credentials SET revoked = 1 WHERE id = ? AND licensee = ?`, id, licensee)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("credential %s of %s: %w", id, licensee, catalog.ErrNotFound)
	}
	return nil
}

// LiveCredentials implements catalog.Credentials.
func (c *Catalog) LiveCredentials(ctx context.Context, licensee string, now time.Time) ([]*catalog.CredentialRecord, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, licensee, assets, created, expires, revoked FROM credentials WHERE licensee = ? AND revoked = 0 AND expires > ? ORDER BY created DESC, id`, licensee, now.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.CredentialRecord
	for rows.Next() {
		var r catalog.CredentialRecord
		var assets string
		var created, expires, revoked int64
		if err := rows.Scan(&r.ID, &r.Licensee, &assets, &created, &expires, &revoked); err != nil {
			return nil, err
		}
		r.Assets = strings.Fields(assets)
		r.Created, r.Expires, r.Revoked = time.Unix(0, created), time.Unix(0, expires), revoked != 0
		out = append(out, &r)
	}
	return out, rows.Err()
}
