// Package s3 is a blob.Store on an S3-compatible object store (AWS S3,
// versitygw, MinIO, Ceph RGW, ...), written with the AWS SDK for Go v2.
//
// Layout under the store's prefix (see docs/storage.md):
//
//	blobs/<hex>            data part; <hex> is the BLAKE3 digest in lower-case
//	                       hex, as b3sum prints it, so listing order is digest order
//	blobs/<hex>.obao       Bao outboard part
//	blobs/<hex>.ref        index object for data written without a declared id
//	blobs/<hex>.obao.ref   the same for an outboard
//	uploads/<random>       bytes an index object points to
//
// Writes with a declared content id (blob.Put with want, through StageKey)
// go straight to their final key: small ones as one PutObject, large ones as
// a multipart upload at that key, completed only after blob.Put has checked
// the hash and aborted otherwise. Writes without a declared id cannot know
// their key when the upload starts; small ones (up to one part) are held in
// memory and put at the final key, large ones are uploaded once, by
// multipart, to uploads/<random>, and published by writing the small index
// object blobs/<hex>.ref that names it. No byte of the content is written
// twice; a read of such a blob costs one extra small GET.
//
// Creating a key never replaces an existing one: PutObject and
// CompleteMultipartUpload are sent with If-None-Match: *, and a server that
// ignores the header can at worst replace bytes by equal bytes (same
// content id). Writers killed mid-upload leave incomplete multipart uploads
// and unreferenced uploads/ objects, never a visible blob; Sweep removes
// them once they are older than a grace period.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

const (
	blobsDir   = "blobs/"
	uploadsDir = "uploads/"
	obaoSuffix = ".obao"
	refSuffix  = ".ref"
	// DefaultPartSize is the multipart part size, and the largest write
	// without a declared id that is held in memory and put in one request.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part size AWS S3 accepts for every part
	// but the last.
	MinPartSize = 5 << 20
	// DefaultConcurrency is the number of parts one write uploads at once.
	DefaultConcurrency = 3
	maxRefSize         = 4 << 10
)

// Store is a blob.Store in one bucket under one key prefix. It is safe for
// concurrent use, also by several processes sharing the bucket and prefix.
type Store struct {
	c           *s3.Client
	bucket      string
	prefix      string
	partSize    int64
	concurrency int

	// The send path (send.go): presigned GETs on connections of its own.
	presign  *s3.PresignClient
	idle     chan *rawConn
	noSplice atomic.Bool
}

var (
	_ blob.Store     = (*Store)(nil)
	_ blob.KeyStager = (*Store)(nil)
)

// Options tune a Store; the zero value takes the defaults.
type Options struct {
	// Prefix is prepended to every key; "" or ending in "/".
	Prefix string
	// PartSize is the multipart part size in bytes (default
	// DefaultPartSize). AWS S3 rejects parts under MinPartSize but the
	// last; some servers accept smaller ones, which tests use.
	PartSize int64
	// Concurrency is the number of parts one write uploads at once
	// (default DefaultConcurrency).
	Concurrency int
}

