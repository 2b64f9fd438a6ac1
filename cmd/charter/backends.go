package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/catalog"
	catpostgres "github.com/charter-dev/charter/catalog/postgres"
)

// openCatalog opens the catalog a --catalog URL names: "" is the data
// folder's own SQLite catalog (nil: the server opens it), postgres:// a
// schema of a PostgreSQL database. One catalog belongs to one log: point
// each data folder (each log) at its own schema.
func openCatalog(ctx context.Context, url string) (catalog.Catalog, error) {
	switch {
	case url == "":
		return nil, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cat, err := catpostgres.Open(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("--catalog: %w", err)
		}
		return cat, nil
	default:
		return nil, fmt.Errorf("--catalog %q: not a catalog URL\nhint: leave it out for the data folder's SQLite catalog, or give postgres://user@host:5432/database?search_path=schema", url)
	}
}
