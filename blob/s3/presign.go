package s3

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
)

var _ blob.Presigner = (*reader)(nil)

// MaxPresignTTL is the longest a presigned range URL stays valid.
const MaxPresignTTL = 10 * time.Minute

// PresignRange implements blob.Presigner: a SigV4 presigned GET of the
// object that holds the blob (the one Open resolved, also when it is kept
// under uploads/ behind an index object) with its Range header signed, so
// the URL fetches [off, off+n) and nothing else until ttl has passed. The
// whole blob is presigned without a Range (the URL then fetches exactly
// the whole object, and a server answers an un-ranged GET more cheaply:
// versitygw's posix backend with sendfile). The URL names the access key
// id, never the secret.
func (r *reader) PresignRange(ctx context.Context, off, n int64, ttl time.Duration) (string, http.Header, error) {
	if off < 0 || n <= 0 || off+n > r.size {
		return "", nil, fmt.Errorf("s3: presign %s: range %d+%d is outside its %d bytes", r.name, off, n, r.size)
	}
	if ttl <= 0 || ttl > MaxPresignTTL {
		return "", nil, fmt.Errorf("s3: presign %s: lifetime %v is outside (0, %v]", r.name, ttl, MaxPresignTTL)
	}
	in := &s3.GetObjectInput{Bucket: &r.s.bucket, Key: &r.key}
	whole := off == 0 && n == r.size
	if !whole {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	ps, err := r.s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, fmt.Errorf("s3: presign %s: %w", r.name, err)
	}
	h := http.Header{}
	for k, v := range ps.SignedHeader {
		if k = http.CanonicalHeaderKey(k); k != "Host" {
			h[k] = v
		}
	}
	if !whole && h.Get("Range") == "" {
		// Fail closed: a URL without its range signed would read the
		// whole object.
		return "", nil, fmt.Errorf("s3: presign %s: the range is not among the signed headers", r.name)
	}
	return ps.URL, h, nil
}
