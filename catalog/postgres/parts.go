package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/catalog"
	"github.com/jackc/pgx/v5"
)

// PutPart records a part the log carries (docs/spec/log-entry.md,
// "Carried documents").
func (t *Tx) PutPart(p catalog.Part) error {
	tag, err := t.exec(`INSERT INTO log_parts(kind, content, part, parts, body, log_index) VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING`,
		p.Kind, p.Content, p.Part, p.Parts, p.Body, int64(p.LogIndex))
	if err != nil {
		return fmt.Errorf("catalog: part %s %s %d: %w", p.Kind, p.Content, p.Part, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %s part %d", catalog.ErrPartLogged, p.Kind, p.Content, p.Part)
	}
	return nil
}

// Part returns part n of (kind, content).
func (t *Tx) Part(kind, content string, n int) (catalog.Part, error) {
	p := catalog.Part{Kind: kind, Content: content, Part: n}
	var idx int64
	err := t.queryRow(`SELECT parts, body, log_index FROM log_parts WHERE kind = $1 AND content = $2 AND part = $3`, kind, content, n).Scan(&p.Parts, &p.Body, &idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("%w: %s %s part %d", catalog.ErrNotFound, kind, content, n)
	}
	p.LogIndex = uint64(idx)
	return p, err
}

// PartCount returns how many parts of (kind, content) are recorded and
// how many the document has.
func (c *Catalog) PartCount(ctx context.Context, kind, content string) (have, parts int, err error) {
	err = c.pool.QueryRow(ctx, `SELECT count(*), COALESCE(max(parts), 0) FROM log_parts WHERE kind = $1 AND content = $2`, kind, content).Scan(&have, &parts)
	return have, parts, err
}

// PartCount is Catalog.PartCount in the transaction.
func (t *Tx) PartCount(kind, content string) (have, parts int, err error) {
	err = t.queryRow(`SELECT count(*), COALESCE(max(parts), 0) FROM log_parts WHERE kind = $1 AND content = $2`, kind, content).Scan(&have, &parts)
	return have, parts, err
}