// New returns a Store on bucket through client. It makes no request.
func New(client *s3.Client, bucket string, o Options) (*Store, error) {
	if bucket == "" {
		return nil, errors.New("s3: no bucket named")
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < 1<<10 || o.PartSize > 5<<30 {
		return nil, fmt.Errorf("s3: part size %d is outside 1 KiB..5 GiB", o.PartSize)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	return &Store{
		c: client, bucket: bucket, prefix: o.Prefix, partSize: o.PartSize, concurrency: o.Concurrency,
		presign: s3.NewPresignClient(client), idle: make(chan *rawConn, maxIdleSend),
	}, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix ("" or ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// Client returns the S3 client the store uses.
func (s *Store) Client() *s3.Client { return s.c }

// ObjectKey returns the object key that holds k when it was written with a
// declared id or fits one part; docs/storage.md describes the layout.
func (s *Store) ObjectKey(k blob.Key) string {
	d := k.ID.Digest()
	name := s.prefix + blobsDir + hex.EncodeToString(d[:])
	if k.Part == blob.Outboard {
		name += obaoSuffix
	}
	return name
}

func checkKey(k blob.Key) error {
	if k.ID.IsZero() || !k.Part.Valid() {
		return fmt.Errorf("s3: invalid key %v", k)
	}
	return nil
}

// httpStatus returns the HTTP status of a failed S3 call, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool {
	if httpStatus(err) == http.StatusNotFound {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return false
}

func isPreconditionFailed(err error) bool {
	if httpStatus(err) == http.StatusPreconditionFailed {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

// ref is the body of an index object.
type ref struct {
	Upload string `json:"upload"` // key relative to the prefix
	Size   int64  `json:"size"`
}

// location is where the bytes of a key are.
type location struct {
	key  string // full object key
	size int64
}

// locate finds k: at its direct key, or through its index object.
func (s *Store) locate(ctx context.Context, k blob.Key) (location, error) {
	if err := checkKey(k); err != nil {
		return location{}, err
	}
	direct := s.ObjectKey(k)
	h, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &direct})
	if err == nil {
		return location{direct, aws.ToInt64(h.ContentLength)}, nil
	}
	if !isNotFound(err) {
		return location{}, err
	}
	r, err := s.readRef(ctx, direct+refSuffix)
	if err != nil {
		return location{}, err
	}
	return location{s.prefix + r.Upload, r.Size}, nil
}

// readRef reads an index object; a missing one is blob.ErrNotFound.
func (s *Store) readRef(ctx context.Context, key string) (ref, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return ref{}, blob.ErrNotFound
	}
	if err != nil {
		return ref{}, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxRefSize+1))
	if err != nil {
		return ref{}, err
	}
	var r ref
	if len(b) > maxRefSize || json.Unmarshal(b, &r) != nil || !strings.HasPrefix(r.Upload, uploadsDir) || r.Size < 0 {
		return ref{}, fmt.Errorf("index object %s is not one Charter wrote (%d bytes)", key, len(b))
	}
	return r, nil
}

// present reports whether k is stored, directly or through an index object,
// with one LIST request.
func (s *Store) present(ctx context.Context, k blob.Key) (direct, indexed bool, err error) {
	name := s.ObjectKey(k)
	out, err := s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &name, MaxKeys: aws.Int32(8)})
	if err != nil {
		return false, false, err
	}
	for _, o := range out.Contents {
		switch aws.ToString(o.Key) {
		case name:
			direct = true
		case name + refSuffix:
			indexed = true
		}
	}
	return direct, indexed, nil
}

// Stat returns the size of k.
func (s *Store) Stat(ctx context.Context, k blob.Key) (int64, error) {
	loc, err := s.locate(ctx, k)
	if err != nil {
		return 0, fmt.Errorf("s3: stat %s: %w", k, err)
	}
	return loc.size, nil
}

// Open returns a reader of k. It makes one request (two for a blob written
// without a declared id); bytes are fetched by ranged GETs as they are read.
func (s *Store) Open(ctx context.Context, k blob.Key) (blob.Reader, error) {
	loc, err := s.locate(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("s3: open %s: %w", k, err)
	}
	return &reader{s: s, ctx: ctx, name: k.String(), key: loc.key, size: loc.size}, nil
}

// Remove deletes k, and the uploads/ object its index object names.
func (s *Store) Remove(ctx context.Context, k blob.Key) error {
	if err := checkKey(k); err != nil {
		return err
	}
	direct, indexed, err := s.present(ctx, k)
	if err != nil {
		return fmt.Errorf("s3: remove %s: %w", k, err)
	}
	if !direct && !indexed {
		return fmt.Errorf("s3: remove %s: %w", k, blob.ErrNotFound)
	}
	name := s.ObjectKey(k)
	if direct {
		if err := s.delete(ctx, name); err != nil {
			return fmt.Errorf("s3: remove %s: %w", k, err)
		}
	}
	if indexed {
		r, err := s.readRef(ctx, name+refSuffix)
		if errors.Is(err, blob.ErrNotFound) {
			return nil // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("s3: remove %s: %w", k, err)
		}
		// The index object goes first: a reader never follows it to a
		// missing object, and a crash here leaves only an unreferenced
		// upload, which Sweep removes.
		if err := s.delete(ctx, name+refSuffix); err != nil {
			return fmt.Errorf("s3: remove %s: %w", k, err)
		}
		if err := s.delete(ctx, s.prefix+r.Upload); err != nil {
			return fmt.Errorf("s3: remove %s: %w", k, err)
		}
	}
	return nil
}

func (s *Store) delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return nil
	}
	return err
}

