package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob/localfs"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/registry"
)

// catalogFiles are the SQLite files of the catalog.
func catalogFiles(dir string) []string {
	p := filepath.Join(dir, "catalog.db")
	return []string{p, p + "-wal", p + "-shm"}
}

// RebuildReport says what Rebuild did.
type RebuildReport struct {
	// Kept is the old catalog, kept beside the new one ("" if there was
	// none).
	Kept string `json:"old_catalog,omitempty"`
	// Carried counts the operational rows (quota counters, corruption
	// records) copied from the old catalog, by table.
	Carried map[string]int64 `json:"carried,omitempty"`
	// OldUnreadable is why the old catalog could not be read, if it could
	// not: quota counters then come from the log's receipts alone.
	OldUnreadable string `json:"old_catalog_unreadable,omitempty"`
	// Raised counts quota counters raised to what the log's receipts show.
	Raised int64 `json:"quota_counters_raised"`
}

// Rebuild recreates the catalog of the data folder from the transparency
// log and the blob store, and carries over from the old catalog what the
// log does not hold (quota counters, corruption records; see
// catsqlite.OperationalTables). Quota counters are then raised to at least
// what the log's receipts show was served.
//
// The new catalog is built in a scratch folder inside the data folder and
// replaces the old one by one rename, only once it is complete: a rebuild
// that fails, or is killed, leaves the folder as it found it. The old
// catalog is kept as catalog.db.old-<time>.
//
// The caller must own the data folder (cmd/charter holds its lock): no
// server may run on it.
func Rebuild(ctx context.Context, cfg Config) (rep RebuildReport, err error) {
	dir := cfg.DataDir
	live := filepath.Join(dir, "catalog.db")
	// Leftovers of a rebuild that was killed are ours to remove.
	if old, _ := filepath.Glob(filepath.Join(dir, ".rebuild-*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	_, statErr := os.Stat(live)
	haveOld := statErr == nil
	if haveOld {
		// Fold the old catalog's WAL into its file, so the file alone is
		// the old catalog (kept, and read for carrying over).
		if err := checkpointSQLite(ctx, live); err != nil {
			rep.OldUnreadable = err.Error()
		}
	}
	scratch, err := os.MkdirTemp(dir, ".rebuild-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(scratch)
	fresh := filepath.Join(scratch, "catalog.db")
	if err := buildCatalog(ctx, cfg, scratch); err != nil {
		return rep, fmt.Errorf("rebuilding the catalog: %w\nhint: the data folder is unchanged; the old catalog is still in use", err)
	}
	cat, err := catsqlite.Open(ctx, fresh)
	if err != nil {
		return rep, err
	}
	if haveOld && rep.OldUnreadable == "" {
		rep.Carried, err = cat.CarryOver(ctx, live)
		if err != nil {
			rep.OldUnreadable = err.Error()
			err = nil
		}
	}
	if err == nil {
		rep.Raised, err = cat.RaiseQuotaFloor(ctx)
	}
	if cerr := cat.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("rebuilding the catalog: %w\nhint: the data folder is unchanged", err)
	}
	for _, f := range catalogFiles(scratch)[1:] {
		if _, err := os.Stat(f); err == nil {
			return rep, fmt.Errorf("rebuilding the catalog: %s was not folded into the new catalog\nhint: the data folder is unchanged", filepath.Base(f))
		}
	}
	// Keep the old catalog under a new name (a hard link: the live name
	// still works until the swap), move its WAL and shared-memory files
	// aside (a WAL left beside the new file would be applied to it), and
	// swap the new file in with one rename.
	if haveOld {
		rep.Kept, err = keepOld(live)
		if err != nil {
			return rep, fmt.Errorf("keeping the old catalog: %w\nhint: the data folder is unchanged", err)
		}
		for _, f := range catalogFiles(dir)[1:] {
			if _, err := os.Stat(f); err == nil {
				if err := os.Rename(f, rep.Kept+strings.TrimPrefix(f, live)); err != nil {
					return rep, err
				}
			}
		}
	}
	if err := os.Rename(fresh, live); err != nil {
		return rep, err
	}
	return rep, syncDir(dir)
}

// keepOld links (or copies) the catalog file to a free name
// catalog.db.old-<time>[-n] and returns it.
func keepOld(live string) (string, error) {
	stamp := live + ".old-" + time.Now().UTC().Format("20060102T150405Z")
	for n := 1; ; n++ {
		name := stamp
		if n > 1 {
			name = fmt.Sprintf("%s-%d", stamp, n)
		}
		err := os.Link(live, name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			err = copyFile(live, name)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
		}
		return name, err
	}
}

// buildCatalog builds a catalog into scratch/catalog.db from the data
// folder's log and blobs (registry.Rebuild): no server runs, and nothing
// is appended to the log.
func buildCatalog(ctx context.Context, cfg Config, scratch string) error {
	cat, err := catsqlite.Open(ctx, filepath.Join(scratch, "catalog.db"))
	if err != nil {
		return err
	}
	return errors.Join(rebuildInto(ctx, cfg, cat), cat.Close())
}

// rebuildInto replays the data folder's log into cat, a new catalog, and
// records the folder's blobs in it.
func rebuildInto(ctx context.Context, cfg Config, cat registry.Rebuildable) error {
	dir := cfg.DataDir
	if cfg.LogOrigin == "" {
		cfg.LogOrigin = DefaultLogOrigin
	}
	blobs, err := localfs.Open(ctx, filepath.Join(dir, "blobs"))
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return err
	}
	key, _, err := identity.LoadOrGenerate(filepath.Join(keys, "server.key"))
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}
	logKey, err := auditlog.LoadOrCreateKey(filepath.Join(keys, "log.key"), cfg.LogOrigin)
	if err != nil {
		return fmt.Errorf("log key: %w", err)
	}
	tlog, err := auditlog.Open(ctx, filepath.Join(dir, "log"), logKey, cfg.LogOptions)
	if err != nil {
		return explainTampered(filepath.Join(dir, "log"), fmt.Errorf("transparency log: %w", err))
	}
	reg := registry.New(registry.Config{Operator: key.DID(), Logger: cfg.Logger, Blobs: blobs})
	err = reg.Rebuild(ctx, cat, tlog, blobs)
	return errors.Join(explainTampered(filepath.Join(dir, "log"), err), tlog.Close(context.WithoutCancel(ctx)))
}

// checkpointSQLite folds the WAL of the SQLite file at path into the file.
func checkpointSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var busy, logged, done int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if busy != 0 {
		return fmt.Errorf("%s is in use by another process", path)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CheckReport is registry.CheckReport.
type CheckReport = registry.CheckReport

// CheckCatalog rebuilds the catalog into a scratch folder from the log and
// blobs, and compares it with the live one: a catalog row edited by hand,
// or lost, shows up as a difference; so does a quota counter that was
// reset or lowered below what the log's receipts show. The caller must own
// the data folder (no server running on it).
func CheckCatalog(ctx context.Context, cfg Config) (*CheckReport, error) {
	live, err := catsqlite.Open(ctx, filepath.Join(cfg.DataDir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	defer live.Close()
	scratch, err := os.MkdirTemp("", "charter-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	built, err := catsqlite.Open(ctx, filepath.Join(scratch, "catalog.db"))
	if err != nil {
		return nil, err
	}
	defer built.Close()
	if err := rebuildInto(ctx, cfg, built); err != nil {
		return nil, err
	}
	return registry.Check(ctx, live, built)
}

func absDir(d string) string {
	a, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return a
}
