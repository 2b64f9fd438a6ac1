package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
)

// catalogFiles are the SQLite files of the catalog.
func catalogFiles(dir string) []string {
	p := filepath.Join(dir, "catalog.db")
	return []string{p, p + "-wal", p + "-shm"}
}

// Rebuild recreates the catalog of the data folder from the transparency
// log and the blob store alone. The old catalog is kept beside it as
// catalog.db.old-<time>. The server must not be running.
func Rebuild(ctx context.Context, cfg Config) (kept string, err error) {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, f := range catalogFiles(cfg.DataDir) {
		if _, err := os.Stat(f); err == nil {
			dst := f + ".old-" + stamp
			if err := os.Rename(f, dst); err != nil {
				return "", err
			}
			if kept == "" {
				kept = dst
			}
		}
	}
	cfg.ScrubInterval = -1
	cfg.SettleInterval = -1 // nothing may be appended while rebuilding
	s, err := New(ctx, cfg) // replays the whole log into the new catalog
	if err != nil {
		return kept, err
	}
	defer s.Close()
	return kept, s.rebuildObjects(ctx)
}

// CheckCatalog rebuilds the catalog into a scratch folder from the log and
// blobs, and compares it with the live one: a catalog row edited by hand,
// or lost, shows up as a difference. The server must not be running.
func CheckCatalog(ctx context.Context, cfg Config) (missing, extra []string, err error) {
	live, err := catsqlite.Open(ctx, filepath.Join(cfg.DataDir, "catalog.db"))
	if err != nil {
		return nil, nil, err
	}
	have, err := live.Dump(ctx)
	live.Close()
	if err != nil {
		return nil, nil, err
	}
	scratch, err := os.MkdirTemp("", "charter-check-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(scratch)
	// The scratch server reads the real log and blobs through links.
	for _, d := range []string{"log", "blobs", "keys"} {
		if err := os.Symlink(filepath.Join(absDir(cfg.DataDir), d), filepath.Join(scratch, d)); err != nil {
			return nil, nil, err
		}
	}
	c2 := cfg
	c2.DataDir = scratch
	c2.ScrubInterval = -1
	c2.SettleInterval = -1 // the scratch server must never append to the real log
	s, err := New(ctx, c2)
	if err != nil {
		return nil, nil, err
	}
	err = s.rebuildObjects(ctx)
	var want []string
	if err == nil {
		want, err = s.cat.Dump(ctx)
	}
	s.Close()
	if err != nil {
		return nil, nil, err
	}
	missing, extra = diffSorted(want, have)
	return missing, extra, nil
}

func absDir(d string) string {
	a, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return a
}

// diffSorted returns the lines of want not in have, and of have not in want.
func diffSorted(want, have []string) (missing, extra []string) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || (i < len(want) && want[i] < have[j]):
			missing = append(missing, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			extra = append(extra, have[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}

// rebuildObjects records every stored blob in the catalog, recognising
// dataset indexes by parsing them.
func (s *Server) rebuildObjects(ctx context.Context) error {
	return s.blobs.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		kind := catalog.KindBlob
		if size <= content.MaxIndexBytes && size > 0 {
			if isIndex, err := s.looksLikeIndex(ctx, id); err != nil {
				return err
			} else if isIndex {
				kind = catalog.KindDataset
			}
		}
		return s.cat.PutObject(ctx, catalog.Object{ID: id, Size: size, Kind: kind, Created: time.Now()})
	})
}

func (s *Server) looksLikeIndex(ctx context.Context, id content.ID) (bool, error) {
	f, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Data})
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if b, err := br.Peek(1); err != nil || b[0] != '{' {
		return false, nil
	}
	raw, err := io.ReadAll(br)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", id, err)
	}
	_, err = content.ParseIndex(raw)
	return err == nil, nil
}
