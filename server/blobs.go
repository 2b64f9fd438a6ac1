package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/console"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/registry"
)

// Media types of the data plane.
const (
	MediaOctets   = "application/octet-stream"
	MediaSlice    = "application/vnd.charter.bao-slice"
	MediaOutboard = "application/vnd.charter.bao-outboard"
	MediaDataset  = "application/vnd.charter.dataset+json"
)

// Response headers of the data plane.
const (
	HeaderID   = "Charter-Id"
	HeaderSize = "Charter-Size"
	HeaderKind = "Charter-Kind"
)

// BlobInfo is api.BlobInfo.
type BlobInfo = api.BlobInfo

// route is one endpoint of the API. The table is the single list of
// endpoints; a test checks it against /openapi.json both ways.
type route struct {
	method, pattern string
	h               func(http.ResponseWriter, *http.Request) error
}

func (s *Server) routeTable() []route {
	return []route{
		{"POST", "/v1/blobs", s.upload},
		{"POST", "/v1/blobs/missing", s.missing},
		{"PUT", "/v1/uploads/{id}/{part}", s.uploadPart},
		{"POST", "/v1/uploads/{id}", s.uploadFinish},
		{"POST", "/v1/blobs/batch", s.uploadBatch},
		{"POST", "/v1/blobs/batch-read", s.batchRead},
		{"GET", "/v1/blobs/{id}", s.download},
		{"HEAD", "/v1/blobs/{id}", s.download},
		{"GET", "/v1/blobs/{id}/info", s.info},
		{"GET", "/v1/blobs/{id}/slice", s.slice},
		{"GET", "/v1/blobs/{id}/outboard", s.outboard},
		{"POST", "/v1/blobs/{id}/verify", s.verifyReport},
		{"GET", "/healthz", s.health},
		{"GET", "/livez", s.livez},
		{"GET", "/readyz", s.readyz},
		{"GET", "/metrics", s.metrics},
		{"GET", "/openapi.json", s.openapi},
		{"GET", "/log/checkpoint", s.logFiles},
		{"GET", "/log/key", s.logFiles},
		{"GET", "/log/tile/{path...}", s.logFiles},
		{"GET", "/v1/log/proof/{index}", s.logProof},
		{"GET", "/v1/log/consistency", s.logConsistency},
		{"POST", "/v1/assets", s.register},
		{"GET", "/v1/assets", s.listAssets},
		{"GET", "/v1/assets/{id}", s.getAsset},
		{"GET", "/v1/assets/{id}/lineage", s.lineage},
		{"POST", "/v1/assets/{id}/proposals", s.propose},
		{"GET", "/v1/proposals", s.listProposals},
		{"GET", "/v1/proposals/{id}", s.getProposal},
		{"POST", "/v1/proposals/{id}/approvals", s.approve},
		{"POST", "/v1/assets/{id}/grants", s.requestGrant},
		{"GET", "/v1/assets/{id}/grants", s.listGrants},
		{"GET", "/v1/grants", s.listGrants},
		{"GET", "/v1/grants/{id}", s.getGrant},
		{"POST", "/v1/grants/{id}/revoke", s.revokeGrant},
		{"GET", "/v1/grant-requests", s.listGrantRequests},
		{"POST", "/v1/grant-requests/{id}/approvals", s.voteGrantRequest},
		{"POST", "/v1/sessions/{id}/close", s.closeSession},
		{"POST", "/v1/usage", s.reportUsage},
		{"POST", "/v1/settle", s.settleHandler},
		{"GET", "/v1/earnings", s.earnings},
		{"GET", "/v1/accounts", s.accounts},
		{"GET", "/v1/assets/{id}/unsettled", s.unsettled},
		{"POST", "/v1/funds", s.fund},
		{"POST", "/v1/withdrawals", s.withdraw},
		{"POST", "/v1/disputes", s.openDispute},
		{"GET", "/v1/disputes", s.listDisputes},
		{"POST", "/v1/disputes/{id}/resolve", s.resolveDispute},
		{"POST", "/v1/credentials", s.issueCredential},
		{"GET", "/v1/credentials", s.listCredentials},
		{"POST", "/v1/credentials/{id}/revoke", s.revokeCredential},
	}
}

