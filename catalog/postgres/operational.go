package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The catalog's tables are of two kinds, as in catalog/sqlite: derived
// tables are rebuilt from the log by replay (and compared by Dump);
// operational tables hold what the log does not carry and are copied by a
// rebuild from the old catalog (CarryOver). schema_migrations records the
// schema's version and is neither. TestTablesClassified fails when a new
// table is in no list.
var (
	OperationalTables = []string{"grant_usage", "corruptions", "nonces", "upload_usage", "meter_sessions", "meter_ranges", "meter_sealed", "unsettled_reasons", "credentials"}
	DerivedTables     = []string{
		"objects", "log_applied", "log_watermark",
		"assets", "asset_owners", "lineage", "proposals", "approvals", "trail",
		"grants", "grant_requests", "grant_approvals",
		"receipts", "usage_events", "disputes", "settlements", "settle_watermark", "unsettled",
		"claimants", "content_claims", "quota_usage", "usage_quota", "log_parts",
	}
	SchemaTables = []string{"schema_migrations"}
)

// operationalColumns are the columns of each operational table that
// DumpOperational prints, in catalog/sqlite's order (meter_sealed's seq,
// SQLite's rowid, is left out), and the primary key a carried row replaces.
var operationalColumns = map[string]struct{ cols, key []string }{
	"grant_usage":       {[]string{"grant", "bytes", "requests"}, []string{"grant"}},
	"corruptions":       {[]string{"id", "off", "len", "detail", "found"}, []string{"id"}},
	"nonces":            {[]string{"keyid", "nonce", "until"}, []string{"keyid", "nonce"}},
	"upload_usage":      {[]string{"key", "day", "bytes"}, []string{"key", "day"}},
	"meter_sessions":    {[]string{"grant", "session", "asset", "licensee", "quota", "bytes", "requests", "reserved", "started", "last", "part"}, []string{"grant", "session"}},
	"meter_ranges":      {[]string{"grant", "session", "content", "start", "stop"}, []string{"grant", "session", "content", "start"}},
	"meter_sealed":      {[]string{"grant", "session", "part", "quota", "bytes", "requests", "envelope"}, []string{"grant", "session", "part"}},
	"unsettled_reasons": {[]string{"asset", "use_key", "error"}, []string{"asset", "use_key"}},
	"credentials":       {[]string{"id", "licensee", "assets", "created", "expires", "revoked"}, []string{"id"}},
}

func idents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// Tables lists the tables of the catalog's schema.
func (c *Catalog) Tables(ctx context.Context) ([]string, error) {
	return tableNames(ctx, c.pool, c.schema)
}

