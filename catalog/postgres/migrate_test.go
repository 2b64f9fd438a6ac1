package postgres

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// TestMigrationVersions: every migration has a version of its own, above
// the one before it (two helpers adding "0002_…" at once broke Open).
func TestMigrationVersions(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	last := 0
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			t.Fatalf("%s: no version number", base)
		}
		if v != last+1 {
			t.Fatalf("%s: version %d after %d; number migrations 1, 2, 3 … without gaps or repeats", base, v, last)
		}
		last = v
	}
}