func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		f := rt.h
		s.mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := f(w, r); err != nil {
				s.writeProblem(w, r, err)
			}
		})
	}
	ui := console.Handler()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/log/")
		if !api && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			ui.ServeHTTP(w, r) // the web console, embedded in the binary
			return
		}
		s.writeProblem(w, r, errorf(http.StatusNotFound, "not-found", "Not found", "no such endpoint: "+r.Method+" "+r.URL.Path, "see /openapi.json for the API", nil))
	})
}

func pathID(r *http.Request) (content.ID, error) {
	id, err := content.ParseID(r.PathValue("id"))
	if err != nil {
		return id, errorf(http.StatusBadRequest, "bad-id", "Malformed content id", fmt.Sprintf("%q is not a Charter content id", r.PathValue("id")), "content ids are CIDv1 raw blake3 strings starting with \"bafk\"", err)
	}
	return id, nil
}

// upload stores the request body. The request must be signed (RFC 9421)
// by a key, which is charged the bytes against the operator's quotas. The
// body is streamed through blob.Put, which hashes it; a declared id (?id=)
// that does not match, or a body that does not match its signed
// Content-Digest, keeps nothing. With ?kind=dataset the stored body is
// also checked to be a valid dataset index whose files are all stored;
// the kind the server reports comes only from the log (a registered
// dataset), never from this parameter.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) error {
	if isDelta(r) {
		return s.uploadDelta(w, r) // indexdelta.go
	}
	ctx := r.Context()
	var want *content.ID
	if v := r.URL.Query().Get("id"); v != "" {
		id, err := content.ParseID(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad-id", "Malformed content id", fmt.Sprintf("declared id %q is not a Charter content id", v), "", err)
		}
		want = &id
	}
	checkIndex := false
	switch kind := catalog.Kind(r.URL.Query().Get("kind")); kind {
	case "", catalog.KindBlob:
	case catalog.KindDataset:
		checkIndex = true
	default:
		return errorf(http.StatusBadRequest, "bad-kind", "Unknown object kind", fmt.Sprintf("kind %q is neither blob nor dataset", kind), "", nil)
	}
	who, err := s.uploader(w, r, want != nil)
	if err != nil {
		return err
	}
	body := io.Reader(r.Body)
	if max := s.maxUpload(); max > 0 {
		body = http.MaxBytesReader(w, r.Body, max)
	}
	body = &exactReader{r: body, want: r.ContentLength}
	repair := false
	if want != nil {
		if _, bad := s.corrupt(ctx, *want); bad {
			// The client re-sends the bytes of a blob whose stored copy
			// is corrupt: drop the bad copy so the new bytes are kept.
			if err := blob.Delete(ctx, s.blobs, *want); err != nil && !errors.Is(err, blob.ErrNotFound) {
				return err
			}
			repair = true
		}
	}
	info, err := blob.Put(ctx, s.blobs, body, want)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "too-large", "Upload too large", fmt.Sprintf("the upload is over this server's limit of %d bytes; nothing was kept", s.maxUpload()), "", err)
		case errors.Is(err, blob.ErrMismatch):
			return errorf(http.StatusUnprocessableEntity, "id-mismatch", "Content does not match the declared id", fmt.Sprintf("the uploaded bytes do not hash to %s; nothing was kept", want), "check that the file did not change while it was uploaded", err)
		case errors.Is(err, httpsig.ErrDigestMismatch):
			return errorf(http.StatusBadRequest, "digest-mismatch", "Content does not match the signed digest", "the uploaded bytes do not match the request's Content-Digest; nothing was kept", "check that the file did not change while it was uploaded", err)
		case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "truncated", "Upload truncated", "the upload ended before its declared length; nothing was kept", "retry the upload", err)
		}
		return err
	}
	// The bytes are stored: record them even if the client goes away now
	// (a cancelled request would leave a blob the catalog lacks until the
	// next start, and admin check would report it).
	ctx = context.WithoutCancel(ctx)
	if _, bad := s.corrupt(ctx, info.ID); bad {
		if _, verr := s.verifyBlob(ctx, info.ID); verr != nil || !repair {
			return errorf(http.StatusConflict, "corrupt-stored-copy", "The stored copy of this content is corrupt", fmt.Sprintf("%s is stored but failed verification; upload it again declaring its id to replace the bad copy", info.ID), "the charter CLI and client do this on their own", nil)
		}
		if err := s.cat.ClearCorrupt(ctx, info.ID); err != nil {
			return err
		}
		s.log.Info("repaired corrupt blob", "id", info.ID)
	}
	obj := catalog.Object{ID: info.ID, Size: info.Size, Kind: catalog.KindBlob, Created: time.Now()}
	if err := s.cat.PutObject(ctx, obj); err != nil {
		return err
	}
	if err := s.reindex(ctx, info.ID); err != nil {
		s.log.Warn("re-reading a restored dataset index", "id", info.ID, "err", err)
	}
	if checkIndex {
		if _, err := s.checkIndex(ctx, info.ID); err != nil {
			return err
		}
	}
	kind, err := s.kindOf(ctx, info.ID)
	if err != nil {
		return err
	}
	s.log.Info("stored", "id", info.ID, "size", info.Size, "kind", kind, "by", who)
	writeJSON(w, http.StatusCreated, BlobInfo{ID: info.ID.String(), Size: info.Size, Kind: string(kind), Created: true})
	return nil
}

