package server

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/credential"
	"github.com/charter-dev/charter/sigv4"
)

// The S3-compatible read API (docs/integrations.md). It is served on a
// listener of its own (`charter serve --s3-addr`): S3 clients address
// buckets at the root of their endpoint ("/BUCKET/KEY", path style),
// where the main listener serves the web console.
//
// A bucket is an asset (its id, or its name among the assets the
// credential may read); its keys are the paths of the dataset's files, or
// one key (the asset's name) for a single-file asset. Requests are signed
// with AWS Signature V4 under a Charter read credential (s3cred.go); every
// byte served goes through the native data plane's enforcement and
// metering (ReadUnder, meterWriter), in a download session named after the
// access key id, so each read session gets its signed receipt as a native
// download does. Writes are refused.

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// S3Handler returns the handler of the S3-compatible read API.
func (s *Server) S3Handler() http.Handler { return http.HandlerFunc(s.serveS3) }

// s3Err is an S3 error answer.
type s3Err struct {
	status  int
	code    string
	message string
}

func (e *s3Err) Error() string { return e.code + ": " + e.message }

func s3Error(status int, code, msg string) *s3Err { return &s3Err{status, code, msg} }

// s3ErrorOf maps an error to S3's error codes; notFound is the code of a
// 404 (NoSuchKey or NoSuchBucket).
func (s *Server) s3ErrorOf(r *http.Request, err error, notFound string) *s3Err {
	var se *s3Err
	var he *httpError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, sigv4.ErrNoAuth):
		return s3Error(http.StatusForbidden, "AccessDenied", "Charter's S3 API needs a signed request; hint: `charter s3 credentials` prints credentials for your grants")
	case errors.Is(err, sigv4.ErrMalformed):
		return s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed", err.Error())
	case errors.Is(err, sigv4.ErrMismatch), errors.Is(err, ErrBadSecret):
		return s3Error(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	case errors.Is(err, sigv4.ErrTimeSkewed):
		return s3Error(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.")
	case errors.Is(err, sigv4.ErrExpired):
		return s3Error(http.StatusForbidden, "AccessDenied", "Request has expired")
	case errors.Is(err, ErrUnknownCredential):
		return s3Error(http.StatusForbidden, "InvalidAccessKeyId", "The access key id you provided does not exist or was revoked; hint: `charter s3 credentials` issues a new one")
	case errors.Is(err, credential.ErrExpired):
		return s3Error(http.StatusForbidden, "ExpiredToken", "The credential has expired; hint: `charter s3 credentials` issues a new one")
	case errors.As(err, &he):
		msg := he.detail
		if he.hint != "" {
			msg += "; hint: " + he.hint
		}
		switch he.status {
		case http.StatusNotFound:
			return s3Error(http.StatusNotFound, notFound, msg)
		case http.StatusRequestedRangeNotSatisfiable:
			return s3Error(he.status, "InvalidRange", msg)
		case http.StatusUnauthorized, http.StatusForbidden:
			return s3Error(http.StatusForbidden, "AccessDenied", msg)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return s3Error(http.StatusServiceUnavailable, "SlowDown", msg)
		case http.StatusBadRequest:
			return s3Error(he.status, "InvalidRequest", msg)
		}
		if he.status < 500 {
			return s3Error(he.status, "InvalidRequest", msg)
		}
	}
	s.log.Error("s3: internal error", "path", r.URL.Path, "err", err)
	return s3Error(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
}

func (s *Server) writeS3Error(w http.ResponseWriter, r *http.Request, e *s3Err) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Range")
	h.Del("ETag")
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	type body struct {
		XMLName  xml.Name `xml:"Error"`
		Code     string
		Message  string
		Resource string
	}
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(body{Code: e.code, Message: e.message, Resource: r.URL.Path})
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, xml.Header)
	if err := xml.NewEncoder(w).Encode(v); err != nil {
		return
	}
}

