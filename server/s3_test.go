package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

// s3Fixture is a market with a licensed dataset (Max's, under the
// model's terms) the consumer holds a grant on, and the S3 API served.
type s3Fixture struct {
	*market
	s3      *httptest.Server
	dataset asset.ID
	dsGrant *grant.Grant
	files   map[string][]byte
	ids     map[string]content.ID
}

func newS3Fixture(t testing.TB, nfiles int) *s3Fixture {
	m := newMarket(t, Config{})
	f := &s3Fixture{market: m, files: map[string][]byte{}, ids: map[string]content.ID{}}
	ctx := context.Background()
	var files []content.File
	for i := range nfiles {
		path := fmt.Sprintf("train/part-%03d.txt", i)
		if i%4 == 3 {
			path = fmt.Sprintf("eval/x %d+y.txt", i) // a space and a plus: encoded keys
		}
		b := bytes.Repeat([]byte(fmt.Sprintf("row %d of %s\n", i, path)), 100+i)
		info, err := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		files = append(files, content.File{Path: path, Size: int64(len(b)), ID: id})
		f.files[path] = b
		f.ids[path] = id
	}
	x, err := content.NewIndex(files)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := x.Encode()
	info, err := m.c.Put(ctx, bytes.NewReader(raw), int64(len(raw)), client.PutOptions{Kind: "dataset"})
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := content.ParseID(info.ID)
	rec, err := m.s.cat.Asset(ctx, m.model)
	if err != nil {
		t.Fatal(err)
	}
	man := &asset.Manifest{Content: idx, Name: "shards", MediaType: content.DatasetMediaType, Created: asset.NewTime(time.Now()), Threshold: 1, License: rec.State.License,
		Owners: []asset.Owner{{DID: m.max.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: m.max.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(m.max)
	a, err := m.c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	f.dataset, _ = asset.ParseID(a.Asset)
	ans, err := m.c.RequestGrant(ctx, m.consumer, f.dataset, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant on the dataset: %v %+v", err, ans)
	}
	f.dsGrant = ans.Grant
	f.s3 = httptest.NewServer(m.s.S3Handler())
	t.Cleanup(f.s3.Close)
	return f
}

func grantOpts() client.GrantOptions { return client.GrantOptions{Commercial: true} }

func (f *s3Fixture) revokeDatasetGrant() {
	f.t.Helper()
	rv := &grant.Revocation{Asset: f.dataset, Created: asset.NewTime(time.Now()), Grant: f.dsGrant.ID, Reason: "test"}
	env, err := rv.Sign(f.max)
	if code, b := f.call("POST", "/v1/grants/"+f.dsGrant.ID.String()+"/revoke", envJSON(f.t.(*testing.T), env, err), nil); code != 200 {
		f.t.Fatalf("revoke grant: %d %s", code, b)
	}
}

func (f *s3Fixture) cred(k *identity.Key, assets ...string) api.CredentialAnswer {
	f.t.Helper()
	body := `{}`
	if len(assets) > 0 {
		body = `{"assets":["` + strings.Join(assets, `","`) + `"]}`
	}
	code, a := f.credential(k, body)
	if code != http.StatusCreated {
		f.t.Fatalf("credential: %d", code)
	}
	return a
}

func (f *s3Fixture) client(id, secret string) *awss3.Client {
	return awss3.New(awss3.Options{
		BaseEndpoint: aws.String(f.s3.URL), UsePathStyle: true, Region: "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// TestS3ReadsUnderGrant drives the S3 API with the AWS SDK for Go:
// listing (prefix, delimiter, pages, url encoding), ranged and whole
// reads, HeadObject with the content id, presigned URLs, and the
// refusals: no credentials, a wrong secret, another licensee's grant-less
// credential, a revoked credential, a revoked grant, a key outside the
// dataset, and writes.
func TestS3ReadsUnderGrant(t *testing.T) {
	f := newS3Fixture(t, 12)
	ctx := context.Background()
	a := f.cred(f.consumer)
	c := f.client(a.AccessKeyID, a.SecretAccessKey)
	bucket := f.dataset.String()

	// Every key, three at a time.
	var keys []string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(3), EncodingType: "url"})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			k, err := url.PathUnescape(aws.ToString(o.Key)) // encoding-type=url
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
			if aws.ToInt64(o.Size) != int64(len(f.files[k])) {
				t.Errorf("%s: size %d", k, aws.ToInt64(o.Size))
			}
		}
	}
	if len(keys) != len(f.files) {
		t.Fatalf("listed %d keys, want %d: %q", len(keys), len(f.files), keys)
	}
	for _, k := range keys {
		if f.files[k] == nil {
			t.Errorf("listed key %q is not a file of the dataset", k)
		}
	}
	// Delimiter: two common prefixes.
	out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
	if err != nil || len(out.CommonPrefixes) != 2 || len(out.Contents) != 0 {
		t.Fatalf("delimiter listing: %v %+v", err, out)
	}
	out, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("eval/")})
	if err != nil || len(out.Contents) != 3 {
		t.Fatalf("prefix listing: %v %d", err, len(out.Contents))
	}
	// The dataset's name is an alias of its id.
	if _, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shards")}); err != nil {
		t.Fatalf("alias bucket: %v", err)
	}
	// A ranged read, a whole read, a head.
	key := "eval/x 3+y.txt"
	got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=5-24")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(b, f.files[key][5:25]) {
		t.Fatalf("range read %q", b)
	}
	got, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(b, f.files[key]) {
		t.Fatal("whole read differs")
	}
	cid := ""
	for path, id := range f.ids {
		if path == key {
			cid = id.String()
		}
	}
	h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || aws.ToString(h.ETag) != `"`+cid+`"` || h.Metadata["charter-id"] != cid {
		t.Fatalf("head: %v %v %v", err, aws.ToString(h.ETag), h.Metadata)
	}
	// A presigned URL reads without the SDK.
	ps, err := awss3.NewPresignClient(c).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, func(o *awss3.PresignOptions) { o.Expires = time.Minute })
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, f.files[key]) {
		t.Fatalf("presigned read: %d", resp.StatusCode)
	}
	// The reads are metered in the session of the access key id: its
	// receipt counts them.
	rs, err := f.s.closeSessions(ctx, catalog.SessionFilter{Session: a.AccessKeyID, Licensee: f.consumer.DID().String()})
	if err != nil || len(rs) != 1 || rs[0].Bytes != int64(20+2*len(f.files[key])) {
		t.Fatalf("receipts %+v %v", rs, err)
	}

	// Refusals.
	if _, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("train/none")}); s3Code(err) != "NoSuchKey" {
		t.Errorf("missing key: %v", err)
	}
	if _, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(f.dataset.String()[:40])}); s3Code(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
	// The corpus: under open terms, but the consumer holds no grant on
	// it, and a credential limited to the dataset never reads the model.
	lim := f.cred(f.consumer, bucket)
	if _, err := f.client(lim.AccessKeyID, lim.SecretAccessKey).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(f.model.String())}); s3Code(err) != "AccessDenied" {
		t.Errorf("credential limited to the dataset lists the model: %v", err)
	}
	if _, err := f.client(a.AccessKeyID, strings.Repeat("0", 40)).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)}); s3Code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	anon := awss3.New(awss3.Options{BaseEndpoint: aws.String(f.s3.URL), UsePathStyle: true, Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	if _, err := anon.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); s3Code(err) != "AccessDenied" {
		t.Errorf("no credentials: %v", err)
	}
	// Another licensee (Ann holds a grant on nothing here... but on the
	// corpus? no: she owns it) reads nothing of the dataset.
	if _, err := f.c.RequestGrant(ctx, f.ann, f.model, "infer", client.GrantOptions{Commercial: true}); err != nil {
		t.Fatal(err)
	}
	other := f.cred(f.ann)
	oc := f.client(other.AccessKeyID, other.SecretAccessKey)
	if _, err := oc.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); s3Code(err) != "AccessDenied" {
		t.Errorf("another licensee's credential: %v", err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("new"), Body: strings.NewReader("x")}); s3Code(err) != "AccessDenied" {
		t.Errorf("write: %v", err)
	}
	// A request signed too long ago.
	req, _ := http.NewRequest("GET", f.s3.URL+"/"+bucket+"?list-type=2", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(-20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(b, []byte("<Code>RequestTimeTooSkewed</Code>")) {
		t.Errorf("skewed request: %d %s", resp.StatusCode, b)
	}
	// Revoking the credential stops the next request.
	if code, _ := f.call("POST", "/v1/credentials/"+lim.AccessKeyID+"/revoke", []byte("{}"), f.consumer); code != 200 {
		t.Fatal(code)
	}
	if _, err := f.client(lim.AccessKeyID, lim.SecretAccessKey).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)}); s3Code(err) != "InvalidAccessKeyId" {
		t.Errorf("revoked credential: %v", err)
	}
	// Revoking the grant stops the next request.
	f.revokeDatasetGrant()
	if _, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); s3Code(err) != "AccessDenied" {
		t.Errorf("revoked grant: %v", err)
	}
}