// recordUnlisted records, once at start, the blobs the store holds and the
// catalog does not: an upload stores the blob, then records it, so a crash
// between the two leaves a blob the upload never acknowledged, which a
// rebuild (and admin check) records like any other. Recording it here
// keeps the catalog equal to its rebuild; a re-upload would record it too.
// It runs in the background: the store is enumerated, not read.
func (s *Server) recordUnlisted(ctx context.Context) {
	n := 0
	err := s.blobs.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		if _, err := s.cat.Object(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		n++
		return s.cat.PutObject(ctx, catalog.Object{ID: id, Size: size, Kind: catalog.KindBlob, Created: time.Now()})
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("recording stored blobs the catalog lacks", "recorded", n, "err", err)
	}
	if n > 0 {
		s.log.Info("recorded stored blobs the catalog lacked (an upload cut by a crash)", "blobs", n)
	}
}

// Upload limits when Config leaves them zero.
const (
	DefaultMaxUpload        = 4 << 30  // one upload
	DefaultUploadQuotaDay   = 64 << 30 // per key per UTC day
	DefaultUploadQuotaTotal = 1 << 40  // per key, all time
)

func (s *Server) maxUpload() int64 { return limit(s.cfg.MaxUpload, DefaultMaxUpload) }

// limit is v, or def when v is zero; negative means no limit (0).
func limit(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// uploader verifies the upload's signature and charges its declared
// length to the signing key's quotas. idBound says the upload declares
// its content id in the signed query, which binds the body as well as a
// Content-Digest (docs/spec/http-signatures.md): one is then optional.
func (s *Server) uploader(w http.ResponseWriter, r *http.Request, idBound bool) (identity.DID, error) {
	if r.Header.Get(httpsig.SignatureInputHeader) == "" {
		return identity.DID{}, errorf(http.StatusUnauthorized, "signature-required", "Uploads must be signed", "this server stores only uploads signed by a key (RFC 9421 HTTP Message Signatures)", "use `charter put` with your key (`charter key new` makes one), or sign with the Go client's Client.WithKey", nil)
	}
	if r.ContentLength < 0 {
		return identity.DID{}, errorf(http.StatusLengthRequired, "length-required", "Upload length required", "an upload must declare its Content-Length, which is charged to the signing key before the body is read", "", nil)
	}
	if max := s.maxUpload(); max > 0 && r.ContentLength > max {
		return identity.DID{}, errorf(http.StatusRequestEntityTooLarge, "too-large", "Upload too large", fmt.Sprintf("%d bytes is over this server's limit of %d", r.ContentLength, max), "", nil)
	}
	who, err := s.signedWith(r, httpsig.VerifyOptions{StreamBody: true, BodyBoundElsewhere: idBound}, nil, "sign uploads with your key (RFC 9421), including a Content-Digest of the body or declaring its content id")
	if err != nil {
		return who, err
	}
	return who, s.chargeUpload(r.Context(), who, r.ContentLength)
}

// chargeUpload charges n stored bytes to who's upload quotas (and, for a
// key without standing, to the crowd's pool).
func (s *Server) chargeUpload(ctx context.Context, who identity.DID, n int64) error {
	if err := s.drawPool(ctx, crowd.Uploads, n, who); err != nil {
		return err
	}
	day := time.Now().UTC().Format(time.DateOnly)
	maxDay, maxTotal := limit(s.cfg.UploadQuotaDay, DefaultUploadQuotaDay), limit(s.cfg.UploadQuotaTotal, DefaultUploadQuotaTotal)
	ok, usedDay, usedTotal, err := s.cat.ChargeUpload(ctx, who.String(), day, n, maxDay, maxTotal)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusTooManyRequests, "upload-quota", "Upload quota exhausted",
			fmt.Sprintf("%s has uploaded %d bytes today (limit %d) and %d in total (limit %d; 0: none); this upload of %d bytes would pass a limit", who, usedDay, maxDay, usedTotal, maxTotal, n),
			"the daily quota resets at 00:00 UTC; the operator sets quotas with `charter serve --upload-quota-day/--upload-quota-total`", nil)
	}
	return nil
}

