package s3_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/internal/testenv"
)

var (
	srv    *testenv.S3
	srvErr error
)

// TestMain starts one versitygw for the package's tests (and is also the
// crash tests' child process, see crash_test.go).
func TestMain(m *testing.M) {
	if crashChildMain() {
		return
	}
	var stop func()
	srv, stop, srvErr = testenv.LaunchS3()
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

func server(t *testing.T) *testenv.S3 {
	t.Helper()
	return testenv.S3For(t, srv, srvErr)
}

func newStore(t *testing.T, e *testenv.S3, o s3.Options) *s3.Store {
	t.Helper()
	s, err := s3.New(e.Client(), e.Bucket(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStore runs the backend suite (whose blobs fit one part, so each is
// one PUT), then round trips at sizes around the 5 MiB part boundaries,
// which go through multipart uploads with and without a declared id.
func TestStore(t *testing.T) {
	e := server(t)
	storagetest.Test(t, func(t *testing.T) blob.Store { return newStore(t, e, s3.Options{Prefix: "charter"}) })
	t.Run("Multipart", func(t *testing.T) {
		const p = s3.MinPartSize
		s := newStore(t, e, s3.Options{PartSize: p, Concurrency: 2})
		storagetest.TestSizes(t, s, []int{p - 1, p, p + 1, 2*p + 12345})
		if n := uploads(t, s); n != 0 {
			t.Fatalf("%d multipart uploads left open", n)
		}
	})
}

// keys lists every object key in the store's bucket.
func keys(t *testing.T, s *s3.Store) []string {
	t.Helper()
	var ks []string
	p := awss3.NewListObjectsV2Paginator(s.Client(), &awss3.ListObjectsV2Input{Bucket: aws.String(s.Bucket())})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			ks = append(ks, aws.ToString(o.Key))
		}
	}
	return ks
}

func uploads(t *testing.T, s *s3.Store) int {
	t.Helper()
	out, err := s.Client().ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// TestLayout pins the keys documented in docs/storage.md: a declared-id
// multipart upload lands at blobs/<hex>, an undeclared large one at
// uploads/<random> behind blobs/<hex>.ref, and each byte is written once.
func TestLayout(t *testing.T) {
	e := server(t)
	ctx := context.Background()
	s := newStore(t, e, s3.Options{Prefix: "p/q", PartSize: s3.MinPartSize})
	hexOf := func(id content.ID) string { d := id.Digest(); return hex.EncodeToString(d[:]) }

	small := []byte("hello")
	si, err := blob.Put(ctx, s, bytes.NewReader(small), nil)
	if err != nil {
		t.Fatal(err)
	}
	big := storagetest.Bytes(1, 6<<20+7)
	want := storagetest.IDOf(big)
	if _, err := blob.Put(ctx, s, bytes.NewReader(big), &want); err != nil {
		t.Fatal(err)
	}
	big2 := storagetest.Bytes(2, 6<<20+9)
	bi2, err := blob.Put(ctx, s, bytes.NewReader(big2), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var upload string
	for _, k := range keys(t, s) {
		got[k] = true
		if strings.HasPrefix(k, "p/q/uploads/") {
			upload = k
		}
	}
	for _, k := range []string{
		"p/q/blobs/" + hexOf(si.ID), "p/q/blobs/" + hexOf(si.ID) + ".obao",
		"p/q/blobs/" + hexOf(want), "p/q/blobs/" + hexOf(want) + ".obao",
		"p/q/blobs/" + hexOf(bi2.ID) + ".ref", "p/q/blobs/" + hexOf(bi2.ID) + ".obao",
	} {
		if !got[k] {
			t.Errorf("missing key %s; have %v", k, got)
		}
	}
	if len(got) != 7 || upload == "" {
		t.Fatalf("bucket holds %d keys, want 7 with one under uploads/: %v", len(got), got)
	}
	// The uploads/ object is the content, byte for byte: written once.
	out, err := s.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.Bucket()), Key: &upload})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(b, big2) {
		t.Fatal("uploads/ object differs from the content")
	}
	if n := uploads(t, s); n != 0 {
		t.Fatalf("%d multipart uploads left open", n)
	}
	// Removing the indexed blob removes its upload too.
	if err := blob.Delete(ctx, s, bi2.ID); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys(t, s) {
		if strings.HasPrefix(k, "p/q/uploads/") || strings.Contains(k, hexOf(bi2.ID)) {
			t.Fatalf("after Delete %s is left", k)
		}
	}
}

// TestMismatchAborts checks that a declared-id multipart upload whose bytes
// hash to another id is aborted: no object, no open upload.
func TestMismatchAborts(t *testing.T) {
	e := server(t)
	ctx := context.Background()
	s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	b := storagetest.Bytes(3, 11<<20)
	other := storagetest.IDOf([]byte("other"))
	if _, err := blob.Put(ctx, s, bytes.NewReader(b), &other); !errors.Is(err, blob.ErrMismatch) {
		t.Fatalf("Put = %v, want ErrMismatch", err)
	}
	if ks := keys(t, s); len(ks) != 0 {
		t.Fatalf("a mismatched Put left %v", ks)
	}
	if n := uploads(t, s); n != 0 {
		t.Fatalf("a mismatched Put left %d multipart uploads", n)
	}
}

// TestCommitOtherKey checks that a write staged for one key cannot be
// committed under another.
func TestCommitOtherKey(t *testing.T) {
	e := server(t)
	ctx := context.Background()
	s := newStore(t, e, s3.Options{})
	a := blob.Key{ID: storagetest.IDOf([]byte("a"))}
	w, err := s.StageKey(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	io.WriteString(w, "a")
	if err := w.Commit(ctx, blob.Key{ID: storagetest.IDOf([]byte("b"))}); err == nil {
		t.Fatal("Commit under another key succeeded")
	}
}

// TestSharedStore has two Store values (two replicas) on one bucket: what
// one writes the other reads, lists and removes.
func TestSharedStore(t *testing.T) {
	e := server(t)
	ctx := context.Background()
	a := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	b, err := s3.New(e.Client(), a.Bucket(), s3.Options{PartSize: s3.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	data := storagetest.Bytes(4, 7<<20)
	info, err := blob.Put(ctx, a, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := blob.Get(ctx, b, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(v)
	v.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("other replica read %d bytes, %v", len(got), err)
	}
	if err := blob.Delete(ctx, b, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stat(ctx, blob.Key{ID: info.ID}); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after the other replica deleted = %v", err)
	}
}

// TestOpenURL opens a store from its URL with credentials from the
// standard AWS variables, and reports a missing bucket in words.
func TestOpenURL(t *testing.T) {
	e := server(t)
	e.Env(t)
	ctx := context.Background()
	bucket := e.Bucket(t)
	s, err := s3.OpenURL(ctx, e.URL(bucket, "charter/blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Bucket() != bucket || s.Prefix() != "charter/blobs/" {
		t.Fatalf("opened %s/%s", s.Bucket(), s.Prefix())
	}
	if _, err := blob.Put(ctx, s, strings.NewReader("via url"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = s3.OpenURL(ctx, e.URL("no-such-bucket", ""))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("OpenURL of a missing bucket = %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	_, err = s3.OpenURL(ctx, e.URL(bucket, ""))
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("OpenURL with a wrong secret = %v", err)
	}
}

// TestKeyedCommitKeepsExisting checks that a write staged for a key that
// another writer committed meanwhile keeps the first bytes: the PUT and
// the multipart completion are sent with If-None-Match: *, which the
// server must honour (there is no check before them on this path).
func TestKeyedCommitKeepsExisting(t *testing.T) {
	e := server(t)
	ctx := context.Background()
	s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	for _, n := range []int{10, 6 << 20} {
		k := blob.Key{ID: storagetest.IDOf([]byte{byte(n)})}
		first, second := storagetest.Bytes(1, n), storagetest.Bytes(2, n)
		a, err := s.StageKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.StageKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		a.Write(first)
		b.Write(second)
		if err := a.Commit(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx, k); err != nil {
			t.Fatalf("second commit: %v", err)
		}
		if got := read(t, s, k); !bytes.Equal(got, first) {
			t.Fatalf("size %d: the second commit replaced the first bytes", n)
		}
		if n := uploads(t, s); n != 0 {
			t.Fatalf("%d multipart uploads left open", n)
		}
	}
}
