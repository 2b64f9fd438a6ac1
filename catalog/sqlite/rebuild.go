package sqlite

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

	"github.com/charter-dev/charter/catalog"
)

// Rebuild replaces the catalog file at path with one that build fills
// (registry.Rebuild replays the log into it), and carries over from the
// old catalog what the log does not hold (OperationalTables: quota
// counters, corruption records, ...). Quota counters are then raised to at
// least what the log's receipts show was served.
//
// The new catalog is built in a scratch folder beside path and replaces
// the old one by one rename, only once it is complete: a rebuild that
// fails, or is killed, leaves the folder as it found it. The old catalog
// is kept as <path>.old-<time>. No process may use the catalog meanwhile
// (cmd/charter holds the data folder's lock).
func Rebuild(ctx context.Context, path string, build func(*Catalog) error) (rep catalog.RebuildReport, err error) {
	dir := filepath.Dir(path)
	// Leftovers of a rebuild that was killed are ours to remove.
	if old, _ := filepath.Glob(filepath.Join(dir, ".rebuild-*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	_, statErr := os.Stat(path)
	haveOld := statErr == nil
	if haveOld {
		// Fold the old catalog's WAL into its file, so the file alone is
		// the old catalog (kept, and read for carrying over).
		if err := checkpointFile(ctx, path); err != nil {
			rep.OldUnreadable = err.Error()
		}
	}
	scratch, err := os.MkdirTemp(dir, ".rebuild-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(scratch)
	fresh := filepath.Join(scratch, filepath.Base(path))
	cat, err := Open(ctx, fresh)
	if err != nil {
		return rep, err
	}
	if err := build(cat); err != nil {
		cat.Close()
		return rep, fmt.Errorf("rebuilding the catalog: %w\nhint: the data folder is unchanged; the old catalog is still in use", err)
	}
	if haveOld && rep.OldUnreadable == "" {
		rep.Carried, err = cat.CarryOver(ctx, path)
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
	for _, f := range files(fresh)[1:] {
		if _, err := os.Stat(f); err == nil {
			return rep, fmt.Errorf("rebuilding the catalog: %s was not folded into the new catalog\nhint: the data folder is unchanged", filepath.Base(f))
		}
	}
	// Keep the old catalog under a new name (a hard link: the live name
	// still works until the swap), move its WAL and shared-memory files
	// aside (a WAL left beside the new file would be applied to it), and
	// swap the new file in with one rename.
	if haveOld {
		rep.Kept, err = keepOld(path)
		if err != nil {
			return rep, fmt.Errorf("keeping the old catalog: %w\nhint: the data folder is unchanged", err)
		}
		for _, f := range files(path)[1:] {
			if _, err := os.Stat(f); err == nil {
				if err := os.Rename(f, rep.Kept+strings.TrimPrefix(f, path)); err != nil {
					return rep, err
				}
			}
		}
	}
	if err := os.Rename(fresh, path); err != nil {
		return rep, err
	}
	return rep, syncDir(dir)
}

// files are the SQLite files of the catalog at path.
func files(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

// keepOld links (or copies) the catalog file to a free name
// <live>.old-<time>[-n] and returns it.
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

// checkpointFile folds the WAL of the SQLite file at path into the file.
func checkpointFile(ctx context.Context, path string) error {
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