// Enumerate lists the blobs/ keys in order (hex order is digest order).
// A data part stored through an index object costs one GET for its size.
func (s *Store) Enumerate(ctx context.Context, after content.ID, fn func(content.ID, int64) error) error {
	prefix := s.prefix + blobsDir
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix}
	if !after.IsZero() {
		d := after.Digest()
		// '~' sorts after every suffix of after's keys and before the
		// next digest.
		in.StartAfter = aws.String(prefix + hex.EncodeToString(d[:]) + "~")
	}
	var (
		cur     string // hex of the id being gathered
		size    int64
		direct  bool
		indexed bool
	)
	emit := func() error {
		if cur == "" || (!direct && !indexed) {
			return nil
		}
		var d [32]byte
		hex.Decode(d[:], []byte(cur))
		sz := size
		if !direct {
			r, err := s.readRef(ctx, prefix+cur+refSuffix)
			if errors.Is(err, blob.ErrNotFound) {
				return nil // removed meanwhile
			}
			if err != nil {
				return fmt.Errorf("s3: enumerate: %w", err)
			}
			sz = r.Size
		}
		return fn(content.IDFromDigest(d), sz)
	}
	p := s3.NewListObjectsV2Paginator(s.c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: enumerate: %w", err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if len(name) < 64 || !isLowerHex(name[:64]) {
				continue
			}
			h, suffix := name[:64], name[64:]
			if h != cur {
				if err := emit(); err != nil {
					return stop(err)
				}
				cur, size, direct, indexed = h, 0, false, false
			}
			switch suffix {
			case "":
				direct, size = true, aws.ToInt64(o.Size)
			case refSuffix:
				indexed = true
			}
		}
	}
	return stop(emit())
}

func stop(err error) error {
	if errors.Is(err, blob.ErrStop) {
		return nil
	}
	return err
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Stage starts a write without a declared key: up to one part it is held
// in memory and put at its final key on Commit; beyond that it becomes a
// multipart upload to uploads/<random>, published on Commit by an index
// object.
func (s *Store) Stage(ctx context.Context) (blob.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &staged{s: s, ctx: ctx}, nil
}

// StageKey starts a write whose key is known: up to one part it is put on
// Commit, beyond that it is a multipart upload at k's final key, completed
// by Commit(k) and aborted by Abort.
func (s *Store) StageKey(ctx context.Context, k blob.Key) (blob.Staged, error) {
	if err := checkKey(k); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &staged{s: s, ctx: ctx, key: &k}, nil
}

type staged struct {
	s    *Store
	ctx  context.Context
	key  *blob.Key // set by StageKey
	buf  []byte    // bytes not yet sent, fewer than one part
	done bool

	// Multipart state, once more than one part was written.
	object   string // full key of the upload
	uploadID string
	g        *errgroup.Group
	gctx     context.Context
	mu       sync.Mutex
	parts    []types.CompletedPart
	size     int64
}

func (st *staged) Write(p []byte) (int, error) {
	if st.done {
		return 0, blob.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		take := min(len(p), int(st.s.partSize)-len(st.buf))
		st.buf = append(st.buf, p[:take]...)
		p, n = p[take:], n+take
		if len(st.buf) == int(st.s.partSize) {
			if err := st.sendPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sendPart uploads st.buf as the next part, in the background.
func (st *staged) sendPart() error {
	if st.uploadID == "" {
		if st.key != nil {
			st.object = st.s.ObjectKey(*st.key)
		} else {
			var r [16]byte
			rand.Read(r[:])
			st.object = st.s.prefix + uploadsDir + hex.EncodeToString(r[:])
		}
		out, err := st.s.c.CreateMultipartUpload(st.ctx, &s3.CreateMultipartUploadInput{Bucket: &st.s.bucket, Key: &st.object})
		if err != nil {
			return fmt.Errorf("s3: start upload: %w", err)
		}
		st.uploadID = aws.ToString(out.UploadId)
		st.g, st.gctx = errgroup.WithContext(st.ctx)
		st.g.SetLimit(st.s.concurrency)
	}
	if err := st.gctx.Err(); err != nil {
		// A part failed; Wait reports why.
		if werr := st.g.Wait(); werr != nil {
			return werr
		}
		return err
	}
	body := st.buf
	st.buf = nil
	st.size += int64(len(body))
	st.mu.Lock()
	num := int32(len(st.parts) + 1)
	st.parts = append(st.parts, types.CompletedPart{PartNumber: aws.Int32(num)})
	st.mu.Unlock()
	st.g.Go(func() error {
		out, err := st.s.c.UploadPart(st.gctx, &s3.UploadPartInput{
			Bucket: &st.s.bucket, Key: &st.object, UploadId: &st.uploadID,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		})
		if err != nil {
			return fmt.Errorf("s3: upload part %d: %w", num, err)
		}
		st.mu.Lock()
		st.parts[num-1].ETag = out.ETag
		st.mu.Unlock()
		return nil
	})
	return nil
}

func (st *staged) Commit(ctx context.Context, k blob.Key) error {
	if st.done {
		return blob.ErrClosed
	}
	if err := checkKey(k); err != nil {
		return err
	}
	if st.key != nil && *st.key != k {
		return fmt.Errorf("s3: commit %s: the write was started for %s", k, *st.key)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st.done = true
	if err := st.commit(ctx, k); err != nil {
		st.abort()
		return fmt.Errorf("s3: commit %s: %w", k, err)
	}
	return nil
}

func (st *staged) commit(ctx context.Context, k blob.Key) error {
	s := st.s
	final := s.ObjectKey(k)
	if st.uploadID == "" {
		// One part at most: one conditional PUT at the final key.
		if st.key == nil {
			// An index object may hold k already.
			if direct, indexed, err := s.present(ctx, k); err != nil || direct || indexed {
				return err
			}
		}
		_, err := s.c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &final, IfNoneMatch: aws.String("*"),
			Body: bytes.NewReader(st.buf), ContentLength: aws.Int64(int64(len(st.buf))),
		})
		if isPreconditionFailed(err) {
			return nil // stored already: keep the existing bytes
		}
		return err
	}
	if len(st.buf) > 0 || len(st.parts) == 0 {
		if err := st.sendPart(); err != nil {
			return err
		}
	}
	if err := st.g.Wait(); err != nil {
		return err
	}
	if st.key == nil {
		if direct, indexed, err := s.present(ctx, k); err != nil || direct || indexed {
			if err == nil {
				st.abort()
			}
			return err
		}
	}
	_, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &st.object, UploadId: &st.uploadID, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: st.parts},
	})
	if isPreconditionFailed(err) {
		st.abort()
		return nil // stored already
	}
	if err != nil {
		return err
	}
	st.uploadID = "" // completed: nothing left to abort
	if st.key != nil {
		return nil
	}
	// Publish the upload under k with an index object.
	body, _ := json.Marshal(ref{Upload: strings.TrimPrefix(st.object, s.prefix), Size: st.size})
	refKey := final + refSuffix
	_, err = s.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &refKey, IfNoneMatch: aws.String("*"),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json"),
	})
	if isPreconditionFailed(err) {
		err = nil // another writer published k first: ours is garbage
	} else if err == nil {
		return nil
	}
	if derr := s.delete(ctx, st.object); err == nil {
		err = derr
	}
	return err
}

