package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

// maxBatchReadBody bounds the body of POST /v1/blobs/batch-read.
const maxBatchReadBody = api.MaxBatchBlobs*64 + 4096

// batchRead serves many small blobs in one response (POST
// /v1/blobs/batch-read, docs/spec/http-api.md "Batch read"): for each
// asked id, in order, a record "ID ok SIZE\n" and the Bao slice of the
// whole blob, which the client verifies like any slice, or "ID problem
// LEN\n" and a problem document of LEN bytes refusing that blob alone.
// Each blob is checked on its own, as a single read would be: stored and
// not corrupt, at most api.MaxBatchBlobSize, and, when licensed, covered
// by the request's grant (the request is then signed by the grant's
// licensee, covering Charter-Grant), with its bytes reserved against the
// grant's quota and metered as they are written, one request per blob.
func (s *Server) batchRead(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	gid := r.Header.Get(HeaderGrant)
	var who identity.DID
	if gid != "" {
		var err error
		who, err = s.verifySigned(r, []string{"charter-grant"}, func(d identity.DID) error {
			// Only the licensee may spend nonces on this grant; what
			// it covers is checked blob by blob below.
			_, err := s.grantFor(ctx, gid, d, nil)
			return err
		})
		if err != nil {
			return err
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBatchReadBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "too-large", "Request too large", fmt.Sprintf("the list is over %d bytes", maxBatchReadBody), fmt.Sprintf("ask for at most %d ids at a time", api.MaxBatchBlobs), err)
		}
		return err
	}
	ids, err := parseIDs(b, api.MaxBatchBlobs)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-request", "Malformed batch read request", err.Error(), `send {"ids":["bafk…",…]}`, err)
	}
	w.Header().Set("Content-Type", api.MediaBlobStream)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, sliceBuffer)
	for _, id := range ids {
		obj, m, err := s.batchReadCheck(r, id, gid, who)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				s.log.Warn("batch read stopped", "id", id, "err", err)
				bw.Flush()
				return nil // the client sees the stream end early
			}
			p, _ := json.Marshal(batchProblem(he))
			fmt.Fprintf(bw, "%s problem %d\n", id, len(p))
			bw.Write(p)
			continue
		}
		if err := s.writeWhole(ctx, bw, obj, m); err != nil {
			s.log.Warn("batch read stopped", "id", id, "err", err)
			bw.Flush()
			return nil
		}
	}
	if err := bw.Flush(); err != nil {
		s.log.Debug("batch read", "err", err)
	}
	return nil
}

// batchReadCheck is what a single read of id checks: the blob is stored
// and not corrupt, small enough for a batch and, when licensed, covered
// by grant gid of licensee who, whose quota is charged one request and
// the blob's bytes (m, nil for free content).
func (s *Server) batchReadCheck(r *http.Request, id content.ID, gid string, who identity.DID) (catalog.Object, *metered, error) {
	ctx := r.Context()
	obj, err := s.lookup(ctx, id)
	if err != nil {
		return obj, nil, err
	}
	if obj.Size > api.MaxBatchBlobSize {
		return obj, nil, errorf(http.StatusRequestEntityTooLarge, "too-large", "Blob too large for a batch", fmt.Sprintf("%s has %d bytes; a batch read serves blobs of at most %d", id, obj.Size, api.MaxBatchBlobSize), "read it alone (GET /v1/blobs/{id}/slice)", nil)
	}
	needing, err := s.licensedBy(ctx, id)
	if err != nil || len(needing) == 0 {
		return obj, nil, err
	}
	if gid == "" {
		return obj, nil, errorf(http.StatusUnauthorized, "grant-required", "A grant is required", fmt.Sprintf("%s is licensed content of asset %s", id, needing[0]), fmt.Sprintf("request a grant: charter get %s --purpose PURPOSE", id), nil)
	}
	var gr *grant.Grant
	if gr, err = s.grantFor(ctx, gid, who, needing); err != nil {
		return obj, nil, err
	}
	m, err := s.reserve(r, gr, id, obj.Size)
	if err != nil {
		return obj, nil, err
	}
	m.start = 0
	return obj, m, nil
}

// writeWhole writes the record of stored blob obj: its header and the Bao
// slice of all its bytes, metered under m (nil: free content).
func (s *Server) writeWhole(ctx context.Context, w *bufio.Writer, obj catalog.Object, m *metered) error {
	sliceLen, err := content.SliceSize(obj.Size, 0, obj.Size)
	if err != nil {
		return err
	}
	data, err := s.blobs.Open(ctx, blob.Key{ID: obj.ID, Part: blob.Data})
	if err != nil {
		return err
	}
	defer data.Close()
	ob, err := s.blobs.Open(ctx, blob.Key{ID: obj.ID, Part: blob.Outboard})
	if err != nil {
		return err
	}
	defer ob.Close()
	if s.cfg.VerifyReads {
		if err := verifyRange(obj.ID, data, ob, obj.Size, 0, obj.Size); err != nil {
			s.recordCorruption(ctx, obj.ID, err)
			return err
		}
	}
	w.WriteString(obj.ID.String())
	w.WriteString(" ok ")
	w.WriteString(strconv.FormatInt(obj.Size, 10))
	w.WriteByte('\n')
	cw := &countWriter{w: w}
	err = content.ExtractRange(cw, data, ob, obj.Size, 0, obj.Size)
	if m != nil {
		d, _ := content.SliceData(obj.Size, 0, obj.Size, cw.n)
		m.record(context.WithoutCancel(ctx), d, true)
	}
	if err == nil && cw.n != sliceLen {
		err = fmt.Errorf("slice of %s: wrote %d bytes, want %d", obj.ID, cw.n, sliceLen)
	}
	return err
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