// TestCredentialCacheRevocation: with the credential cache, the grant
// and governance cache (govCache) and the request memo in place, revoking a credential or the grant under it
// stops the very next S3 request, after requests that filled the cache;
// and the cache does not serve a credential's record to another key id.
func TestCredentialCacheRevocation(t *testing.T) {
	f := newS3Fixture(t, 2)
	ctx := context.Background()
	bucket, key := f.dataset.String(), "train/part-000.txt"
	get := func(c *awss3.Client) error {
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-9")})
		if err == nil {
			io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
		return err
	}
	a, b := f.cred(f.consumer), f.cred(f.consumer)
	ca, cb := f.client(a.AccessKeyID, a.SecretAccessKey), f.client(b.AccessKeyID, b.SecretAccessKey)
	for range 3 {
		if err := get(ca); err != nil {
			t.Fatalf("read before revocation: %v", err)
		}
	}
	if _, _, ok, _ := f.s.cachedCredential(a.AccessKeyID); !ok {
		t.Fatal("the credential is not cached: this test would not test the cache")
	}
	// a's secret with b's key id is refused, cached or not.
	if err := get(f.client(b.AccessKeyID, a.SecretAccessKey)); s3Code(err) != "SignatureDoesNotMatch" {
		t.Fatalf("a's secret under b's id: %v", err)
	}
	if code, body := f.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), f.consumer); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if err := get(ca); s3Code(err) != "InvalidAccessKeyId" {
		t.Fatalf("the request after the credential's revocation: %v", err)
	}
	// The other credential still reads; revoking the grant stops it next.
	for range 3 {
		if err := get(cb); err != nil {
			t.Fatalf("read with the other credential: %v", err)
		}
	}
	if g, ok := f.s.gov.getGrant(memoGrantKey{f.consumer.DID(), f.dataset.String()}); !ok || g == nil {
		t.Fatal("the grant is not cached: this test would not test the cache")
	}
	f.revokeDatasetGrant()
	if err := get(cb); s3Code(err) != "AccessDenied" {
		t.Fatalf("the request after the grant's revocation: %v", err)
	}
}
