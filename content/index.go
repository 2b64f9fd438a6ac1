package content

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charter-dev/charter/internal/visible"
)

// DatasetMediaType is the media type of a dataset index.
const DatasetMediaType = "application/vnd.charter.dataset+json"

// IndexVersion is the dataset index format version this package writes and
// accepts.
const IndexVersion = 1

// Limits on dataset indexes. ParseIndex and Encode reject anything larger.
const (
	MaxIndexBytes   = 128 << 20 // encoded index size
	MaxIndexEntries = 1 << 20   // files per dataset
	MaxPathBytes    = 4096      // bytes in one path
	MaxSegmentBytes = 255       // bytes in one path segment
)

// ErrBadIndex reports a dataset index that is malformed, not canonical, or
// over a limit.
var ErrBadIndex = errors.New("content: bad dataset index")

// ErrBadPath reports a dataset path that is not a clean, relative,
// slash-separated path, or that would escape the restore directory.
var ErrBadPath = errors.New("content: bad dataset path")

// File is one entry of a dataset index.
type File struct {
	Path string // slash-separated, relative, clean; see ValidatePath
	Size int64
	ID   ID
}

// Index is a dataset: the list of its files sorted by path (byte order).
// Its canonical encoding (Encode) is stored as a blob, and that blob's
// content ID names the dataset.
type Index struct {
	Files []File
}

// NewIndex returns an index of files, sorted by path, after checking it
// (see ParseIndex for the rules). files is not modified.
func NewIndex(files []File) (*Index, error) {
	x := &Index{Files: slices.Clone(files)}
	slices.SortFunc(x.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if err := x.check(); err != nil {
		return nil, err
	}
	return x, nil
}

// TotalSize returns the sum of the file sizes.
func (x *Index) TotalSize() int64 {
	var n int64
	for _, f := range x.Files {
		n += f.Size
	}
	return n
}

// check validates x: limits, paths, order, sizes, ids, and that no path is
// both a file and a directory.
func (x *Index) check() error {
	if len(x.Files) > MaxIndexEntries {
		return fmt.Errorf("%w: %d files, at most %d allowed", ErrBadIndex, len(x.Files), MaxIndexEntries)
	}
	files := make(map[string]bool, len(x.Files))
	var total int64
	for i, f := range x.Files {
		if err := ValidatePath(f.Path); err != nil {
			return fmt.Errorf("%w: file %d: %w", ErrBadIndex, i, err)
		}
		if i > 0 {
			switch c := strings.Compare(x.Files[i-1].Path, f.Path); {
			case c == 0:
				return fmt.Errorf("%w: duplicate path %q", ErrBadIndex, f.Path)
			case c > 0:
				return fmt.Errorf("%w: paths not sorted: %q after %q", ErrBadIndex, f.Path, x.Files[i-1].Path)
			}
		}
		if f.Size < 0 {
			return fmt.Errorf("%w: %q: negative size %d", ErrBadIndex, f.Path, f.Size)
		}
		if total += f.Size; total < 0 {
			return fmt.Errorf("%w: total size overflows", ErrBadIndex)
		}
		if f.ID.IsZero() {
			return fmt.Errorf("%w: %q: missing content id", ErrBadIndex, f.Path)
		}
		files[f.Path] = true
	}
	for _, f := range x.Files {
		for i := 0; i < len(f.Path); i++ {
			if f.Path[i] == '/' && files[f.Path[:i]] {
				return fmt.Errorf("%w: %q is a file and also a directory of %q", ErrBadIndex, f.Path[:i], f.Path)
			}
		}
	}
	return nil
}

// Encode returns the canonical encoding of x: compact JSON with the keys in
// the order mediaType, version, files and, per file, path, size, id; paths
// written as raw UTF-8 with only '"' escaped; no whitespace and no trailing
// newline. ParseIndex(Encode(x)) gives back x, and Encode of a parsed index
// gives back the same bytes.
func (x *Index) Encode() ([]byte, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 96+len(x.Files)*128)
	b = append(b, `{"mediaType":"`+DatasetMediaType+`","version":`+strconv.Itoa(IndexVersion)+`,"files":[`...)
	for i, f := range x.Files {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"path":"`...)
		for j := 0; j < len(f.Path); j++ {
			if f.Path[j] == '"' {
				b = append(b, '\\')
			}
			b = append(b, f.Path[j])
		}
		b = append(b, `","size":`...)
		b = strconv.AppendInt(b, f.Size, 10)
		b = append(b, `,"id":"`...)
		b = append(b, f.ID.String()...)
		b = append(b, `"}`...)
	}
	b = append(b, "]}"...)
	if len(b) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: encoding is %d bytes, at most %d allowed", ErrBadIndex, len(b), MaxIndexBytes)
	}
	return b, nil
}

// ParseIndex parses a dataset index. It is strict: it accepts exactly the
// canonical encoding Encode writes, with every field present, no unknown
// fields, the media type and version this package knows, valid paths (see
// ValidatePath) in strictly increasing byte order, no path that is both a
// file and a directory, non-negative sizes, valid content IDs, and within
// MaxIndexBytes and MaxIndexEntries. It holds the whole index in memory;
// IndexReader reads one file at a time.
func ParseIndex(b []byte) (*Index, error) {
	if len(b) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadIndex, len(b), MaxIndexBytes)
	}
	r := NewIndexReader(bytes.NewReader(b))
	x := &Index{Files: []File{}}
	for {
		f, err := r.Next()
		if err == io.EOF {
			return x, nil
		}
		if err != nil {
			return nil, err
		}
		x.Files = append(x.Files, f)
	}
}

// ValidatePath reports whether p is a valid dataset path: 1 to MaxPathBytes
// bytes of valid UTF-8, relative (no leading '/'), slash-separated, with no
// empty, "." or ".." segment, no segment over MaxSegmentBytes, no
// backslash, and nothing Charter's rule for displayed text refuses
// (visible.Check: control characters, bidirectional controls such as
// U+202E, invisible characters). The error names the refused character and
// its position. Dataset parsers call it for every path.
func ValidatePath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrBadPath, p, why) }
	switch {
	case p == "":
		return bad("empty")
	case len(p) > MaxPathBytes:
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrBadPath, len(p), MaxPathBytes)
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case p[0] == '/':
		return bad("absolute")
	}
	if i := strings.IndexByte(p, '\\'); i >= 0 {
		return bad(fmt.Sprintf("backslash at character %d", utf8.RuneCountInString(p[:i])+1))
	}
	if err := visible.Check(p, false); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrBadPath, p, err)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return bad("empty segment")
		case seg == "." || seg == "..":
			return bad(`"." or ".." segment`)
		case len(seg) > MaxSegmentBytes:
			return bad("segment too long")
		}
	}
	return nil
}

// SafeJoin returns the local file path for dataset path rel under root,
// refusing any rel that is not a valid dataset path or is not local to root
// on this operating system (filepath.IsLocal: on Windows this also refuses
// drive letters and reserved names such as NUL).
//
// SafeJoin is lexical: it does not look at the file system, so a symbolic
// link inside root can still lead outside it. Restore into a fresh
// directory, or open files through os.Root.
func SafeJoin(root, rel string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: empty root directory", ErrBadPath)
	}
	if err := ValidatePath(rel); err != nil {
		return "", err
	}
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("%w: %q is not a local path on this system", ErrBadPath, rel)
	}
	return filepath.Join(root, local), nil
}
