package server

// Attacker's review of the read credentials and the S3 and Hugging Face
// compatible read APIs (issue 13; docs/design/threat-model.md, "Read
// credentials and compatible read APIs"). Each test is a hole found by
// driving the real in-process server as a stranger with a fresh key.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/identity"
)

// wrapFree registers, as k, an asset without a licence whose content is
// id (content someone else's licensed asset governs).
func wrapFree(t *testing.T, m *market, k *identity.Key, id, name, media string) asset.ID {
	t.Helper()
	ctx := context.Background()
	cid, err := content.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	man := &asset.Manifest{Content: cid, Name: name, MediaType: media, Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(k)
	a, err := m.c.Register(ctx, env)
	if err != nil {
		t.Skipf("wrapping registration refused (%v): the wrapper attack needs none of the fixes below", err)
	}
	w, _ := asset.ParseID(a.Asset)
	return w
}

// TestAttackS3WrapperListsLicensedDataset: a stranger registers a free
// asset whose content is a licensed dataset's index, gets a credential
// for it (free: no grant needed) and lists the licensed dataset's paths,
// sizes and content ids through the S3 API. The file list is governed
// like the index bytes it comes from: refused.
func TestAttackS3WrapperListsLicensedDataset(t *testing.T) {
	f := newS3Fixture(t, 4)
	ctx := context.Background()
	rec, err := f.s.cat.Asset(ctx, f.dataset)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := identity.Generate()
	w := wrapFree(t, f.market, stranger, rec.State.Manifest.Content.String(), "wrapper", content.DatasetMediaType)
	code, a := f.credential(stranger, `{"assets":["`+w.String()+`"]}`)
	if code != http.StatusCreated {
		t.Skipf("no credential for the wrapper: %d", code)
	}
	out, err := f.client(a.AccessKeyID, a.SecretAccessKey).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(w.String())})
	if err == nil {
		t.Fatalf("a stranger listed %d files of a licensed dataset through a free wrapper asset", len(out.Contents))
	}
	if got := s3Code(err); got != "AccessDenied" {
		t.Fatalf("wrapper listing: %s; want AccessDenied", got)
	}
}

// TestAttackHFWrapperListsLicensedDataset: the same wrapper, read as a
// Hugging Face repo.
func TestAttackHFWrapperListsLicensedDataset(t *testing.T) {
	f := newHFFixture(t, Config{})
	ctx := context.Background()
	rec, err := f.s.cat.Asset(ctx, f.ds)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := identity.Generate()
	w := wrapFree(t, f.market, fresh, rec.State.Manifest.Content.String(), "wrapper", content.DatasetMediaType)
	for _, p := range []string{"/api/datasets/" + w.String(), "/api/datasets/" + w.String() + "/tree/main?recursive=true"} {
		resp, b := f.get("GET", p, "")
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s: a stranger listed a licensed dataset through a free wrapper: %s", p, b)
		}
	}
}

// TestAttackHFResolveProbesLicensedPaths: without a grant, resolve must
// not tell which paths a licensed dataset holds (404 for absent paths,
// 401/403 for present ones) nor their sizes (416 for a range past the
// end): the file list is governed like the index it comes from.
func TestAttackHFResolveProbesLicensedPaths(t *testing.T) {
	f := newHFFixture(t, Config{})
	ds := f.ds.String()
	other := f.token(f.stranger) // a licensee of the model only
	for _, tok := range []string{"", other} {
		status := func(method, path string, hdr ...string) int {
			resp, _ := f.get(method, "/datasets/"+ds+"/resolve/main/"+path, tok, hdr...)
			return resp.StatusCode
		}
		present, absent := status("HEAD", "README.md"), status("HEAD", "no-such-file.md")
		if present != absent {
			t.Errorf("token %v: HEAD tells a present path (%d) from an absent one (%d) without a grant", tok != "", present, absent)
		}
		size := len(f.dsFiles["README.md"])
		in, past := status("GET", "README.md", "Range", fmt.Sprintf("bytes=%d-", size-1)), status("GET", "README.md", "Range", fmt.Sprintf("bytes=%d-", size))
		if in != past {
			t.Errorf("token %v: a Range probe tells a file's size without a grant (%d vs %d)", tok != "", in, past)
		}
		if present == http.StatusOK || in == http.StatusPartialContent {
			t.Errorf("token %v: licensed file served without a grant", tok != "")
		}
	}
}