// kindOf is what a stored blob is, as the log says: a dataset when a
// registered dataset manifest names it and its index was read, else a blob.
func (s *Server) kindOf(ctx context.Context, id content.ID) (catalog.Kind, error) {
	return memoized(ctx, func(m *readMemo) *map[content.ID]catalog.Kind { return &m.kinds }, id, func() (catalog.Kind, error) {
		ds, err := s.cat.IndexedDataset(ctx, id.String())
		if err != nil {
			return "", err
		}
		if ds {
			return catalog.KindDataset, nil
		}
		return catalog.KindBlob, nil
	})
}

// object is s.cat.Object through the request's memo (readmemo.go).
func (s *Server) object(ctx context.Context, id content.ID) (catalog.Object, error) {
	return memoized(ctx, func(m *readMemo) *map[content.ID]catalog.Object { return &m.objects }, id, func() (catalog.Object, error) {
		return s.cat.Object(ctx, id)
	})
}

var errTruncated = errors.New("body shorter than Content-Length")

// exactReader fails when the body ends before its declared length, so a
// client that dies mid-upload leaves nothing behind even with a body whose
// prefix is valid content.
type exactReader struct {
	r    io.Reader
	want int64
	n    int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err == io.EOF && e.n != e.want {
		return n, errTruncated
	}
	return n, err
}

// checkIndex checks that stored blob id is a valid dataset index whose
// files are all stored with the sizes it says, reading it one file at a
// time, and returns how many files it names.
func (s *Server) checkIndex(ctx context.Context, id content.ID) (int, error) {
	n, err := s.readIndex(ctx, id, func(f content.File) error {
		size, err := s.blobs.Stat(ctx, blob.Key{ID: f.ID, Part: blob.Data})
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return errorf(http.StatusUnprocessableEntity, "missing-file", "Dataset names a file that is not stored", fmt.Sprintf("%s (%s) is not on this server", f.Path, f.ID), "upload every file before the index", err)
			}
			return err
		}
		if size != f.Size {
			return errorf(http.StatusUnprocessableEntity, "bad-index", "Dataset index has a wrong size", fmt.Sprintf("%s: index says %d bytes, stored blob %s has %d", f.Path, f.Size, f.ID, size), "", nil)
		}
		return nil
	})
	if errors.Is(err, registry.ErrIndexUnreadable) {
		return n, errorf(http.StatusUnprocessableEntity, "bad-index", "Not a valid dataset index", fmt.Sprintf("%s is stored, but not as a dataset index: %s", id, strings.TrimPrefix(err.Error(), registry.ErrIndexUnreadable.Error()+": ")), "build indexes with content.NewIndex and Encode (the CLI does: `charter put FOLDER`)", err)
	}
	return n, err
}

// pathObject returns the blob the request's {id} names, refusing
// malformed ids, unknown blobs and blobs known corrupt.
func (s *Server) pathObject(r *http.Request) (content.ID, catalog.Object, error) {
	id, err := pathID(r)
	if err != nil {
		return id, catalog.Object{}, err
	}
	obj, err := s.lookup(r.Context(), id)
	return id, obj, err
}

