package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// Resumable uploads (docs/spec/resumable-uploads.md). A client that has
// hashed a large file sends it in numbered parts (PUT
// /v1/uploads/{id}/{part}?size=N), each its own signed request, each kept
// durably by the blob store (blob.PartStore) as it arrives; POST
// /v1/uploads/{id}?size=N says which parts the server holds and, once it
// holds them all, streams them in order through blob.Put, which hashes
// them and keeps the blob only if it is id. An interrupted upload loses at
// most the part in flight: the next put asks, and sends the rest.
//
// An upload is named by the key that signs its requests, the id and the
// size (uploadName): no other key can add to it, read it or complete it,
// and no name is handed out. A key has at most MaxOpenUploads uploads at
// once; every part is charged to its upload quota when it is received;
// an upload whose newest part is older than UploadStaleAfter is dropped
// when any key starts a new one.

// Bounds of resumable uploads.
const (
	DefaultUploadPartSize = 64 << 20
	MaxOpenUploads        = 4
	MaxResumableUpload    = 1 << 40
	UploadStaleAfter      = 24 * time.Hour
)

func (s *Server) uploadPartSize() int64 {
	if s.cfg.UploadPartSize > 0 {
		return s.cfg.UploadPartSize
	}
	return DefaultUploadPartSize
}

// uploadName names who's upload of size bytes of id: 16 hex digits of the
// key (so a key's uploads are counted by prefix) and 32 of the whole.
func uploadName(who identity.DID, id content.ID, size int64) string {
	k := sha256.Sum256([]byte(who.String()))
	u := sha256.Sum256([]byte(who.String() + "\n" + id.String() + "\n" + strconv.FormatInt(size, 10)))
	return hex.EncodeToString(k[:8]) + hex.EncodeToString(u[:16])
}

// uploadTarget reads {id} and ?size= of a resumable upload request and
// returns the parts store.
func (s *Server) uploadTarget(r *http.Request) (blob.PartStore, content.ID, int64, error) {
	ps, ok := s.blobs.(blob.PartStore)
	if !ok {
		return nil, content.ID{}, 0, errorf(http.StatusNotImplemented, "resumable-unsupported", "Resumable uploads are not available", "this server's blob store cannot keep parts of uploads", "send the whole upload (POST /v1/blobs)", nil)
	}
	id, err := pathID(r)
	if err != nil {
		return nil, id, 0, err
	}
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size < 1 || size > MaxResumableUpload {
		return nil, id, 0, errorf(http.StatusBadRequest, "bad-request", "Bad upload size", fmt.Sprintf("?size=%q: a resumable upload declares its total size, 1 to %d bytes", r.URL.Query().Get("size"), int64(MaxResumableUpload)), "", err)
	}
	return ps, id, size, nil
}

// parts is the number of parts of an upload of size bytes.
func (s *Server) parts(size int64) int {
	p := s.uploadPartSize()
	return int((size + p - 1) / p)
}

// partLen is the length of part n of an upload of size bytes.
func (s *Server) partLen(size int64, n int) int64 {
	p := s.uploadPartSize()
	return min(p, size-int64(n)*p)
}

// uploadPart stores one part of a resumable upload.
func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request) error {
	ps, id, size, err := s.uploadTarget(r)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("part"))
	if err != nil || n < 0 || n >= s.parts(size) || strconv.Itoa(n) != r.PathValue("part") {
		return errorf(http.StatusBadRequest, "bad-part", "No such part", fmt.Sprintf("part %q: an upload of %d bytes in parts of %d has parts 0 to %d", r.PathValue("part"), size, s.uploadPartSize(), s.parts(size)-1), "", err)
	}
	want := s.partLen(size, n)
	if r.ContentLength != want {
		return errorf(http.StatusBadRequest, "bad-part", "Wrong part length", fmt.Sprintf("part %d of an upload of %d bytes is %d bytes; this request declares %d", n, size, want, r.ContentLength), "", nil)
	}
	who, err := s.signedWith(r, httpsig.VerifyOptions{StreamBody: true}, nil, "sign each part with your key (RFC 9421), including a Content-Digest of the part")
	if err != nil {
		return err
	}
	ctx := r.Context()
	name := uploadName(who, id, size)
	held, err := ps.Parts(ctx, name)
	if err != nil {
		return err
	}
	if len(held) == 0 {
		if err := s.startUpload(ctx, ps, name); err != nil {
			return err
		}
	}
	if err := s.chargeUpload(ctx, who, want); err != nil {
		return err
	}
	body := &exactReader{r: r.Body, want: want}
	if err := ps.PutPart(ctx, name, n, body, want); err != nil {
		switch {
		case errors.Is(err, httpsig.ErrDigestMismatch):
			return errorf(http.StatusBadRequest, "digest-mismatch", "Content does not match the signed digest", "the part does not match the request's Content-Digest; it was not kept", "check that the file did not change while it was uploaded", err)
		case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, blob.ErrPartSize):
			return errorf(http.StatusBadRequest, "truncated", "Upload truncated", "the part ended before its declared length; it was not kept", "retry the upload", err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, api.UploadPart{Part: n, Size: want})
	return nil
}

