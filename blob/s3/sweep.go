package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
)

// Swept counts what Sweep removed.
type Swept struct {
	// Uploads is the number of incomplete multipart uploads aborted.
	Uploads int
	// Objects is the number of uploads/ objects no index object named.
	Objects int
}

// Sweep removes what writers that died left behind: multipart uploads under
// the prefix started before now-grace, and uploads/ objects last modified
// before now-grace that no index object names. Nothing a reader can see is
// touched. A live writer's upload is safe as long as grace is longer than
// any write takes (docs/operations.md suggests 24 hours); several replicas
// may sweep at once. A bucket lifecycle rule
// (AbortIncompleteMultipartUpload) does the first half on the server.
func (s *Store) Sweep(ctx context.Context, grace time.Duration) (Swept, error) {
	var sw Swept
	cutoff := time.Now().Add(-grace)
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket}
	if s.prefix != "" {
		in.Prefix = &s.prefix
	}
	for {
		out, err := s.c.ListMultipartUploads(ctx, in)
		if err != nil {
			return sw, fmt.Errorf("s3: sweep: list uploads: %w", err)
		}
		for _, u := range out.Uploads {
			if u.Initiated != nil && !u.Initiated.Before(cutoff) {
				continue
			}
			_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && !isNotFound(err) {
				return sw, fmt.Errorf("s3: sweep: abort upload of %s: %w", aws.ToString(u.Key), err)
			}
			sw.Uploads++
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}

	// Old uploads/ objects first, then the index objects: an object
	// published after the first listing is younger than the cutoff.
	old := map[string]bool{}
	up := s.prefix + uploadsDir
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &up})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sw, fmt.Errorf("s3: sweep: %w", err)
		}
		for _, o := range page.Contents {
			if o.LastModified != nil && o.LastModified.Before(cutoff) {
				old[aws.ToString(o.Key)] = true
			}
		}
	}
	if len(old) == 0 {
		return sw, nil
	}
	bp := s.prefix + blobsDir
	p = s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &bp})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sw, fmt.Errorf("s3: sweep: %w", err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if !strings.HasSuffix(k, refSuffix) {
				continue
			}
			r, err := s.readRef(ctx, k)
			if errors.Is(err, blob.ErrNotFound) {
				continue // removed meanwhile
			}
			if err != nil {
				// Unsure what is referenced: delete nothing.
				return sw, fmt.Errorf("s3: sweep: %w", err)
			}
			delete(old, s.prefix+r.Upload)
		}
	}
	for k := range old {
		if err := s.delete(ctx, k); err != nil {
			return sw, fmt.Errorf("s3: sweep: delete %s: %w", k, err)
		}
		sw.Objects++
	}
	return sw, nil
}