// abort cancels an incomplete multipart upload. It runs with its own
// context: the caller's may be the reason for aborting.
func (st *staged) abort() {
	st.buf = nil
	if st.uploadID == "" {
		return
	}
	if st.g != nil {
		st.g.Wait()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(st.ctx), time.Minute)
	defer cancel()
	st.s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &st.s.bucket, Key: &st.object, UploadId: &st.uploadID})
	st.uploadID = ""
}

func (st *staged) Abort() error {
	if st.done {
		return nil
	}
	st.done = true
	st.abort()
	return nil
}

// Read-ahead of a reader. A read at a new position sends one GET for a
// bounded range of at least firstSpan bytes; each sequential continuation
// doubles the range up to maxSpan, and once a read is seen to be
// sequential the next range is requested while the current one is read,
// so the S3 round trip overlaps the transfer. Only response headers are
// awaited ahead: the bytes of the next range wait in the kernel's socket
// buffers, so a reader holds no buffer of its own. A range read to its end
// returns its connection to the pool; one left with at most drainMax bytes
// unread is drained for the same reason, and a longer one is closed.
const (
	firstSpan = 64 << 10
	maxSpan   = 16 << 20
	drainMax  = 64 << 10
)

// reader reads one object with bounded ranged GETs and read-ahead (see
// firstSpan). Sequential reads, by Read or by ReadAt at the offset where
// the previous one ended, continue the current range and the one fetched
// ahead instead of sending a request each.
type reader struct {
	s    *Store
	ctx  context.Context
	name string // blob key, for errors
	key  string
	size int64

	mu     sync.Mutex
	pos    int64 // Read and Seek position
	cur    *span // range being read, or nil
	next   *span // range requested ahead of cur, or nil
	closed bool
	// hint is the range the caller said it reads next (Hint); a read in
	// it asks for the rest of it in one GET.
	hintOff, hintEnd int64
}

// Hint implements blob.Hinter.
func (r *reader) Hint(off, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hintOff, r.hintEnd = off, min(end, r.size)
}

// span is one ranged GET of [off, end). Its response arrives on ready;
// pos is how far its body was read.
type span struct {
	off, end, pos int64
	seq           bool // started where the previous range ended
	ready         chan struct{}
	body          io.ReadCloser
	err           error
	cancel        context.CancelFunc
}

func (r *reader) Size() int64 { return r.size }