// serveS3 routes one S3 request.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	r = withReadMemo(r)
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	notFound := "NoSuchKey"
	if key == "" {
		notFound = "NoSuchBucket"
	}
	if err := s.s3Route(w, r, bucket, key); err != nil {
		s.writeS3Error(w, r, s.s3ErrorOf(r, err, notFound))
	}
}

func (s *Server) s3Route(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return s3Error(http.StatusForbidden, "AccessDenied", "Charter's S3 API only reads; hint: store and publish with `charter put` / `charter publish`")
	}
	c, err := s.s3Auth(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if bucket == "" {
		return s.s3ListBuckets(w, r, c)
	}
	b, err := s.s3Bucket(ctx, c, bucket)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if key == "" {
		switch {
		case q.Has("location"):
			writeXML(w, struct {
				XMLName xml.Name `xml:"LocationConstraint"`
				NS      string   `xml:"xmlns,attr"`
			}{NS: s3NS})
			return nil
		case r.Method == http.MethodHead:
			w.Header().Set("X-Amz-Bucket-Region", "us-east-1")
			return nil
		case q.Get("list-type") == "2":
			return s.s3List(w, r, b, true)
		}
		for _, sub := range []string{"versioning", "acl", "policy", "tagging", "cors", "lifecycle", "uploads", "versions", "encryption", "website", "logging", "notification", "replication", "object-lock", "ownershipControls", "accelerate", "requestPayment"} {
			if q.Has(sub) {
				return s3Error(http.StatusNotImplemented, "NotImplemented", "Charter's S3 API serves ListObjectsV2, ListObjects, HeadObject, GetObject and GetBucketLocation")
			}
		}
		return s.s3List(w, r, b, false)
	}
	return s.s3Object(w, r, c, b, key)
}

// s3Auth verifies the request's SigV4 signature and returns the
// credential it was made with.
func (s *Server) s3Auth(r *http.Request) (*credential.Credential, error) {
	v, err := sigv4.Parse(r)
	if err != nil {
		return nil, err
	}
	if err := v.CheckTime(time.Now()); err != nil {
		return nil, err
	}
	c, secret, err := s.Credential(r.Context(), v.KeyID)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(r, secret); err != nil {
		return nil, err
	}
	return c, nil
}

// s3Buck is a bucket: an asset and what it holds.
type s3Buck struct {
	name  string
	rec   *catalog.AssetRecord
	files []content.File // sorted by path
	index content.ID     // the dataset index, or the single file
}

