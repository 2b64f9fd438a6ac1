package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/catalogtest"
)

// TestCatalog runs the catalog suite against the SQLite backend.
func TestCatalog(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		c, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}