// lookup returns the catalog record of id, refusing blobs known corrupt.
func (s *Server) lookup(ctx context.Context, id content.ID) (catalog.Object, error) {
	obj, err := s.object(ctx, id)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return obj, errorf(http.StatusNotFound, "not-found", "No such blob", fmt.Sprintf("%s is not stored on this server", id), "", err)
		}
		return obj, err
	}
	if obj.Kind, err = s.kindOf(ctx, id); err != nil {
		return obj, err
	}
	if c, bad := s.corrupt(ctx, id); bad {
		return obj, errorf(http.StatusInternalServerError, "corrupt-blob", "Stored blob is corrupt", fmt.Sprintf("the server's copy of %s failed verification (%s); it is not served", id, c.Detail), "the operator can restore the blob by uploading it again", nil)
	}
	return obj, nil
}

func setBlobHeaders(w http.ResponseWriter, obj catalog.Object) {
	h := w.Header()
	h.Set(HeaderID, obj.ID.String())
	h.Set(HeaderSize, strconv.FormatInt(obj.Size, 10))
	h.Set(HeaderKind, string(obj.Kind))
	h.Set("ETag", `"`+obj.ID.String()+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	id, obj, err := s.pathObject(r)
	if err != nil {
		return err
	}
	licensed, err := s.licensedBy(r.Context(), id)
	if err != nil {
		return err
	}
	setBlobHeaders(w, obj)
	writeJSON(w, http.StatusOK, BlobInfo{ID: id.String(), Size: obj.Size, Kind: string(obj.Kind), Licensed: licensed})
	return nil
}

// download serves the raw bytes, with HTTP Range support for one range
// (RFC 9110 section 14). The bytes are not proven here; clients that verify
// use /slice. Under a grant the bytes written are metered, whether or not
// the client stays to the end.
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	id, obj, err := s.pathObject(r)
	if err != nil {
		return err
	}
	off, n, partial, err := parseByteRange(r.Header.Get("Range"), obj.Size)
	if err != nil {
		return err
	}
	want := n
	if r.Method == http.MethodHead {
		want = 0
	}
	m, err := s.enforce(r, id, want)
	if err != nil {
		return err
	}
	return s.sendData(w, r, obj, off, n, partial, m)
}

// sendData writes bytes [off, off+n) of stored blob obj, metered under m
// (nil: free content): the whole body through http.ServeContent when
// partial is false, else one 206 range. The native data plane and the
// Hugging Face endpoint (hf.go) both serve bytes through it, so every
// byte is metered the same way.
func (s *Server) sendData(w http.ResponseWriter, r *http.Request, obj catalog.Object, off, n int64, partial bool, m *metered) error {
	if m != nil {
		m.start = off
	}
	mw := &meterWriter{w: w, ctx: r.Context(), m: m, dataOf: func(k int64) int64 { return k }, total: n}
	defer mw.finish()
	f, err := s.blobs.Open(r.Context(), blob.Key{ID: obj.ID, Part: blob.Data})
	if err != nil {
		return err
	}
	defer f.Close()
	setBlobHeaders(w, obj)
	ct := MediaOctets
	if obj.Kind == catalog.KindDataset {
		ct = MediaDataset
	}
	w.Header().Set("Content-Type", ct)
	if !partial {
		r.Header.Del("Range") // a unit other than bytes: ignored (RFC 9110)
		if r.Method != http.MethodHead {
			blob.Hint(f, 0, f.Size())
		}
		http.ServeContent(countingResponse{w, mw}, r, "", time.Time{}, io.NewSectionReader(f, 0, f.Size()))
		return nil
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, obj.Size))
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Accept-Ranges", "bytes")
	w.WriteHeader(http.StatusPartialContent)
	if r.Method != http.MethodHead {
		blob.Hint(f, off, off+n)
		mw.sendFile(f, off, n)
	}
	return nil
}

// countingResponse sends a response's body through a meterWriter.
type countingResponse struct {
	http.ResponseWriter
	mw *meterWriter
}

