package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/charter-dev/charter/catalog"
)

// What the log carries for apply (docs/spec/log-entry.md, "Carried
// documents"): the parts of licence terms and of dataset member lists,
// recorded as their entries apply, so that applying later entries reads
// the catalog and never the blob store.
const partsSchema = `
CREATE TABLE IF NOT EXISTS log_parts (
	kind      TEXT NOT NULL,
	content   TEXT NOT NULL,
	part      INTEGER NOT NULL,
	parts     INTEGER NOT NULL,
	body      BLOB NOT NULL,
	log_index INTEGER NOT NULL,
	PRIMARY KEY (kind, content, part)
);
`

func init() {
	extraSchema = append(extraSchema, partsSchema)
	extraDumpQueries = append(extraDumpQueries,
		`SELECT 'part ' || kind || ' ' || content || ' ' || part || ' ' || parts || ' ' || log_index || ' ' || hex(body) FROM log_parts`)
}

// PutPart records a part the log carries.
func (t *Tx) PutPart(p catalog.Part) error {
	res, err := t.exec(`INSERT INTO log_parts(kind, content, part, parts, body, log_index) VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
		p.Kind, p.Content, p.Part, p.Parts, p.Body, int64(p.LogIndex))
	if err != nil {
		return fmt.Errorf("catalog: part %s %s %d: %w", p.Kind, p.Content, p.Part, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: %s %s part %d", catalog.ErrPartLogged, p.Kind, p.Content, p.Part)
	}
	return nil
}

// Part returns part n of (kind, content).
func (t *Tx) Part(kind, content string, n int) (catalog.Part, error) {
	p := catalog.Part{Kind: kind, Content: content, Part: n}
	var idx int64
	err := t.queryRow(`SELECT parts, body, log_index FROM log_parts WHERE kind = ? AND content = ? AND part = ?`, kind, content, n).Scan(&p.Parts, &p.Body, &idx)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: %s %s part %d", catalog.ErrNotFound, kind, content, n)
	}
	p.LogIndex = uint64(idx)
	return p, err
}

// PartCount returns how many parts of (kind, content) are recorded and
// how many the document has.
func (c *Catalog) PartCount(ctx context.Context, kind, content string) (have, parts int, err error) {
	err = c.queryRow(ctx, `SELECT count(*), COALESCE(max(parts), 0) FROM log_parts WHERE kind = ? AND content = ?`, kind, content).Scan(&have, &parts)
	return have, parts, err
}

// PartCount is Catalog.PartCount in the transaction.
func (t *Tx) PartCount(kind, content string) (have, parts int, err error) {
	err = t.queryRow(`SELECT count(*), COALESCE(max(parts), 0) FROM log_parts WHERE kind = ? AND content = ?`, kind, content).Scan(&have, &parts)
	return have, parts, err
}
