package s3

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/charter-dev/charter/blob"
)

// Parts of resumable uploads are objects parts/<upload>/<n> under the
// prefix: a PutObject is atomic, so a part is whole or absent. The part's
// bytes are spooled to a temporary file first (the SDK signs a body it
// can read twice, and memory stays flat whatever the part size).

const partsPrefix = "parts/"

var _ blob.PartStore = (*Store)(nil)

func (s *Store) partKey(u string, n int) string {
	return s.prefix + partsPrefix + u + "/" + strconv.Itoa(n)
}

// PutPart stores part n of u.
func (s *Store) PutPart(ctx context.Context, u string, n int, r io.Reader, size int64) error {
	if !blob.ValidUpload(u) || n < 0 || size < 0 {
		return fmt.Errorf("s3: invalid part %d of upload %q", n, u)
	}
	f, err := os.CreateTemp("", "charter-part-*")
	if err != nil {
		return fmt.Errorf("s3: put part: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	got, err := io.Copy(f, io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("s3: put part: %w", err)
	}
	if got != size {
		return fmt.Errorf("%w: %d bytes, declared %d", blob.ErrPartSize, got, size)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	key := s.partKey(u, n)
	_, err = s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: f, ContentLength: aws.Int64(size)})
	if err != nil {
		return fmt.Errorf("s3: put part %d of %s: %w", n, u, err)
	}
	return nil
}

// Parts lists the stored parts of u.
func (s *Store) Parts(ctx context.Context, u string) (map[int]int64, error) {
	if !blob.ValidUpload(u) {
		return nil, fmt.Errorf("s3: invalid upload name %q", u)
	}
	out := map[int]int64{}
	pre := s.prefix + partsPrefix + u + "/"
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &pre})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: parts of %s: %w", u, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), pre)
			n, err := strconv.Atoi(name)
			if err != nil || n < 0 || strconv.Itoa(n) != name {
				continue
			}
			out[n] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}

// OpenPart opens part n of u.
func (s *Store) OpenPart(ctx context.Context, u string, n int) (io.ReadCloser, error) {
	if !blob.ValidUpload(u) {
		return nil, fmt.Errorf("s3: invalid upload name %q", u)
	}
	key := s.partKey(u, n)
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return nil, fmt.Errorf("s3: part %d of %s: %w", n, u, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3: part %d of %s: %w", n, u, err)
	}
	return out.Body, nil
}

// DropUpload removes the parts of u.
func (s *Store) DropUpload(ctx context.Context, u string) error {
	parts, err := s.Parts(ctx, u)
	if err != nil {
		return err
	}
	var objs []types.ObjectIdentifier
	for n := range parts {
		objs = append(objs, types.ObjectIdentifier{Key: aws.String(s.partKey(u, n))})
	}
	for len(objs) > 0 {
		batch := objs[:min(len(objs), 1000)]
		objs = objs[len(batch):]
		for _, o := range batch { // one by one: not every S3 server has DeleteObjects
			if err := s.delete(ctx, aws.ToString(o.Key)); err != nil {
				return fmt.Errorf("s3: drop upload %s: %w", u, err)
			}
		}
	}
	return nil
}

// Uploads lists the uploads with parts and their newest part's time.
func (s *Store) Uploads(ctx context.Context, fn func(string, time.Time) error) error {
	pre := s.prefix + partsPrefix
	newest := map[string]time.Time{}
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &pre})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: uploads: %w", err)
		}
		for _, o := range page.Contents {
			u, _, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), pre), "/")
			if !ok || !blob.ValidUpload(u) {
				continue
			}
			if t := aws.ToTime(o.LastModified); t.After(newest[u]) {
				newest[u] = t
			}
		}
	}
	for u, t := range newest {
		if err := fn(u, t); err != nil {
			return err
		}
	}
	return nil
}
