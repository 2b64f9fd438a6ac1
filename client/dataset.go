package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/charter-dev/charter/content"
)

// ErrUnsafePath reports a dataset entry that would escape its folder: a
// link pointing outside it, a path with "..", or a special file.
var ErrUnsafePath = errors.New("unsafe path in dataset")

// WalkDir lists the regular files under root as dataset entries (paths
// slash-separated and relative to root, ids not yet filled in). Symbolic
// links are followed only when they point at a regular file inside root;
// links that lead outside root, links to folders, and special files are
// refused.
func WalkDir(root string) ([]content.File, map[string]string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, nil, err
	}
	realRoot, err = filepath.Abs(realRoot)
	if err != nil {
		return nil, nil, err
	}
	var files []content.File
	local := map[string]string{} // dataset path -> file to read
	err = filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == realRoot {
			return nil
		}
		rel, err := filepath.Rel(realRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		// Check the name first: the messages below print it.
		if err := content.ValidatePath(rel); err != nil {
			return fmt.Errorf("%w: %w", ErrUnsafePath, err)
		}
		target := p
		if d.Type()&fs.ModeSymlink != 0 {
			t, err := filepath.EvalSymlinks(p)
			if err != nil {
				return fmt.Errorf("%w: %s: broken link: %v", ErrUnsafePath, rel, err)
			}
			if !within(realRoot, t) {
				return fmt.Errorf("%w: %s is a link to %s, outside %s\nhint: copy the file into the folder instead of linking it", ErrUnsafePath, rel, t, root)
			}
			target = t
		}
		fi, err := os.Stat(target)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file (%s)", ErrUnsafePath, rel, fi.Mode().Type())
		}
		files = append(files, content.File{Path: rel, Size: fi.Size()})
		local[rel] = target
		return nil
	})
	return files, local, err
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// PutDir stores every file under root and then the dataset index naming
// them; the index's id names the dataset. It hashes every file locally
// first and asks the server which it lacks (Missing): only those are sent,
// so a new version of a dataset uploads only the files that changed.
func (c *Client) PutDir(ctx context.Context, root string, progress func(done, total int64)) (BlobInfo, *content.Index, error) {
	files, local, err := WalkDir(root)
	if err != nil {
		return BlobInfo{}, nil, err
	}
	var total, done int64
	for _, f := range files {
		total += f.Size
	}
	progress = monotone(progress)
	// Hash on a few goroutines: a file of 10 KB costs an open, a read and
	// a close for a few microseconds of BLAKE3, so one goroutine mostly
	// waits on system calls.
	ids := make([]content.ID, len(files))
	hg, _ := errgroup.WithContext(ctx)
	hg.SetLimit(hashWorkers)
	for i := range files {
		hg.Go(func() error {
			f, err := os.Open(local[files[i].Path])
			if err != nil {
				return err
			}
			id, n, err := HashReader(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", files[i].Path, err)
			}
			if n != files[i].Size {
				return fmt.Errorf("%s changed while it was read (%d bytes, now %d)", files[i].Path, files[i].Size, n)
			}
			files[i].ID, ids[i] = id, id
			return nil
		})
	}
	if err := hg.Wait(); err != nil {
		return BlobInfo{}, nil, err
	}
	missing, err := c.Missing(ctx, ids)
	var e *Error
	if errors.As(err, &e) && (e.Problem.Status == http.StatusNotFound || e.Problem.Status == http.StatusMethodNotAllowed) {
		missing, err = ids, nil // a server from before the question: send all
	}
	if err != nil {
		return BlobInfo{}, nil, err
	}
	send := make(map[content.ID]bool, len(missing))
	for _, id := range missing {
		send[id] = true
	}
	// Small files go many to a request (batch.go); the rest one by one.
	if err := c.putSmall(ctx, files, local, send, func(n int64) {
		if progress != nil {
			progress(n, total)
		}
	}); err != nil {
		return BlobInfo{}, nil, err
	}
	for i := range files {
		if !send[files[i].ID] {
			done += files[i].Size
			if progress != nil {
				progress(done, total)
			}
			continue
		}
		delete(send, files[i].ID) // the same content twice: sent once
		f, err := os.Open(local[files[i].Path])
		if err != nil {
			return BlobInfo{}, nil, err
		}
		base := done
		want := files[i].ID
		info, err := c.Put(ctx, f, files[i].Size, PutOptions{Want: &want, Always: true, Progress: func(n int64) {
			if progress != nil {
				progress(base+n, total)
			}
		}})
		f.Close()
		if err != nil {
			return BlobInfo{}, nil, fmt.Errorf("%s: %w", files[i].Path, err)
		}
		if info.Size != files[i].Size {
			return BlobInfo{}, nil, fmt.Errorf("%s changed while it was uploaded (%d bytes, now %d)", files[i].Path, files[i].Size, info.Size)
		}
		done += info.Size
	}
	idx, err := content.NewIndex(files)
	if err != nil {
		return BlobInfo{}, nil, err
	}
	raw, err := idx.Encode()
	if err != nil {
		return BlobInfo{}, nil, err
	}
	info, err := c.putIndex(ctx, idx, raw) // indexdelta.go
	// The server checked the index; it calls it a dataset only once a
	// registration in the log does, but this client built one.
	info.Kind = KindDataset
	return info, idx, err
}

