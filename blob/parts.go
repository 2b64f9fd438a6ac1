package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// PartStore is a backend that keeps the parts of resumable uploads: bytes
// a client sent in numbered parts, across requests, replicas and restarts,
// until the upload is complete or abandoned. Parts are not content: they
// have no id, are never visible through Opener or Enumerate, and become a
// blob only through Put, which hashes them like any bytes
// (docs/spec/resumable-uploads.md). Upload names are chosen by the caller
// (lower-case hex, at most 64 characters).
type PartStore interface {
	// PutPart stores part n of upload u durably: once it returns nil the
	// part survives a crash. size is the part's length; r must yield
	// exactly that many bytes, or nothing is kept. A part stored before
	// is replaced.
	PutPart(ctx context.Context, u string, n int, r io.Reader, size int64) error
	// Parts returns the stored parts of u and their sizes (none: empty).
	Parts(ctx context.Context, u string) (map[int]int64, error)
	// OpenPart opens part n of u for reading.
	OpenPart(ctx context.Context, u string, n int) (io.ReadCloser, error)
	// DropUpload removes every part of u; dropping nothing is not an error.
	DropUpload(ctx context.Context, u string) error
	// Uploads calls fn for every upload with parts and the time its
	// newest part was stored, in no particular order.
	Uploads(ctx context.Context, fn func(u string, modified time.Time) error) error
}

// ErrPartSize reports a part whose bytes were not the size declared.
var ErrPartSize = errors.New("blob: part is not its declared size")

// ValidUpload reports whether u is a valid upload name: 1 to 64
// lower-case hex digits.
func ValidUpload(u string) bool {
	if len(u) == 0 || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