// startUpload admits a key's new upload: it drops every stale upload and
// refuses a key that has MaxOpenUploads already.
func (s *Server) startUpload(ctx context.Context, ps blob.PartStore, name string) error {
	open := 0
	cutoff := time.Now().Add(-UploadStaleAfter)
	err := ps.Uploads(ctx, func(u string, mod time.Time) error {
		if mod.Before(cutoff) {
			if err := ps.DropUpload(ctx, u); err != nil {
				return err
			}
			s.log.Info("dropped a stale resumable upload", "upload", u, "last part", mod)
			return nil
		}
		if len(u) >= 16 && u[:16] == name[:16] {
			open++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if open >= MaxOpenUploads {
		return errorf(http.StatusTooManyRequests, "too-many-uploads", "Too many unfinished uploads", fmt.Sprintf("this key has %d unfinished resumable uploads, the most one key may have", open), fmt.Sprintf("finish one (or let it expire: an upload is dropped %v after its last part)", UploadStaleAfter), nil)
	}
	return nil
}

// uploadFinish says which parts of a resumable upload the server holds
// and, once it holds them all, stores the blob.
func (s *Server) uploadFinish(w http.ResponseWriter, r *http.Request) error {
	ps, id, size, err := s.uploadTarget(r)
	if err != nil {
		return err
	}
	who, err := s.signedWith(r, httpsig.VerifyOptions{}, nil, "sign with the key that sent the parts (RFC 9421)")
	if err != nil {
		return err
	}
	ctx := r.Context()
	name := uploadName(who, id, size)
	held, err := ps.Parts(ctx, name)
	if err != nil {
		return err
	}
	st := api.UploadStatus{ID: id.String(), Size: size, PartSize: s.uploadPartSize(), Parts: []int{}}
	for n, got := range held {
		if n < s.parts(size) && got == s.partLen(size, n) {
			st.Parts = append(st.Parts, n)
			st.Held += got
		}
	}
	slices.Sort(st.Parts)
	if len(st.Parts) < s.parts(size) {
		writeJSON(w, http.StatusOK, st)
		return nil
	}
	// Every part is here: one pass through blob.Put, which hashes them.
	// A stored copy known corrupt is dropped first, so the new bytes
	// replace it (as POST /v1/blobs?id= does).
	_, repair := s.corrupt(ctx, id)
	if repair {
		if err := blob.Delete(ctx, s.blobs, id); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	pr := &partsReader{ctx: ctx, ps: ps, u: name, count: s.parts(size)}
	defer pr.close()
	info, err := blob.Put(ctx, s.blobs, pr, &id)
	if errors.Is(err, blob.ErrMismatch) {
		ps.DropUpload(context.WithoutCancel(ctx), name)
		return errorf(http.StatusUnprocessableEntity, "id-mismatch", "Content does not match the declared id", fmt.Sprintf("the parts do not hash to %s; they were dropped", id), "check that the file did not change while it was uploaded, and put it again", err)
	}
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if repair {
		if _, verr := s.verifyBlob(ctx, info.ID); verr != nil {
			return verr
		}
		if err := s.cat.ClearCorrupt(ctx, info.ID); err != nil {
			return err
		}
		s.log.Info("repaired corrupt blob", "id", info.ID)
	}
	if err := s.cat.PutObject(ctx, catalog.Object{ID: info.ID, Size: info.Size, Kind: catalog.KindBlob, Created: time.Now()}); err != nil {
		return err
	}
	if err := ps.DropUpload(ctx, name); err != nil {
		s.log.Warn("dropping the parts of a finished upload", "upload", name, "err", err)
	}
	kind, err := s.kindOf(ctx, info.ID)
	if err != nil {
		return err
	}
	s.log.Info("stored from a resumable upload", "id", info.ID, "size", info.Size, "parts", len(st.Parts), "by", who)
	writeJSON(w, http.StatusCreated, BlobInfo{ID: info.ID.String(), Size: info.Size, Kind: string(kind), Created: true})
	return nil
}

// partsReader reads the parts of an upload in order, one open at a time.
type partsReader struct {
	ctx   context.Context
	ps    blob.PartStore
	u     string
	count int
	next  int
	cur   io.ReadCloser
}

func (p *partsReader) close() {
	if p.cur != nil {
		p.cur.Close()
		p.cur = nil
	}
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if p.next == p.count {
				return 0, io.EOF
			}
			rc, err := p.ps.OpenPart(p.ctx, p.u, p.next)
			if err != nil {
				return 0, err
			}
			p.cur, p.next = rc, p.next+1
		}
		n, err := p.cur.Read(b)
		if err == io.EOF {
			p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}