// get requests [off, end) in the background.
func (r *reader) get(off, end int64, seq bool) *span {
	ctx, cancel := context.WithCancel(r.ctx)
	sp := &span{off: off, end: end, pos: off, seq: seq, ready: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(sp.ready)
		in := &s3.GetObjectInput{Bucket: &r.s.bucket, Key: &r.key}
		if off > 0 || end < r.size {
			// The whole object goes without a Range: some servers send
			// it with sendfile then, and a range through a buffer
			// (versitygw's posix backend: 5x the CPU).
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1))
		}
		out, err := r.s.c.GetObject(ctx, in)
		switch {
		case isNotFound(err):
			sp.err = fmt.Errorf("s3: read %s: %w", r.name, blob.ErrNotFound)
		case err != nil:
			sp.err = fmt.Errorf("s3: read %s: %w", r.name, err)
		default:
			sp.body = out.Body
		}
	}()
	return sp
}

// release ends sp: a body read to its end, or nearly, keeps its connection
// for the next request.
func (sp *span) release() {
	if sp == nil {
		return
	}
	<-sp.ready
	if sp.body != nil {
		if left := sp.end - sp.pos; left <= drainMax {
			// Read to EOF, even with nothing left: the transport reuses
			// a connection only once its body ended.
			io.Copy(io.Discard, io.LimitReader(sp.body, drainMax+1))
		} else {
			sp.cancel() // do not leave the server sending the rest
		}
		sp.body.Close()
	}
	sp.cancel()
}

// at makes r.cur a range that starts at off, for a read of at least n
// bytes; r.mu is held.
func (r *reader) at(off, n int64) error {
	if r.cur != nil && r.cur.pos == off && off < r.cur.end {
		return nil
	}
	var seq bool
	spanLen := max(n, firstSpan)
	if r.cur != nil && r.cur.pos == off {
		// The current range ended where this read starts: continue.
		seq = true
		spanLen = max(n, min(2*(r.cur.end-r.cur.off), maxSpan))
	}
	if r.hintOff <= off && off < r.hintEnd {
		// The caller said what it reads: ask for all of it at once.
		spanLen = max(n, r.hintEnd-off)
		seq = false
	}
	r.cur.release()
	r.cur = nil
	if r.next != nil && r.next.off == off {
		r.cur, r.next = r.next, nil
	} else {
		r.next.release()
		r.next = nil
		r.cur = r.get(off, min(off+spanLen, r.size), seq)
	}
	<-r.cur.ready
	if err := r.cur.err; err != nil {
		r.cur.release()
		r.cur = nil
		return err
	}
	// A sequential reader will want the next range: ask for it now.
	if r.cur.seq && r.cur.end < r.size && !(r.hintOff <= r.cur.end && r.cur.end <= r.hintEnd) {
		l := min(2*(r.cur.end-r.cur.off), maxSpan)
		r.next = r.get(r.cur.end, min(r.cur.end+l, r.size), true)
	}
	return nil
}

// readSome reads at most len(p) bytes at off, fewer when the current range
// ends first; r.mu is held.
func (r *reader) readSome(p []byte, off int64) (int, error) {
	if err := r.at(off, int64(len(p))); err != nil {
		return 0, err
	}
	sp := r.cur
	m, err := sp.body.Read(p[:min(int64(len(p)), sp.end-sp.pos)])
	sp.pos += int64(m)
	if err == io.EOF && sp.pos < sp.end {
		r.drop()
		return m, fmt.Errorf("s3: read %s: object ended at %d, want %d bytes", r.name, off+int64(m), r.size)
	}
	if err != nil && err != io.EOF {
		r.drop()
		return m, fmt.Errorf("s3: read %s: %w", r.name, err)
	}
	return m, nil
}

// readAt fills p from off; r.mu is held.
func (r *reader) readAt(p []byte, off int64) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("s3: read %s: reader closed", r.name)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	n := 0
	for int64(n) < want {
		m, err := r.readSome(p[n:want], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (r *reader) drop() {
	r.cur.release()
	r.next.release()
	r.cur, r.next = nil, nil
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3: read %s: negative offset", r.name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readAt(p, off)
}

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("s3: read %s: reader closed", r.name)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	// One Read returns what the current range has at hand, at most p.
	m, err := r.readSome(p[:min(int64(len(p)), r.size-r.pos)], r.pos)
	r.pos += int64(m)
	return m, err
}

func (r *reader) Seek(off int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	default:
		return 0, fmt.Errorf("s3: seek %s: bad whence %d", r.name, whence)
	}
	if off < 0 {
		return 0, fmt.Errorf("s3: seek %s: negative position", r.name)
	}
	r.pos = off
	return off, nil
}

func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop()
	r.closed = true
	return nil
}