func (c countingResponse) Write(p []byte) (int, error) { return c.mw.Write(p) }

// parseByteRange reads an HTTP Range header for a body of size bytes. It
// serves one range: "bytes=a-b", "bytes=a-" or "bytes=-n" (the last n
// bytes). No header, or a unit other than bytes, means the whole body
// (partial false). A malformed or unsatisfiable bytes range, or more than
// one, is a 416 problem.
func parseByteRange(h string, size int64) (off, n int64, partial bool, err error) {
	unsat := func(detail string) (int64, int64, bool, error) {
		return 0, 0, false, errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", detail+fmt.Sprintf("; the content has %d bytes", size), "ask for one range, e.g. Range: bytes=0-1023", nil)
	}
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0, size, false, nil
	}
	if strings.Contains(spec, ",") {
		return unsat("one range per request is served")
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return unsat(fmt.Sprintf("%q is not a byte range", h))
	}
	num := func(v string) (int64, bool) {
		if v == "" || len(v) > 19 {
			return 0, false
		}
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		x, err := strconv.ParseInt(v, 10, 64)
		return x, err == nil
	}
	switch {
	case first == "":
		k, ok := num(last)
		if !ok || k == 0 || size == 0 {
			return unsat(fmt.Sprintf("%q is not a satisfiable suffix range", h))
		}
		k = min(k, size)
		return size - k, k, true, nil
	default:
		a, ok := num(first)
		if !ok {
			return unsat(fmt.Sprintf("%q is not a byte range", h))
		}
		b := size - 1
		if last != "" {
			if b, ok = num(last); !ok || b < a {
				return unsat(fmt.Sprintf("%q is not a byte range", h))
			}
		}
		if a >= size {
			return unsat(fmt.Sprintf("range %q starts past the end", h))
		}
		b = min(b, size-1)
		return a, b - a + 1, true, nil
	}
}

// parseRange reads ?offset=&length= and checks them against size.
func parseRange(r *http.Request, size int64) (off, n int64, err error) {
	q := r.URL.Query()
	off, n = 0, size
	if v := q.Get("offset"); v != "" {
		if off, err = strconv.ParseInt(v, 10, 64); err != nil || off < 0 {
			return 0, 0, errorf(http.StatusBadRequest, "bad-range", "Malformed range", fmt.Sprintf("offset %q is not a non-negative integer", v), "", nil)
		}
	}
	if v := q.Get("length"); v != "" {
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			return 0, 0, errorf(http.StatusBadRequest, "bad-range", "Malformed range", fmt.Sprintf("length %q is not a non-negative integer", v), "", nil)
		}
	} else {
		n = size - off
	}
	if off > size || n > size-off {
		return 0, 0, errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", fmt.Sprintf("range %d+%d is outside the blob's %d bytes", off, n, size), "", nil)
	}
	return off, n, nil
}

