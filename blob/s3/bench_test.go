package s3_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/internal/testenv"
)

// BenchmarkPutGet stores and reads back 32 MiB per round on versitygw and
// on localfs in the same run, and reads the same object with a plain GET.
// Reported: s3-put-MB/s, localfs-put-MB/s, put-x-localfs (S3 time over
// localfs time), s3-get-MB/s (verified blob.Get), plain-get-MB/s (one GET
// of the data object), get-x-plain (verified over plain throughput).
func BenchmarkPutGet(b *testing.B) {
	ctx := context.Background()
	e := testenv.S3For(b, srv, srvErr)
	bucket := e.Bucket(b)
	s, err := s3.New(e.Client(), bucket, s3.Options{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := localfs.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := storagetest.Bytes(1, 32<<20)
	var tS3, tLocal, tGet, tPlain time.Duration
	for i := 0; b.Loop(); i++ {
		data[0], data[1] = byte(i), byte(i>>8)
		want := storagetest.IDOf(data)
		t0 := time.Now()
		if _, err := blob.Put(ctx, l, bytes.NewReader(data), &want); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := blob.Put(ctx, s, bytes.NewReader(data), &want); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		out, err := s.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(s.ObjectKey(blob.Key{ID: want}))})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, out.Body)
		out.Body.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
		t3 := time.Now()
		v, err := blob.Get(ctx, s, want)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, v); err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
		v.Close()
		t4 := time.Now()
		tLocal += t1.Sub(t0)
		tS3 += t2.Sub(t1)
		tPlain += t3.Sub(t2)
		tGet += t4.Sub(t3)
		b.StopTimer()
		blob.Delete(ctx, s, want)
		blob.Delete(ctx, l, want)
		b.StartTimer()
	}
	mb := float64(len(data)) * float64(b.N) / 1e6
	b.ReportMetric(mb/tS3.Seconds(), "s3-put-MB/s")
	b.ReportMetric(mb/tLocal.Seconds(), "localfs-put-MB/s")
	b.ReportMetric(float64(tS3)/float64(tLocal), "put-x-localfs")
	b.ReportMetric(mb/tGet.Seconds(), "s3-get-MB/s")
	b.ReportMetric(mb/tPlain.Seconds(), "plain-get-MB/s")
	b.ReportMetric(tPlain.Seconds()/tGet.Seconds(), "get-x-plain")
}