// readableAssets are the assets c may read: the ones it names, or those
// its licensee holds live grants on.
func (s *Server) readableAssets(ctx context.Context, c *credential.Credential) ([]string, error) {
	if len(c.Assets) > 0 {
		return c.Assets, nil
	}
	recs, err := s.cat.Grants(ctx, "", c.Licensee.String())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, rec := range recs {
		if g, err := s.liveGrant(rec); err == nil && g != nil && !seen[rec.Asset] {
			seen[rec.Asset] = true
			out = append(out, rec.Asset)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *Server) s3ListBuckets(w http.ResponseWriter, r *http.Request, c *credential.Credential) error {
	ids, err := s.readableAssets(r.Context(), c)
	if err != nil {
		return err
	}
	type bucket struct {
		Name         string
		CreationDate string
	}
	var out struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		NS      string   `xml:"xmlns,attr"`
		Owner   struct{ ID, DisplayName string }
		Buckets []bucket `xml:"Buckets>Bucket"`
	}
	out.NS = s3NS
	out.Owner.ID, out.Owner.DisplayName = c.Licensee.String(), c.Licensee.String()
	for _, id := range ids {
		aid, err := asset.ParseID(id)
		if err != nil {
			continue
		}
		rec, err := s.assetRecord(r.Context(), aid)
		if err != nil {
			continue
		}
		out.Buckets = append(out.Buckets, bucket{Name: id, CreationDate: s3Time(rec.State.Manifest.Created.Time())})
	}
	writeXML(w, out)
	return nil
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// s3Bucket resolves a bucket name (an asset id, or an asset's name among
// those c may read) and checks that c may read it.
func (s *Server) s3Bucket(ctx context.Context, c *credential.Credential, name string) (*s3Buck, error) {
	aid, err := asset.ParseID(name)
	if err != nil {
		ids, err := s.readableAssets(ctx, c)
		if err != nil {
			return nil, err
		}
		var found []asset.ID
		for _, id := range ids {
			a, err := asset.ParseID(id)
			if err != nil {
				continue
			}
			if rec, err := s.assetRecord(ctx, a); err == nil && strings.EqualFold(rec.State.Manifest.Name, name) {
				found = append(found, a)
			}
		}
		switch len(found) {
		case 0:
			return nil, s3Error(http.StatusNotFound, "NoSuchBucket", fmt.Sprintf("no asset named %q among the assets this credential reads; hint: use the asset id as the bucket", name))
		case 1:
			aid = found[0]
		default:
			return nil, s3Error(http.StatusNotFound, "NoSuchBucket", fmt.Sprintf("%d assets this credential reads are named %q; hint: use the asset id as the bucket", len(found), name))
		}
	}
	rec, err := s.assetRecord(ctx, aid)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, s3Error(http.StatusNotFound, "NoSuchBucket", fmt.Sprintf("no asset %s on this server", aid))
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.MayRead(ctx, c, aid); err != nil {
		return nil, err
	}
	b := &s3Buck{name: name, rec: rec, index: rec.State.Manifest.Content}
	kind, err := s.kindOf(ctx, b.index)
	if err != nil {
		return nil, err
	}
	if kind == catalog.KindDataset {
		x, err := s.datasetIndex(ctx, b.index)
		if err != nil {
			return nil, err
		}
		b.files = x.Files
		return b, nil
	}
	obj, err := s.object(ctx, b.index)
	if err != nil {
		return nil, err
	}
	b.files = []content.File{{Path: singleKey(rec.State.Manifest.Name), Size: obj.Size, ID: b.index}}
	return b, nil
}

// singleKey is the one key of a single-file asset: its name when that is
// a valid file name, else "content".
func singleKey(name string) string {
	if content.ValidatePath(name) == nil && !strings.Contains(name, "/") {
		return name
	}
	return "content"
}

// indexCache holds parsed dataset indexes by id (they never change).
type indexCache struct {
	mu sync.Mutex
	m  map[content.ID]*content.Index
	// loading holds a channel per index being read, closed when it is:
	// concurrent requests for one index read it once, and at most
	// indexLoads indexes (up to content.MaxIndexBytes each) are read at
	// once, so a crowd of listing requests cannot multiply that memory
	// (TestAttackIndexLoadsBounded).
	loading map[content.ID]chan struct{}
	sem     chan struct{}
}

// indexLoads bounds the dataset indexes read and parsed at once.
const indexLoads = 2

const indexCacheSize = 16

func (s *Server) datasetIndex(ctx context.Context, id content.ID) (*content.Index, error) {
	for {
		s.indexes.mu.Lock()
		x, ok := s.indexes.m[id]
		if ok {
			s.indexes.mu.Unlock()
			return x, nil
		}
		if s.indexes.sem == nil {
			s.indexes.sem = make(chan struct{}, indexLoads)
			s.indexes.loading = map[content.ID]chan struct{}{}
		}
		wait, busy := s.indexes.loading[id]
		if !busy {
			done := make(chan struct{})
			s.indexes.loading[id] = done
			sem := s.indexes.sem
			s.indexes.mu.Unlock()
			defer func() {
				s.indexes.mu.Lock()
				delete(s.indexes.loading, id)
				s.indexes.mu.Unlock()
				close(done)
			}()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			defer func() { <-sem }()
			return s.loadIndex(ctx, id)
		}
		s.indexes.mu.Unlock()
		select {
		case <-wait: // loaded (look again) or failed (load it here)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Server) loadIndex(ctx context.Context, id content.ID) (*content.Index, error) {
	v, err := blob.Get(ctx, s.blobs, id)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	raw, err := io.ReadAll(io.LimitReader(v, content.MaxIndexBytes+1))
	if err != nil {
		return nil, err
	}
	x, err := content.ParseIndex(raw)
	if err != nil {
		return nil, err
	}
	s.indexes.mu.Lock()
	if s.indexes.m == nil || len(s.indexes.m) >= indexCacheSize {
		s.indexes.m = map[content.ID]*content.Index{}
	}
	s.indexes.m[id] = x
	s.indexes.mu.Unlock()
	return x, nil
}

// s3ListQuery is a list request's parameters.
type s3ListQuery struct {
	prefix, delimiter, after, token, marker string
	maxKeys                                 int
	urlEncode                               bool
}

func parseS3ListQuery(raw string, v2 bool) (s3ListQuery, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return s3ListQuery{}, s3Error(http.StatusBadRequest, "InvalidArgument", "malformed query")
	}
	l := s3ListQuery{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: 1000}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return l, s3Error(http.StatusBadRequest, "InvalidArgument", "max-keys must be a non-negative integer")
		}
		l.maxKeys = min(n, 1000)
	}
	switch e := q.Get("encoding-type"); e {
	case "":
	case "url":
		l.urlEncode = true
	default:
		return l, s3Error(http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	if v2 {
		l.after = q.Get("start-after")
		if t := q.Get("continuation-token"); t != "" {
			k, ok := decodeToken(t)
			if !ok {
				return l, s3Error(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
			}
			l.token = t
			l.after = max(l.after, k)
		}
	} else {
		l.marker = q.Get("marker")
		l.after = l.marker
	}
	return l, nil
}

// s3List answers ListObjectsV2 (v2) or ListObjects. Listing needs what
// reading the dataset's index needs (s3Bucket's MayRead) but moves no file
// bytes and is not metered (as the Hugging Face API's listings).
func (s *Server) s3List(w http.ResponseWriter, r *http.Request, b *s3Buck, v2 bool) error {
	l, err := parseS3ListQuery(r.URL.RawQuery, v2)
	if err != nil {
		return err
	}
	keys, prefixes, next := listKeys(b.files, l)
	enc := func(s string) string {
		if l.urlEncode {
			return sigv4.Escape(s, false)
		}
		return s
	}
	type object struct {
		Key          string
		LastModified string
		ETag         string
		Size         int64
		StorageClass string
	}
	type prefix struct{ Prefix string }
	mod := s3Time(b.rec.State.Manifest.Created.Time())
	objs := make([]object, len(keys))
	for i, f := range keys {
		objs[i] = object{Key: enc(f.Path), LastModified: mod, ETag: `"` + f.ID.String() + `"`, Size: f.Size, StorageClass: "STANDARD"}
	}
	ps := make([]prefix, len(prefixes))
	for i, p := range prefixes {
		ps[i] = prefix{enc(p)}
	}
	truncated := next != ""
	encType := ""
	if l.urlEncode {
		encType = "url"
	}
	if v2 {
		out := struct {
			XMLName               xml.Name `xml:"ListBucketResult"`
			NS                    string   `xml:"xmlns,attr"`
			Name                  string
			Prefix                string
			Delimiter             string `xml:",omitempty"`
			MaxKeys               int
			KeyCount              int
			IsTruncated           bool
			EncodingType          string `xml:",omitempty"`
			ContinuationToken     string `xml:",omitempty"`
			NextContinuationToken string `xml:",omitempty"`
			StartAfter            string `xml:",omitempty"`
			Contents              []object
			CommonPrefixes        []prefix
		}{NS: s3NS, Name: b.name, Prefix: enc(l.prefix), Delimiter: enc(l.delimiter), MaxKeys: l.maxKeys, KeyCount: len(objs) + len(ps), IsTruncated: truncated,
			EncodingType: encType, ContinuationToken: l.token, StartAfter: enc(r.URL.Query().Get("start-after")), Contents: objs, CommonPrefixes: ps}
		if truncated {
			out.NextContinuationToken = encodeToken(next)
		}
		writeXML(w, out)
		return nil
	}
	out := struct {
		XMLName        xml.Name `xml:"ListBucketResult"`
		NS             string   `xml:"xmlns,attr"`
		Name           string
		Prefix         string
		Marker         string
		Delimiter      string `xml:",omitempty"`
		MaxKeys        int
		IsTruncated    bool
		EncodingType   string `xml:",omitempty"`
		NextMarker     string `xml:",omitempty"`
		Contents       []object
		CommonPrefixes []prefix
	}{NS: s3NS, Name: b.name, Prefix: enc(l.prefix), Marker: enc(l.marker), Delimiter: enc(l.delimiter), MaxKeys: l.maxKeys, IsTruncated: truncated, EncodingType: encType, Contents: objs, CommonPrefixes: ps}
	if truncated {
		out.NextMarker = enc(next)
	}
	writeXML(w, out)
	return nil
}

// listKeys pages through files (sorted by path): the keys and common
// prefixes after l.after under l.prefix, at most l.maxKeys of them
// together, and the last one returned when more follow.
func listKeys(files []content.File, l s3ListQuery) (keys []content.File, prefixes []string, next string) {
	i := sort.Search(len(files), func(i int) bool { return files[i].Path > l.after && files[i].Path >= l.prefix })
	count := 0
	for ; i < len(files); i++ {
		p := files[i].Path
		if !strings.HasPrefix(p, l.prefix) {
			break
		}
		if count == l.maxKeys {
			return keys, prefixes, next
		}
		if l.delimiter != "" {
			if j := strings.Index(p[len(l.prefix):], l.delimiter); j >= 0 {
				cp := p[:len(l.prefix)+j+len(l.delimiter)]
				// Every key under this common prefix is skipped.
				end := sort.Search(len(files), func(k int) bool { return files[k].Path >= cp && !strings.HasPrefix(files[k].Path, cp) }) - 1
				if cp > l.after {
					prefixes = append(prefixes, cp)
					count++
					next = cp
				}
				i = end
				continue
			}
		}
		keys = append(keys, files[i])
		count++
		next = p
	}
	return keys, prefixes, ""
}

// Continuation tokens are the last key returned, hex encoded (opaque to
// clients; a forged one only moves the listing's start).
func encodeToken(k string) string { return fmt.Sprintf("%x", k) }

func decodeToken(t string) (string, bool) {
	var b []byte
	if _, err := fmt.Sscanf(t, "%x", &b); err != nil || len(t) != 2*len(b) {
		return "", false
	}
	return string(b), true
}

// s3Object answers HeadObject and GetObject (one range) through the
// native data plane's enforcement and metering.
func (s *Server) s3Object(w http.ResponseWriter, r *http.Request, c *credential.Credential, b *s3Buck, key string) error {
	i := sort.Search(len(b.files), func(i int) bool { return b.files[i].Path >= key })
	if i == len(b.files) || b.files[i].Path != key {
		return s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	f := b.files[i]
	ctx := r.Context()
	obj, err := s.lookup(ctx, f.ID)
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
	m, err := s.ReadUnder(r, c, f.ID, want, c.ID)
	if err != nil {
		return err
	}
	if m != nil {
		m.start = off
	}
	mw := &meterWriter{w: w, ctx: ctx, m: m, dataOf: func(k int64) int64 { return k }, total: n}
	if r.Method == http.MethodHead {
		mw.total = 0
	}
	defer mw.finish()
	rd, err := s.blobs.Open(ctx, blob.Key{ID: f.ID, Part: blob.Data})
	if err != nil {
		return err
	}
	defer rd.Close()
	h := w.Header()
	h.Set("ETag", `"`+f.ID.String()+`"`)
	// Lower case, as S3 sends it: botocore keeps the case of user
	// metadata names.
	h["x-amz-meta-charter-id"] = []string{f.ID.String()}
	h.Set("Last-Modified", b.rec.State.Manifest.Created.Time().UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", MediaOctets)
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, obj.Size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	io.Copy(mw, io.NewSectionReader(rd, off, n))
	return nil
}
