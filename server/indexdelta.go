package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// isDelta reports whether an upload's body is a dataset index delta.
func isDelta(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == content.DatasetDeltaMediaType
}

// uploadDelta stores a new version of a dataset index sent as the changes
// to an index the server holds (POST /v1/blobs?id=NEW&kind=dataset with a
// content.DatasetDeltaMediaType body): the index of a 10,000-file dataset
// is about 1 MB, and a new version that changes 1% of the files would
// otherwise send it whole again. The upload must declare the id of the
// index the delta makes: the server applies the delta to the base, stores
// the result only if it hashes to that id, and checks it like any index.
// Knowing the base's id is thus not enough to make anything of it: the
// sender must know the whole new index, and so the base's. Every way the
// delta can fail to make the declared index gets the one answer (422
// delta-mismatch), so a delta cannot probe which paths a base it cannot
// read lists. The key is charged the delta's bytes and then the stored
// index's.
func (s *Server) uploadDelta(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v := r.URL.Query().Get("id")
	if v == "" {
		return errorf(http.StatusBadRequest, "bad-request", "A dataset delta must declare the index it makes", "a delta upload needs ?id= naming the index the delta makes of its base", "send ?id=<the new index's content id>&kind=dataset", nil)
	}
	want, err := content.ParseID(v)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-id", "Malformed content id", fmt.Sprintf("declared id %q is not a Charter content id", v), "", err)
	}
	if k := catalog.Kind(r.URL.Query().Get("kind")); k != "" && k != catalog.KindDataset {
		return errorf(http.StatusBadRequest, "bad-kind", "A delta makes a dataset index", fmt.Sprintf("kind %q: a dataset delta makes a dataset index", k), "send kind=dataset or no kind", nil)
	}
	if r.ContentLength > content.MaxIndexBytes {
		return errorf(http.StatusRequestEntityTooLarge, "too-large", "Upload too large", fmt.Sprintf("a dataset delta is at most %d bytes", content.MaxIndexBytes), "", nil)
	}
	who, err := s.uploader(w, r, false)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(&exactReader{r: http.MaxBytesReader(w, r.Body, content.MaxIndexBytes), want: r.ContentLength})
	if err != nil {
		switch {
		case errors.Is(err, httpsig.ErrDigestMismatch):
			return errorf(http.StatusBadRequest, "digest-mismatch", "Content does not match the signed digest", "the uploaded delta does not match the request's Content-Digest; nothing was kept", "", err)
		case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "truncated", "Upload truncated", "the upload ended before its declared length; nothing was kept", "retry the upload", err)
		}
		return err
	}
	d, err := content.ParseIndexDelta(raw)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-request", "Malformed dataset delta", err.Error(), "see docs/spec/dataset-index.md, \"Delta\"", err)
	}
	if _, err := s.cat.Object(ctx, d.Base); errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusConflict, "delta-base-missing", "The delta's base index is not on this server", fmt.Sprintf("%s is not stored here; nothing was kept", d.Base), "send the whole index (the charter CLI and client do this on their own)", err)
	} else if err != nil {
		return err
	}
	mismatch := errorf(http.StatusUnprocessableEntity, "delta-mismatch", "The delta does not make the declared index", fmt.Sprintf("the delta applied to %s does not make a valid dataset index with id %s; nothing was kept", d.Base, want), "send the whole index (the charter CLI and client do this on their own)", nil)
	base, err := s.datasetIndex(ctx, d.Base)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return mismatch // not an index, or unreadable: said the same way
	}
	x, err := d.Apply(base)
	if err != nil {
		return mismatch
	}
	idx, err := x.Encode()
	if err != nil {
		return mismatch
	}
	if err := s.chargeUpload(ctx, who, int64(len(idx))); err != nil {
		return err
	}
	info, err := blob.Put(ctx, s.blobs, bytes.NewReader(idx), &want)
	if errors.Is(err, blob.ErrMismatch) {
		return mismatch
	}
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	obj := catalog.Object{ID: info.ID, Size: info.Size, Kind: catalog.KindBlob, Created: time.Now()}
	if err := s.cat.PutObject(ctx, obj); err != nil {
		return err
	}
	if _, err := s.checkIndex(ctx, info.ID); err != nil {
		return err
	}
	kind, err := s.kindOf(ctx, info.ID)
	if err != nil {
		return err
	}
	s.log.Info("stored from a dataset delta", "id", info.ID, "size", info.Size, "base", d.Base, "delta", len(raw), "by", who)
	writeJSON(w, http.StatusCreated, BlobInfo{ID: info.ID.String(), Size: info.Size, Kind: string(kind), Created: true})
	return nil
}
