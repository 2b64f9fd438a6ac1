package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/catalog"
)

// AssetQuery asks for one page of assets in log order. (Proposed for
// catalog.RegistryReader; see the board.)
type AssetQuery struct {
	// From is the first log index of the page (inclusive); the next page
	// starts at the last answer's LogIndex + 1.
	From uint64
	// Limit is the most assets answered (1 to MaxPage; 0 means
	// DefaultPage).
	Limit int
	// Filters; "" matches any.
	Content   string // the registered content id
	MediaType string
	Owner     string // a DID among the current owners
}

// DefaultPage and MaxPage bound a page of assets.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// AssetPage returns one page of assets matching q, in log order. Its cost
// is that of the page, not of the catalog: every filter is served by an
// index ending in log_index, read from q.From on (keyset pagination).
func (c *Catalog) AssetPage(ctx context.Context, q AssetQuery) ([]*catalog.AssetRecord, error) {
	sql, args, err := assetPageQuery(q)
	if err != nil {
		return nil, err
	}
	return assetList(ctx, c.pool, sql, args...)
}

// assetPageQuery is the query of AssetPage.
func assetPageQuery(q AssetQuery) (string, []any, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultPage
	}
	if q.Limit > MaxPage {
		return "", nil, fmt.Errorf("catalog: a page of %d assets; at most %d", q.Limit, MaxPage)
	}
	var sql strings.Builder
	args := []any{int64(q.From)}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Owner != "" {
		// The owner index gives the order; the asset row the rest.
		sql.WriteString(`SELECT a.state, a.claim, a.priority, a.log_index, a.asset FROM asset_owners o JOIN assets a ON a.asset = o.asset WHERE o.owner = ` + arg(q.Owner) + ` AND o.log_index >= $1`)
	} else {
		sql.WriteString(`SELECT a.state, a.claim, a.priority, a.log_index, a.asset FROM assets a WHERE a.log_index >= $1`)
	}
	if q.Content != "" {
		sql.WriteString(` AND a.content = ` + arg(q.Content))
	}
	if q.MediaType != "" && q.Owner != "" {
		// On asset_owners' (owner, media, log_index) index: an owner
		// with many assets of other types costs nothing.
		sql.WriteString(` AND o.media = ` + arg(q.MediaType))
	} else if q.MediaType != "" {
		sql.WriteString(` AND a.media = ` + arg(q.MediaType))
	}
	if q.Owner != "" {
		sql.WriteString(` ORDER BY o.log_index`)
	} else {
		sql.WriteString(` ORDER BY a.log_index`)
	}
	sql.WriteString(` LIMIT ` + arg(int64(q.Limit)))
	return sql.String(), args, nil
}
