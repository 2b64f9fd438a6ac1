package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// A verify report (POST /v1/blobs/{id}/verify) needs no key: any client
// whose download failed verification may say so. Before, each report made
// the server re-read and re-hash the whole blob, so a stranger sending
// reports in parallel about a large blob set the server's disk and CPU
// to work for nothing (a 100-byte request, gigabytes read), and honest
// downloads waited. Now a report makes the server verify only the range
// reported (what the client fetched), at most MaxVerifyReport bytes, and
// reports are verified one at a time; a report that finds the one slot
// busy for verifyWait is answered 503 busy. The daily scrub still reads
// everything.

// MaxVerifyReport is the most one verify report makes the server read:
// twice the client's download chunk.
const MaxVerifyReport = 16 << 20

// verifyWait is how long a report waits for the verification slot.
const verifyWait = 2 * time.Second

// reportedRange is the range a verify report makes the server check in a
// blob of size bytes: the range reported, cut to MaxVerifyReport; no range
// means the start of the blob.
func reportedRange(req VerifyRequest, size int64) (off, n int64, err error) {
	off, n = req.Offset, req.Length
	if off < 0 || n < 0 || off > size || n > size-off {
		return 0, 0, errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", fmt.Sprintf("range %d+%d is outside the blob's %d bytes", off, n, size), `report the range that failed: {"offset":N,"length":N}`, nil)
	}
	if n == 0 {
		n = size - off
	}
	return off, min(n, MaxVerifyReport), nil
}

// verifyReported verifies [off, off+n) of the stored blob id against its
// id, one report at a time.
func (s *Server) verifyReported(ctx context.Context, id content.ID, size, off, n int64) error {
	t := time.NewTimer(verifyWait)
	defer t.Stop()
	select {
	case s.verifySlot <- struct{}{}:
		defer func() { <-s.verifySlot }()
	case <-t.C:
		return &httpError{status: http.StatusServiceUnavailable, kind: "busy", title: "Server busy", detail: "another verify report is being checked", hint: "retry later; the server also re-verifies every blob on its own", retry: 5 * time.Second}
	case <-ctx.Done():
		return ctx.Err()
	}
	data, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Data})
	if err != nil {
		return err
	}
	defer data.Close()
	ob, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Outboard})
	if err != nil {
		return fmt.Errorf("%w: outboard of %s: %v", content.ErrCorrupt, id, err)
	}
	defer ob.Close()
	return verifyRange(id, data, ob, size, off, n)
}