// TestAttackFreshKeysMintCredentialsOutsideThePool: a credential naming
// a free asset needs no grant, so any fresh key may mint MaxLive of them
// (catalog rows, plus a per-key daily counter row); a crowd of keys
// without standing must draw on the shared pool, as every other write of
// theirs does.
func TestAttackFreshKeysMintCredentialsOutsideThePool(t *testing.T) {
	f := newHFFixture(t, Config{Crowd: crowd.Limits{StatementsDay: 5}})
	ctx := context.Background()
	owner, _ := identity.Generate()
	// A free asset (no licence) anyone may read.
	rec, err := f.s.cat.Asset(ctx, f.model)
	if err != nil {
		t.Fatal(err)
	}
	free := wrapFree(t, f.market, owner, rec.State.Manifest.Content.String(), "free", "application/octet-stream")
	issued := 0
	for range 20 {
		k, _ := identity.Generate()
		code, _ := f.credential(k, `{"assets":["`+free.String()+`"]}`)
		if code == http.StatusCreated {
			issued++
		} else {
			t.Logf("fresh key %d: %d", issued, code)
		}
	}
	if issued >= 20 {
		t.Fatalf("20 fresh keys without standing minted %d credentials past a pool of 5 statements a day", issued)
	}
}

// TestAttackPresignedURLDiesWithItsCredential: a presigned URL made for
// the longest life S3 allows (7 days) does not outlive the credential it
// was signed with (revoked here; expiry is checked on the same path,
// Server.Credential), nor the grant; a HEAD then reveals nothing.
func TestAttackPresignedURLDiesWithItsCredential(t *testing.T) {
	f := newS3Fixture(t, 2)
	ctx := context.Background()
	a := f.cred(f.consumer, f.dataset.String())
	key := "train/part-000.txt"
	in := &awss3.GetObjectInput{Bucket: aws.String(f.dataset.String()), Key: aws.String(key)}
	ps, err := awss3.NewPresignClient(f.client(a.AccessKeyID, a.SecretAccessKey)).PresignGetObject(ctx, in, func(o *awss3.PresignOptions) { o.Expires = 7 * 24 * time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	get := func(method string) *http.Response {
		req, _ := http.NewRequest(method, ps.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("GET"); resp.StatusCode != 200 {
		t.Fatalf("presigned read before revocation: %d", resp.StatusCode)
	}
	if code, b := f.call("POST", "/v1/credentials/"+a.AccessKeyID+"/revoke", []byte("{}"), f.consumer); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, b)
	}
	for _, m := range []string{"GET", "HEAD"} {
		resp := get(m)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Length") != "" && resp.Header.Get("Content-Length") != "0" && m == "HEAD" || resp.Header.Get("ETag") != "" {
			t.Errorf("%s of a presigned URL after its credential's revocation: %d %v", m, resp.StatusCode, resp.Header)
		}
	}
}

// slowIndexStore counts and slows the opens of one blob's data.
type slowIndexStore struct {
	blob.Store
	id         content.ID
	open, most atomic.Int64
	opens      atomic.Int64
}

func (s *slowIndexStore) Open(ctx context.Context, k blob.Key) (blob.Reader, error) {
	if k.ID == s.id && k.Part == blob.Data {
		s.opens.Add(1)
		n := s.open.Add(1)
		for {
			m := s.most.Load()
			if n <= m || s.most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		defer s.open.Add(-1)
	}
	return s.Store.Open(ctx, k)
}

// TestAttackIndexLoadsBounded: listing requests arriving together for a
// dataset whose index is not cached (at start, or after 16 other indexes
// were read: the cache is small) each read and parsed the whole index, up
// to content.MaxIndexBytes (128 MiB) apiece, so a crowd of list requests
// multiplied it in memory. One index is read once however many ask.
func TestAttackIndexLoadsBounded(t *testing.T) {
	f := newS3Fixture(t, 3)
	ctx := context.Background()
	rec, err := f.s.cat.Asset(ctx, f.dataset)
	if err != nil {
		t.Fatal(err)
	}
	st := &slowIndexStore{Store: f.s.blobs, id: rec.State.Manifest.Content}
	f.s.blobs = st
	f.s.indexes.mu.Lock()
	f.s.indexes.m = nil
	f.s.indexes.mu.Unlock()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := f.s.datasetIndex(ctx, st.id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := st.opens.Load(); n != 1 {
		t.Fatalf("16 concurrent listings read the index %d times (at most %d at once); want once", n, st.most.Load())
	}
}