func tableNames(ctx context.Context, q querier, schema string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name COLLATE "C"`, schema)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func columns(ctx context.Context, q querier, schema, table string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CarryOver copies the operational tables of the catalog in schema
// oldSchema of the same database into this catalog (rows of the old
// catalog win), and the creation times of objects both know. Columns are
// matched by name, so an old catalog of an earlier schema version carries
// what it has. It reports the rows copied per table. (SQLite's CarryOver
// takes the old file; here a rebuild builds into a fresh schema and
// carries the live one's rows over.)
func (c *Catalog) CarryOver(ctx context.Context, oldSchema string) (map[string]int64, error) {
	if oldSchema == c.schema {
		return nil, fmt.Errorf("catalog: carrying over from schema %s into itself", oldSchema)
	}
	have, err := tableNames(ctx, c.pool, oldSchema)
	if err != nil {
		return nil, fmt.Errorf("catalog: reading the old catalog in schema %s: %w", oldSchema, err)
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("catalog: schema %s holds no catalog\nhint: check the schema name", oldSchema)
	}
	old := pgx.Identifier{oldSchema}.Sanitize()
	copied := map[string]int64{}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		for _, t := range OperationalTables {
			if !slices.Contains(have, t) {
				continue
			}
			oldCols, err := columns(ctx, tx, oldSchema, t)
			if err != nil {
				return err
			}
			spec := operationalColumns[t]
			var common []string
			for _, col := range spec.cols {
				if slices.Contains(oldCols, col) {
					common = append(common, col)
				}
			}
			if len(common) == 0 || !keyIn(spec.key, common) {
				continue
			}
			// Rows of the old catalog win: the new rows they replace go
			// first (SQLite's INSERT OR REPLACE).
			key, cols, tb := idents(spec.key), idents(common), pgx.Identifier{t}.Sanitize()
			if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s.%s)`, tb, key, key, old, tb)); err != nil {
				return fmt.Errorf("carrying %s over: %w", t, err)
			}
			order := ""
			if t == "meter_sealed" && slices.Contains(oldCols, "seq") {
				order = " ORDER BY seq"
			}
			tag, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s.%s%s`, tb, cols, cols, old, tb, order))
			if err != nil {
				return fmt.Errorf("carrying %s over: %w", t, err)
			}
			copied[t] = tag.RowsAffected()
		}
		if slices.Contains(have, "objects") {
			if _, err := tx.Exec(ctx, `UPDATE objects SET created = o.created FROM `+old+`.objects o WHERE o.id = objects.id`); err != nil {
				return fmt.Errorf("carrying object times over: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return copied, nil
}

func keyIn(key, cols []string) bool {
	for _, k := range key {
		if !slices.Contains(cols, k) {
			return false
		}
	}
	return true
}

// quotaFloor is, per grant, what the log's receipts prove was served: a
// quota counter is never below it.
const quotaFloor = `SELECT "grant", SUM(bytes)::bigint AS bytes, SUM(requests)::bigint AS requests FROM receipts GROUP BY "grant"`

// RaiseQuotaFloor raises every quota counter to at least what the log's
// receipts prove was served under it, drops counters of grants the log
// does not hold, and reports how many counters it changed. A rebuild whose
// old catalog was unreadable still keeps quotas this way.
func (c *Catalog) RaiseQuotaFloor(ctx context.Context) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO grant_usage("grant", bytes, requests) SELECT "grant", bytes, requests FROM (`+quotaFloor+`) f
			ON CONFLICT("grant") DO UPDATE SET bytes = GREATEST(grant_usage.bytes, excluded.bytes), requests = GREATEST(grant_usage.requests, excluded.requests)
			WHERE grant_usage.bytes < excluded.bytes OR grant_usage.requests < excluded.requests`)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		// Counters of grants the log does not hold count nothing real.
		tag, err = tx.Exec(ctx, `DELETE FROM grant_usage WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = grant_usage."grant")`)
		if err != nil {
			return err
		}
		n += tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: quota floor: %w", err)
	}
	return n, nil
}

// QuotaDrift lists quota counters that disagree with the log: a counter
// below what the grant's logged receipts prove was served (a reset or an
// edit that would let the licensee start again), and a counter of a grant
// the log does not hold.
func (c *Catalog) QuotaDrift(ctx context.Context) ([]string, error) {
	rows, err := c.pool.Query(ctx, `SELECT line FROM (
		SELECT 'quota ' || f."grant" || ': counted ' || COALESCE(u.bytes, 0) || ' bytes, ' || COALESCE(u.requests, 0) || ' requests; the log''s receipts show ' || f.bytes || ' bytes, ' || f.requests || ' requests' AS line
			FROM (`+quotaFloor+`) f LEFT JOIN grant_usage u ON u."grant" = f."grant"
			WHERE COALESCE(u.bytes, 0) < f.bytes OR COALESCE(u.requests, 0) < f.requests
		UNION ALL
		SELECT 'quota ' || u."grant" || ': counter of a grant the log does not hold'
			FROM grant_usage u WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = u."grant")
		) d ORDER BY line COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("catalog: quota drift: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(lines) == 0 {
		lines = nil // none, as SQLite answers
	}
	return lines, err
}

// DumpOperational lists every row of the operational tables as text,
// sorted, for comparing two catalogs' operational state. A row prints as
// catalog/sqlite prints it: "table [v1 v2 …]".
func (c *Catalog) DumpOperational(ctx context.Context) ([]string, error) {
	var out []string
	for _, t := range OperationalTables {
		rows, err := c.pool.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s`, idents(operationalColumns[t].cols), pgx.Identifier{t}.Sanitize()))
		if err != nil {
			return nil, fmt.Errorf("catalog: dump %s: %w", t, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, fmt.Sprintf("%s %v", t, vals))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}
