package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// The catalog's tables are of two kinds. Derived tables are rebuilt from
// the log and the blobs by replay (and compared by Dump). Operational
// tables hold what the log does not carry: quota counters, corruption
// records found by the scrub. A rebuild copies operational tables from the
// old catalog into the new one (CarryOver), and raises quota counters to
// what the log's receipts prove was served (RaiseQuotaFloor), so a rebuild
// never starts quotas again. See docs/design/decisions.md.
//
// Every table belongs to one list; TestTablesClassified fails when a new
// table is in neither.
var (
	OperationalTables = []string{"grant_usage", "corruptions", "nonces", "upload_usage", "meter_sessions", "meter_ranges", "meter_sealed", "unsettled_reasons", "credentials"}
	DerivedTables     = []string{
		"objects", "log_applied", "log_watermark",
		"assets", "asset_owners", "lineage", "proposals", "approvals", "trail",
		"guards", "grants", "grant_requests", "grant_approvals",
		"receipts", "usage_events", "disputes", "settlements", "settle_watermark", "unsettled",
		"claimants", "content_claims", "quota_usage", "usage_quota", "log_parts",
	}
)

// Tables lists the tables of the catalog file.
func (c *Catalog) Tables(ctx context.Context) ([]string, error) {
	return tableNames(ctx, c.db, "main")
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func tableNames(ctx context.Context, q queryer, schema string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM `+schema+`.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// scanStrings reads the one text column of every row and closes rows.
func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func columns(ctx context.Context, q queryer, schema, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_table_info(?, ?)`, table, schema)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// CarryOver copies the operational tables of the catalog file at oldPath
// into this catalog (rows of the old file win), and the creation times of
// objects both know. Columns are matched by name, so an old file from an
// earlier schema carries what it has. It reports the rows copied per table.
func (c *Catalog) CarryOver(ctx context.Context, oldPath string) (map[string]int64, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	conn, err := c.db.Conn(ctx) // ATTACH holds for one connection only
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS old`, "file:"+oldPath); err != nil {
		return nil, fmt.Errorf("catalog: opening the old catalog %s: %w", oldPath, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE old`)
	have, err := tableNames(ctx, conn, "old")
	if err != nil {
		return nil, fmt.Errorf("catalog: reading the old catalog %s: %w", oldPath, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	copied := map[string]int64{}
	for _, t := range OperationalTables {
		if !slices.Contains(have, t) {
			continue
		}
		newCols, err := columns(ctx, tx, "main", t)
		if err != nil {
			return nil, err
		}
		oldCols, err := columns(ctx, tx, "old", t)
		if err != nil {
			return nil, err
		}
		var common []string
		for _, col := range newCols {
			if slices.Contains(oldCols, col) {
				common = append(common, `"`+col+`"`)
			}
		}
		if len(common) == 0 {
			continue
		}
		cols := strings.Join(common, ", ")
		res, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT OR REPLACE INTO main.%q (%s) SELECT %s FROM old.%q`, t, cols, cols, t))
		if err != nil {
			return nil, fmt.Errorf("catalog: carrying %s over: %w", t, err)
		}
		copied[t], _ = res.RowsAffected()
	}
	if slices.Contains(have, "objects") {
		if _, err := tx.ExecContext(ctx, `UPDATE main.objects SET created = (SELECT o.created FROM old.objects o WHERE o.id = objects.id)
			WHERE EXISTS (SELECT 1 FROM old.objects o WHERE o.id = objects.id)`); err != nil {
			return nil, fmt.Errorf("catalog: carrying object times over: %w", err)
		}
	}
	return copied, tx.Commit()
}

// quotaFloor is, per grant, what the log's receipts prove was served: a
// quota counter is never below it.
const quotaFloor = `SELECT grant, SUM(bytes) AS bytes, SUM(requests) AS requests FROM receipts GROUP BY grant`

// RaiseQuotaFloor raises every quota counter to at least what the log's
// receipts prove was served under it, drops counters of grants the log
// does not hold, and reports how many counters it changed. A
// rebuild whose old catalog was unreadable still keeps quotas this way.
func (c *Catalog) RaiseQuotaFloor(ctx context.Context) (int64, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	res, err := c.db.ExecContext(ctx, `INSERT INTO grant_usage(grant, bytes, requests) SELECT grant, bytes, requests FROM (`+quotaFloor+`) WHERE true
		ON CONFLICT(grant) DO UPDATE SET bytes = max(bytes, excluded.bytes), requests = max(requests, excluded.requests)
		WHERE bytes < excluded.bytes OR requests < excluded.requests`)
	if err != nil {
		return 0, fmt.Errorf("catalog: quota floor: %w", err)
	}
	n, _ := res.RowsAffected()
	// Counters of grants the log does not hold count nothing real.
	res, err = c.db.ExecContext(ctx, `DELETE FROM grant_usage WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = grant_usage.grant)`)
	if err != nil {
		return 0, fmt.Errorf("catalog: quota floor: %w", err)
	}
	k, _ := res.RowsAffected()
	return n + k, nil
}

// QuotaDrift lists quota counters that disagree with the log: a counter
// below what the grant's logged receipts prove was served (a reset or an
// edit that would let the licensee start again), and a counter of a grant
// the log does not hold.
func (c *Catalog) QuotaDrift(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `
		SELECT 'quota ' || f.grant || ': counted ' || COALESCE(u.bytes, 0) || ' bytes, ' || COALESCE(u.requests, 0) || ' requests; the log''s receipts show ' || f.bytes || ' bytes, ' || f.requests || ' requests'
			FROM (`+quotaFloor+`) f LEFT JOIN grant_usage u ON u.grant = f.grant
			WHERE COALESCE(u.bytes, 0) < f.bytes OR COALESCE(u.requests, 0) < f.requests
		UNION ALL
		SELECT 'quota ' || u.grant || ': counter of a grant the log does not hold'
			FROM grant_usage u WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = u.grant)
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("catalog: quota drift: %w", err)
	}
	return scanStrings(rows)
}

// DumpOperational lists every row of the operational tables as text,
// sorted, for comparing two catalogs' operational state.
func (c *Catalog) DumpOperational(ctx context.Context) ([]string, error) {
	var out []string
	for _, t := range OperationalTables {
		rows, err := c.db.QueryContext(ctx, fmt.Sprintf(`SELECT * FROM %q`, t))
		if err != nil {
			return nil, fmt.Errorf("catalog: dump %s: %w", t, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, fmt.Sprintf("%s %v", t, vals))
		}
		rows.Close()
	}
	slices.Sort(out)
	return out, nil
}
