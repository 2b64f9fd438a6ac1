package localfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// The outboard of a blob of at most one chunk group (content.GroupSize,
// 16 KiB) is its 8-byte header alone: the data's length, little-endian
// (content.OutboardSize). A group, which holds the many small blobs of a
// batch upload, does not write such an outboard: it would be a second
// file per blob, half the file system work of a batch. Open and Stat of
// the outboard part derive it from the data part's size instead, so
// readers see the same bytes as if it were stored, and it exists exactly
// when the data does (Put's rule "no data without its outboard" holds).
// The data is still verified against its id on every read: a data file
// whose size changed on disk gets a header of the wrong length, and its
// verification fails as it would with the stored header. An outboard
// written by a single Put stays a file, and is found first.
const impliedHeader = 8

// isImpliedOutboard reports whether b, the whole of a staged outboard, is
// one that Open and Stat can derive from its data: a header alone, of a
// length of at most one group.
func isImpliedOutboard(b []byte) bool {
	return len(b) == impliedHeader && binary.LittleEndian.Uint64(b) <= content.GroupSize
}

// impliedOutboard returns the derived outboard of the blob whose outboard
// file p does not exist, or ErrNotFound (wrapped) when its data part does
// not exist or is larger than one group.
func (s *Store) impliedOutboard(ctx context.Context, k blob.Key) ([]byte, error) {
	data, err := s.keyPath(blob.Key{ID: k.ID, Part: blob.Data})
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("localfs: %s: %w", k, blob.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("localfs: %s: %w", k, err)
	case !fi.Mode().IsRegular() || fi.Size() > content.GroupSize:
		return nil, fmt.Errorf("localfs: %s: %w", k, blob.ErrNotFound)
	}
	b := make([]byte, impliedHeader)
	binary.LittleEndian.PutUint64(b, uint64(fi.Size()))
	return b, nil
}

// memReader is a blob.Reader of bytes in memory (an implied outboard).
type memReader struct {
	*bytes.Reader
}

func (m memReader) Close() error { return nil }
func (m memReader) Size() int64  { return m.Reader.Size() }
