package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/charter-dev/charter/blob"
	blobs3 "github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/testenv"
	"github.com/charter-dev/charter/server"
	"github.com/zeebo/blake3"
)

// BenchmarkS3Download measures a verified download through `charter
// serve` whose blobs are in an S3 bucket (versitygw): the client's
// verified Stream (one slice request for the whole object, which the
// server reads with one GET of each part; every byte checked against the
// Bao outboard) against, in the same run, a plain GET of the same object
// straight from the S3 server, read to discard. It reports MB/s of each
// and verified/plain (issue 12: at least 0.7), and the CPU time both
// processes (this one, with server and client, and versitygw) spent per
// GiB on each path: on a machine shared with other work the wall-clock
// ratio is load-bound, the CPU cost is not.
//
//	go test ./cmd/charter -run '^$' -bench S3Download -benchtime 5x -count 3
//
// With -s3download.copy it also runs the verified download with the
// store's splice off (the server copying each byte, as before it) and
// reports copy-MB/s, copy-cpu-s/GiB and copy/plain.
var s3DownloadCopy = flag.Bool("s3download.copy", false, "BenchmarkS3Download: also download with the S3 store's splice off")

// With -s3download.direct the server runs with direct reads on
// (--s3-direct-reads) and the bench also runs the verified download with
// the client fetching the data from versitygw by the presigned URL and
// the tree from the server, reporting direct-MB/s, direct-cpu-s/GiB and
// direct/plain; the verified download through the server runs with a
// client that does not ask for direct reads.
var s3DownloadDirect = flag.Bool("s3download.direct", false, "BenchmarkS3Download: also download with direct reads (presigned data URLs)")

func BenchmarkS3Download(b *testing.B) {
	ctx := context.Background()
	e := testenv.StartS3(b)
	bucket := e.Bucket(b)
	for _, kv := range [][2]string{{"AWS_ACCESS_KEY_ID", e.AccessKey}, {"AWS_SECRET_ACCESS_KEY", e.SecretKey}, {"AWS_REGION", e.Region}} {
		b.Setenv(kv[0], kv[1])
	}
	url := e.URL(bucket, "bench")
	deps, done, err := backends{Blobs: url}.open(ctx, server.Config{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), ScrubInterval: -1, SettleInterval: -1, S3DirectReads: *s3DownloadDirect})
	if err != nil {
		b.Fatal(err)
	}
	defer done()
	store := deps.Blobs.(*blobs3.Store)
	srv, err := server.New(ctx, deps)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Serve(sctx, l)
	key, err := identity.Generate()
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New("http://" + l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c = c.WithKey(key)
	c.SetDirectReads(false)
	dc, err := client.New("http://" + l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	const size = 128 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// Declared id: the upload goes straight to the final object key (an
	// upload without one is kept under uploads/ with a reference).
	id := content.IDFromDigest(blake3.Sum256(data))
	if _, err := c.Put(ctx, bytes.NewReader(data), size, client.PutOptions{Want: &id}); err != nil {
		b.Fatal(err)
	}
	objKey := store.ObjectKey(blob.Key{ID: id, Part: blob.Data})
	s3c := e.Client()
	// The verified download runs twice: with the S3 store splicing the
	// data from its connection to the client's (the default), and with
	// the splice off (-s3download.copy), each byte copied through the
	// server as before.
	var verified, copied, plain, verifiedCPU, copiedCPU, plainCPU, verifiedS3, copiedS3, plainS3 time.Duration
	var direct, directCPU, directS3 time.Duration
	cpu := func() time.Duration { return testenv.SelfCPU() + e.CPU() }
	streamWith := func(c *client.Client, splice bool, wall, cpuTime, s3CPU *time.Duration) {
		store.SetSplice(splice)
		t0, c0, s0 := time.Now(), cpu(), e.CPU()
		n, err := c.Stream(ctx, id, io.Discard, nil)
		if err != nil || n != size {
			b.Fatalf("verified download (splice %v): %d bytes, %v", splice, n, err)
		}
		*wall += time.Since(t0)
		*cpuTime += cpu() - c0
		if s3CPU != nil {
			*s3CPU += e.CPU() - s0
		}
	}
	stream := func(splice bool, wall, cpuTime, s3CPU *time.Duration) { streamWith(c, splice, wall, cpuTime, s3CPU) }
	get := func(wall, cpuTime, s3CPU *time.Duration) {
		t0, c0, s0 := time.Now(), cpu(), e.CPU()
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(objKey)})
		if err != nil {
			b.Fatalf("plain GET %s: %v", objKey, err)
		}
		m, err := io.Copy(io.Discard, out.Body)
		out.Body.Close()
		if err != nil || m != size {
			b.Fatalf("plain GET: %d bytes, %v", m, err)
		}
		*wall += time.Since(t0)
		*cpuTime += cpu() - c0
		*s3CPU += e.CPU() - s0
	}
	// One untimed round first: the upload's after-effects (the S3
	// server's garbage collection, connections) are not charged to
	// whichever path runs first.
	var warm time.Duration
	stream(true, &warm, &warm, nil)
	if *s3DownloadDirect {
		streamWith(dc, true, &warm, &warm, nil)
	}
	get(&warm, &warm, &warm)
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		// The order alternates, so neither path always follows the other.
		if i%2 == 1 {
			get(&plain, &plainCPU, &plainS3)
		}
		stream(true, &verified, &verifiedCPU, &verifiedS3)
		if *s3DownloadCopy {
			stream(false, &copied, &copiedCPU, &copiedS3)
		}
		if *s3DownloadDirect {
			streamWith(dc, true, &direct, &directCPU, &directS3)
		}
		if i%2 == 0 {
			get(&plain, &plainCPU, &plainS3)
		}
	}
	store.SetSplice(true)
	gib := float64(size) * float64(b.N) / (1 << 30)
	b.ReportMetric(verifiedCPU.Seconds()/gib, "verified-cpu-s/GiB")
	b.ReportMetric(plainCPU.Seconds()/gib, "plainGET-cpu-s/GiB")
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(verified), "verified-MB/s")
	b.ReportMetric(mbps(plain), "plainGET-MB/s")
	b.ReportMetric(plain.Seconds()/verified.Seconds(), "verified/plain")
	// The S3 server's part of each.
	b.ReportMetric(verifiedS3.Seconds()/gib, "verified-s3-cpu-s/GiB")
	b.ReportMetric(plainS3.Seconds()/gib, "plainGET-s3-cpu-s/GiB")
	if *s3DownloadCopy {
		b.ReportMetric(copiedCPU.Seconds()/gib, "copy-cpu-s/GiB")
		b.ReportMetric(copiedS3.Seconds()/gib, "copy-s3-cpu-s/GiB")
		b.ReportMetric(mbps(copied), "copy-MB/s")
		b.ReportMetric(plain.Seconds()/copied.Seconds(), "copy/plain")
	}
	if *s3DownloadDirect {
		b.ReportMetric(directCPU.Seconds()/gib, "direct-cpu-s/GiB")
		b.ReportMetric(directS3.Seconds()/gib, "direct-s3-cpu-s/GiB")
		b.ReportMetric(mbps(direct), "direct-MB/s")
		b.ReportMetric(plain.Seconds()/direct.Seconds(), "direct/plain")
	}
}
