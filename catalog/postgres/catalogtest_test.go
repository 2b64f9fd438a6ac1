package postgres

import (
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/catalogtest"
)

// TestCatalog runs the catalog suite against PostgreSQL, a fresh schema
// for every catalog it opens.
func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return openTest(t) })
}
