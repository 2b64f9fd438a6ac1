package s3_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
)

// TestOtherS3Server runs the backend suite and the multipart sizes against
// an S3 server other than the versitygw the tests start, by hand: set
// CHARTER_TEST_S3_ENDPOINT, CHARTER_TEST_S3_ACCESS_KEY and
// CHARTER_TEST_S3_SECRET_KEY (docs/operations.md, "MinIO"). It creates
// buckets named charter-suite-*. Without the variables it skips.
func TestOtherS3Server(t *testing.T) {
	ep := os.Getenv("CHARTER_TEST_S3_ENDPOINT")
	if ep == "" {
		t.Skip("CHARTER_TEST_S3_ENDPOINT is not set (a by-hand run against another S3 server)")
	}
	cl := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(os.Getenv("CHARTER_TEST_S3_ACCESS_KEY"), os.Getenv("CHARTER_TEST_S3_SECRET_KEY"), ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
	n := 0
	bucket := func(t *testing.T) string {
		n++
		name := fmt.Sprintf("charter-suite-%d-%d", time.Now().Unix(), n)
		if _, err := cl.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &name}); err != nil {
			t.Fatal(err)
		}
		return name
	}
	storagetest.Test(t, func(t *testing.T) blob.Store {
		s, err := s3.New(cl, bucket(t), s3.Options{Prefix: "charter"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	t.Run("Multipart", func(t *testing.T) {
		const p = s3.MinPartSize
		s, _ := s3.New(cl, bucket(t), s3.Options{PartSize: p, Concurrency: 2})
		storagetest.TestSizes(t, s, []int{p - 1, p, p + 1, 2*p + 12345})
	})
}
