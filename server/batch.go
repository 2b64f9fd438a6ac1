package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// exactN reads exactly n bytes of r: it reports io.ErrUnexpectedEOF
// when r ends first (a record cut short), and an end after n bytes.
type exactN struct {
	r io.Reader
	n int64
}

func (e *exactN) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// uploadBatch stores many small blobs sent in one signed request (POST
// /v1/blobs/batch, docs/spec/http-api.md "Batch upload"). The request is
// bounded (api.MaxBatchBytes, api.MaxBatchBlobs, api.MaxBatchBlobSize),
// signed, and charged to the key's quota like one upload of its length.
// Every record declares its id; each blob is hashed by blob.Put as it
// arrives and kept only if it matches, and a blob that does not is
// reported alone, the others kept. The blobs go into one blob.Group,
// committed only after the whole body was read and matched its signed
// digest: a body refused for any reason keeps nothing, and the blobs of
// an accepted one are made durable together (one flush for the lot on
// blob/localfs) before the answer.
func (s *Server) uploadBatch(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > api.MaxBatchBytes {
		return errorf(http.StatusRequestEntityTooLarge, "too-large", "Batch too large", fmt.Sprintf("%d bytes is over the batch limit of %d", r.ContentLength, api.MaxBatchBytes), fmt.Sprintf("send at most %d bytes and %d blobs per batch", api.MaxBatchBytes, api.MaxBatchBlobs), nil)
	}
	who, err := s.uploader(w, r, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	body := &exactReader{r: http.MaxBytesReader(w, r.Body, api.MaxBatchBytes), want: r.ContentLength}
	br := bufio.NewReaderSize(body, 64<<10)
	g, err := blob.NewGroup(ctx, s.blobs)
	if err != nil {
		return err
	}
	defer g.Abort()

	type kept struct {
		i      int // index in results
		id     content.ID
		size   int64
		repair bool
	}
	var (
		results []api.BatchResult
		stored  []kept
		seen    = map[content.ID]int{} // id -> index of the result that stored or holds it
	)
	refuse := func(err error) error {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, api.ErrBatchFormat):
			return errorf(http.StatusBadRequest, "bad-batch", "Malformed batch upload", fmt.Sprintf("record %d: %s; nothing was kept", len(results)+1, err), `frame each blob as "ID SIZE\n" followed by SIZE bytes`, err)
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "too-large", "Batch too large", fmt.Sprintf("the body is over the batch limit of %d bytes; nothing was kept", api.MaxBatchBytes), "", err)
		case errors.Is(err, httpsig.ErrDigestMismatch):
			return errorf(http.StatusBadRequest, "digest-mismatch", "Content does not match the signed digest", "the uploaded bytes do not match the request's Content-Digest; nothing was kept", "check that no file changed while it was uploaded", err)
		case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "truncated", "Upload truncated", "the batch ended before its declared length or inside a record; nothing was kept", "retry the upload", err)
		}
		return err
	}
	for {
		id, size, err := api.ReadBatchHeader(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(err)
		}
		if len(results) == api.MaxBatchBlobs {
			return errorf(http.StatusRequestEntityTooLarge, "too-large", "Batch too large", fmt.Sprintf("more than %d blobs in one batch; nothing was kept", api.MaxBatchBlobs), fmt.Sprintf("send at most %d blobs per batch", api.MaxBatchBlobs), nil)
		}
		rec := &exactN{r: br, n: size}
		res := api.BatchResult{ID: id.String(), Size: size}
		if j, ok := seen[id]; ok {
			// The same content again in this batch: one copy is enough.
			if _, err := io.Copy(io.Discard, rec); err != nil {
				return refuse(err)
			}
			res.Size, res.Kind = results[j].Size, results[j].Kind
			results = append(results, res)
			continue
		}
		obj, err := s.cat.Object(ctx, id)
		_, bad := s.corrupt(ctx, id)
		switch {
		case err == nil && !bad:
			// Already held (the client did not ask first): not stored again.
			if _, err := io.Copy(io.Discard, rec); err != nil {
				return refuse(err)
			}
			res.Size = obj.Size
			seen[id] = len(results)
			results = append(results, res)
			continue
		case err != nil && !errors.Is(err, catalog.ErrNotFound):
			return err
		}
		info, err := blob.Put(ctx, g, rec, &id)
		if errors.Is(err, blob.ErrMismatch) {
			p := batchProblem(errorf(http.StatusUnprocessableEntity, "id-mismatch", "Content does not match the declared id", fmt.Sprintf("the bytes of this record do not hash to %s; this blob was not kept, the others were", id), "check that the file did not change while it was uploaded", nil))
			res.Problem = &p
			results = append(results, res)
			continue
		}
		if err != nil {
			return refuse(err)
		}
		seen[id] = len(results)
		stored = append(stored, kept{i: len(results), id: id, size: info.Size, repair: bad})
		res.Size, res.Created = info.Size, true
		results = append(results, res)
	}
	// The whole body is read and matched its digest: now, and only now,
	// repair bad copies and make the new blobs visible.
	for _, k := range stored {
		if k.repair {
			if err := blob.Delete(ctx, s.blobs, k.id); err != nil && !errors.Is(err, blob.ErrNotFound) {
				return err
			}
		}
	}
	if err := g.Commit(ctx); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx) // stored: record them even if the client goes
	var unindexed []catalog.Claimant
	if len(stored) > 0 {
		if unindexed, err = s.cat.Unindexed(ctx); err != nil {
			return err
		}
	}
	now := time.Now()
	objects := make([]catalog.Object, 0, len(stored))
	for _, k := range stored {
		if k.repair {
			if _, verr := s.verifyBlob(ctx, k.id); verr != nil {
				p := batchProblem(errorf(http.StatusConflict, "corrupt-stored-copy", "The stored copy of this content is corrupt", fmt.Sprintf("%s is stored but failed verification", k.id), "upload it again declaring its id", nil))
				results[k.i].Problem, results[k.i].Created = &p, false
				continue
			}
			if err := s.cat.ClearCorrupt(ctx, k.id); err != nil {
				return err
			}
			s.log.Info("repaired corrupt blob", "id", k.id)
		}
		objects = append(objects, catalog.Object{ID: k.id, Size: k.size, Kind: catalog.KindBlob, Created: now})
	}
	// One catalog transaction for the batch's new blobs.
	if err := s.cat.PutObjects(ctx, objects); err != nil {
		return err
	}
	for _, o := range objects {
		if slices.ContainsFunc(unindexed, func(u catalog.Claimant) bool { return u.Content == o.ID.String() }) {
			if err := s.reindex(ctx, o.ID); err != nil {
				s.log.Warn("re-reading a restored dataset index", "id", o.ID, "err", err)
			}
		}
	}
	for i := range results {
		if results[i].Problem != nil {
			continue
		}
		id, _ := content.ParseID(results[i].ID)
		kind, err := s.kindOf(ctx, id)
		if err != nil {
			return err
		}
		results[i].Kind = string(kind)
	}
	s.log.Info("stored batch", "blobs", len(results), "new", len(stored), "bytes", r.ContentLength, "by", who)
	writeJSON(w, http.StatusOK, api.BatchAnswer{Blobs: results})
	return nil
}

// batchProblem is the problem document of err (an errorf), for answers
// that carry problems of their parts (a batch's blobs) in a 200 response.
func batchProblem(err error) api.Problem {
	he := err.(*httpError)
	return api.Problem{Type: ProblemTypeBase + he.kind, Title: he.title, Status: he.status, Detail: he.detail, Hint: he.hint}
}