// slice serves a verified range: the Bao slice of [offset, offset+length),
// which holds the data widened to 16 KiB groups plus the proof nodes. Under
// a grant, the data bytes the slice carries (the widened groups, as far as
// they were written) are metered.
func (s *Server) slice(w http.ResponseWriter, r *http.Request) error {
	id, obj, err := s.pathObject(r)
	if err != nil {
		return err
	}
	off, n, err := parseRange(r, obj.Size)
	if err != nil {
		return err
	}
	ws, we, err := content.WidenRange(obj.Size, off, n)
	if err != nil {
		return errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", err.Error(), "", err)
	}
	want := we - ws
	if r.Method == http.MethodHead {
		want = 0
	}
	m, err := s.enforce(r, id, want)
	if err != nil {
		return err
	}
	if m != nil {
		m.start = ws
	}
	// A client that asks for it gets the split layout: the same bytes,
	// tree first, so that the data goes out in one piece from the file.
	split := acceptsMedia(r, MediaSliceSplit)
	treeLen, err := content.TreeSize(obj.Size, off, n)
	if err != nil {
		return errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", err.Error(), "", err)
	}
	if split && s.cfg.S3DirectReads && r.Method == http.MethodGet && we-ws >= directMin && acceptsMedia(r, MediaSliceDirect) {
		if done, err := s.sliceDirect(w, r, obj, m, off, n, ws, we); done {
			return err
		}
	}
	mw := &meterWriter{w: w, ctx: r.Context(), m: m, dataOf: func(k int64) int64 {
		if split {
			return min(max(k-treeLen, 0), we-ws)
		}
		d, _ := content.SliceData(obj.Size, off, n, k)
		return d
	}}
	defer mw.finish()
	data, err := s.blobs.Open(r.Context(), blob.Key{ID: id, Part: blob.Data})
	if err != nil {
		return err
	}
	defer data.Close()
	ob, err := s.blobs.Open(r.Context(), blob.Key{ID: id, Part: blob.Outboard})
	if err != nil {
		return err
	}
	defer ob.Close()
	if s.cfg.VerifyReads {
		if err := verifyRange(id, data, ob, obj.Size, off, n); err != nil {
			s.recordCorruption(r.Context(), id, err)
			return s.lookupErr(r.Context(), id)
		}
	}
	setBlobHeaders(w, obj)
	w.Header().Set("Content-Type", MediaSlice)
	if split {
		w.Header().Set("Content-Type", MediaSliceSplit)
	}
	w.Header().Add("Vary", "Accept")
	sliceLen, err := content.SliceSize(obj.Size, off, n)
	if err != nil {
		return errorf(http.StatusRequestedRangeNotSatisfiable, "bad-range", "Range not satisfiable", err.Error(), "", err)
	}
	w.Header().Set("Content-Length", strconv.FormatInt(sliceLen, 10))
	mw.total = sliceLen
	if r.Method == http.MethodHead {
		return nil
	}
	// The slice goes out in 256 KiB writes rather than one per 16 KiB
	// group and 64-byte node; the store is told the one data range it is
	// asked for, so an S3 store fetches it in one GET (and a whole blob in
	// one GET of each part).
	blob.Hint(data, ws, we)
	if ws == 0 && we == obj.Size {
		blob.Hint(ob, 0, ob.Size()) // the whole tree is read, in order
	}
	bw := sliceWriters.Get().(*bufio.Writer)
	bw.Reset(mw)
	defer func() { bw.Reset(nil); sliceWriters.Put(bw) }()
	if split {
		// The tree from the outboard, then the data with sendfile.
		err = content.ExtractTree(bw, ob, obj.Size, off, n)
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = mw.sendFile(data, ws, we-ws)
		}
	} else {
		err = content.ExtractRange(bw, data, ob, obj.Size, off, n)
		if err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		s.log.Warn("extracting slice", "id", id, "offset", off, "length", n, "written", mw.written, "err", err)
	}
	return nil
}

// sliceBuffer is the size of the writes a slice response is sent in.
const sliceBuffer = 256 << 10

// sliceWriters holds the buffers slices are written through: one 256 KiB
// buffer allocated (and cleared) per request cost a 1 MiB range about as
// much CPU as its three catalog look-ups.
var sliceWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, sliceBuffer) }}

// verifyRange checks [off, off+n) of a stored blob against id by
// extracting its slice and verifying it, as a client would.
func verifyRange(id content.ID, data, ob io.ReaderAt, size, off, n int64) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(content.ExtractRange(pw, data, ob, size, off, n)) }()
	_, err := content.VerifyRange(io.Discard, pr, id, off, n)
	pr.CloseWithError(errors.New("verification stopped"))
	return err
}

func (s *Server) lookupErr(ctx context.Context, id content.ID) error {
	_, err := s.lookup(ctx, id)
	if err == nil {
		err = errors.New("verification failed")
	}
	return err
}

func (s *Server) outboard(w http.ResponseWriter, r *http.Request) error {
	id, obj, err := s.pathObject(r)
	if err != nil {
		return err
	}
	m, err := s.enforce(r, id, 0)
	if err != nil {
		return err
	}
	defer m.record(r.Context(), 0, true) // a request, no content bytes
	ob, err := s.blobs.Open(r.Context(), blob.Key{ID: id, Part: blob.Outboard})
	if err != nil {
		return err
	}
	defer ob.Close()
	setBlobHeaders(w, obj)
	w.Header().Set("Content-Type", MediaOutboard)
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(ob, 0, ob.Size()))
	return nil
}
