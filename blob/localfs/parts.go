package localfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/charter-dev/charter/blob"
)

// Parts of resumable uploads live in parts/<upload>/<n>: each written to
// a temp name in the same folder, fsynced, renamed into place and the
// folder fsynced, so a part is either whole or absent after a crash.

const partsDir = "parts"

var _ blob.PartStore = (*Store)(nil)

func (s *Store) uploadDir(u string) (string, error) {
	if !blob.ValidUpload(u) {
		return "", fmt.Errorf("localfs: invalid upload name %q", u)
	}
	return s.path(partsDir, u), nil
}

// PutPart stores part n of u durably.
func (s *Store) PutPart(ctx context.Context, u string, n int, r io.Reader, size int64) error {
	dir, err := s.uploadDir(u)
	if err != nil {
		return err
	}
	if n < 0 || size < 0 {
		return fmt.Errorf("localfs: part %d of %d bytes", n, size)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	f, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, bufSize)
	got, err := io.Copy(w, io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	if got != size {
		return fmt.Errorf("%w: %d bytes, declared %d", blob.ErrPartSize, got, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, strconv.Itoa(n))); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("localfs: put part: %w", err)
	}
	return nil
}

// Parts lists the stored parts of u.
func (s *Store) Parts(ctx context.Context, u string) (map[int]int64, error) {
	dir, err := s.uploadDir(u)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[int]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("localfs: parts: %w", err)
	}
	out := map[int]int64{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 || strconv.Itoa(n) != e.Name() {
			continue // a temp file, or not ours
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out[n] = fi.Size()
	}
	return out, nil
}

// OpenPart opens part n of u.
func (s *Store) OpenPart(ctx context.Context, u string, n int) (io.ReadCloser, error) {
	dir, err := s.uploadDir(u)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, strconv.Itoa(n)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("localfs: part %d of %s: %w", n, u, blob.ErrNotFound)
	}
	return f, err
}

// DropUpload removes the parts of u.
func (s *Store) DropUpload(ctx context.Context, u string) error {
	dir, err := s.uploadDir(u)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("localfs: drop upload: %w", err)
	}
	return nil
}

// Uploads lists the uploads with parts and their newest part's time.
func (s *Store) Uploads(ctx context.Context, fn func(string, time.Time) error) error {
	ents, err := os.ReadDir(s.path(partsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localfs: uploads: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || !blob.ValidUpload(e.Name()) {
			continue
		}
		var newest time.Time
		if fi, err := e.Info(); err == nil {
			newest = fi.ModTime()
		}
		parts, _ := os.ReadDir(filepath.Join(s.path(partsDir), e.Name()))
		for _, p := range parts {
			if fi, err := p.Info(); err == nil && !strings.HasPrefix(p.Name(), "tmp-") && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
		if err := fn(e.Name(), newest); err != nil {
			return err
		}
	}
	return nil
}