// hashWorkers is how many files PutDir hashes at once.
const hashWorkers = 4

// indexHead is how every dataset index begins.
const indexHead = `{"mediaType":"` + content.DatasetMediaType + `",`

// IsDataset reports whether stored content id, of size bytes, is a valid
// dataset index, judging by its verified bytes: a server says "dataset"
// only for a registered dataset (info.Kind), but an index stored and not
// registered is a dataset too, and no one can change what bytes an id
// names. Only content that begins like an index is fetched whole.
func (c *Client) IsDataset(ctx context.Context, id content.ID, size int64) bool {
	if size < int64(len(indexHead)) || size > content.MaxIndexBytes {
		return false
	}
	var head strings.Builder
	if err := c.FetchRange(ctx, id, 0, int64(len(indexHead)), &head); err != nil || head.String() != indexHead {
		return false
	}
	_, err := c.FetchIndex(ctx, id)
	return err == nil
}

// FetchIndex downloads and parses the verified dataset index id.
func (c *Client) FetchIndex(ctx context.Context, id content.ID) (*content.Index, error) {
	var b strings.Builder
	if _, err := c.Stream(ctx, id, &b, nil); err != nil {
		return nil, err
	}
	return content.ParseIndex([]byte(b.String()))
}

// GetDataset restores dataset id under dir, verifying every file. Paths
// are checked again on the way out: an index naming a path that escapes
// dir is refused before anything is written. Every write goes through an
// os.Root opened on dir, and no folder is created in, and no file written
// through, a symbolic link found under dir: a link planted in an existing
// output folder is refused before anything is created at its target.
func (c *Client) GetDataset(ctx context.Context, id content.ID, dir string, opt DownloadOptions) (*content.Index, error) {
	idx, err := c.FetchIndex(ctx, id)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range idx.Files {
		if _, err := content.SafeJoin(dir, f.Path); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnsafePath, err)
		}
		total += f.Size
	}
	if opt.Total != nil {
		opt.Total(total)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%s exists and is not a folder; a dataset is restored into a folder\nhint: pass -o NEWFOLDER", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create folder %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// Small files come many to a request (batchread.go); the rest one by
	// one.
	got, err := c.getSmall(ctx, root, idx.Files, opt.Progress)
	if err != nil {
		return nil, err
	}
	var done int64
	for _, f := range idx.Files {
		if got[f.Path] {
			done += f.Size
			continue
		}
		if err := mkdirNoLinks(root, path.Dir(f.Path)); err != nil {
			return nil, err
		}
		base := done
		_, err := c.downloadIn(ctx, root, filepath.FromSlash(f.Path), f.ID, DownloadOptions{Progress: func(n int64) {
			if opt.Progress != nil {
				opt.Progress(base + n)
			}
		}})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		done += f.Size
	}
	return idx, nil
}

// mkdirNoLinks creates the folder rel (a valid dataset path, or ".") inside
// root one component at a time, refusing any component that exists as a
// symbolic link or as something other than a folder. Each component is
// checked before anything below it is created, so a planted link never has
// a folder made at its target.
func mkdirNoLinks(root *os.Root, rel string) error {
	if rel == "." {
		return nil
	}
	p := ""
	for part := range strings.SplitSeq(rel, "/") {
		p = path.Join(p, part)
		local := filepath.FromSlash(p)
		fi, err := root.Lstat(local)
		if errors.Is(err, fs.ErrNotExist) {
			if err := root.Mkdir(local, 0o755); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symbolic link; not restoring through it\nhint: restore into a new folder", ErrUnsafePath, filepath.Join(root.Name(), local))
		case !fi.IsDir():
			return fmt.Errorf("%w: %s exists and is not a folder\nhint: restore into a new folder", ErrUnsafePath, filepath.Join(root.Name(), local))
		}
	}
	return nil
}
