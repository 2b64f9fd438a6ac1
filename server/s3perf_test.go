package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/internal/testenv"
)

// registerLicensed registers c as Max's asset under the model's terms and
// grants it to the consumer.
func (m *market) registerLicensed(t testing.TB, c content.ID, name, media string) asset.ID {
	ctx := context.Background()
	rec, err := m.s.cat.Asset(ctx, m.model)
	if err != nil {
		t.Fatal(err)
	}
	man := &asset.Manifest{Content: c, Name: name, MediaType: media, Created: asset.NewTime(time.Now()), Threshold: 1, License: rec.State.License,
		Owners: []asset.Owner{{DID: m.max.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: m.max.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(m.max)
	a, err := m.c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := asset.ParseID(a.Asset)
	if ans, err := m.c.RequestGrant(ctx, m.consumer, id, "infer", client.GrantOptions{Commercial: true}); err != nil || ans.Status != "granted" {
		t.Fatalf("grant: %v %+v", err, ans)
	}
	return id
}

// TestS3Performance measures, in one run, the S3 API against versitygw
// (posix backend) serving the same data on this machine, and the share of
// SigV4 verification plus grant checks in a 1 MiB ranged GET. It runs only
// with CHARTER_S3_PERF=1 (minutes, 2 GiB of disk); CHARTER_S3_PERF_MB sets
// the big object's size (default 1024). Figures: docs/performance.md.
func TestS3Performance(t *testing.T) {
	if os.Getenv("CHARTER_S3_PERF") != "1" {
		t.Skip("set CHARTER_S3_PERF=1 to run (minutes)")
	}
	mb := 1024
	if v := os.Getenv("CHARTER_S3_PERF_MB"); v != "" {
		mb, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	vg := testenv.StartS3(t)
	// The big object is over the pool of keys without standing.
	m := newMarket(t, Config{Crowd: crowd.Limits{UploadBytesDay: -1}})
	s3srv := httptest.NewServer(m.s.S3Handler())
	t.Cleanup(s3srv.Close)
	_, a := m.credential(m.consumer, `{}`)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("loadavg at start: %s", bytes.TrimSpace(load))

	// CHARTER_S3_PERF_ONLY=big runs the big read alone, =check the check
	// share alone.
	only := os.Getenv("CHARTER_S3_PERF_ONLY")
	bucket := vg.Bucket(t)
	if only == "" || only == "check" {
		s3PerfCheckAndList(t, m, s3srv, a, vg, bucket, only == "check")
	}
	if only == "check" {
		return
	}

	// 3. A big object read with the AWS CLI from each.
	aws := realTool(t, "/usr/bin/aws", "aws")
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	fh, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range mb {
		for j := range chunk {
			chunk[j] = byte(i + j*31)
		}
		fh.Write(chunk)
	}
	fh.Close()
	fh, _ = os.Open(big)
	binfo, err := m.c.Put(ctx, fh, int64(mb)<<20, client.PutOptions{})
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	bid, _ := content.ParseID(binfo.ID)
	bigAsset := m.registerLicensed(t, bid, "big.bin", "application/octet-stream")
	if err := os.Rename(big, filepath.Join(vg.Dir, bucket, "big.bin")); err != nil {
		t.Fatal(err)
	}
	read := func(endpoint, id, secret, url string) time.Duration {
		best := time.Duration(1 << 62)
		for range 2 {
			cmd := exec.Command(aws, "--endpoint-url", endpoint, "s3", "cp", url, "-")
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION=us-east-1", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true")
			cmd.Stdout = io.Discard
			var errb bytes.Buffer
			cmd.Stderr = &errb
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("aws s3 cp %s: %v %s", url, err, errb.String())
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	vr := read(vg.Endpoint, vg.AccessKey, vg.SecretKey, "s3://"+bucket+"/big.bin")
	cr := read(s3srv.URL, a.AccessKeyID, a.SecretAccessKey, "s3://"+bigAsset.String()+"/big.bin")
	t.Logf("AWS CLI read of %d MiB (best of 2): charter %v (%.0f MiB/s), versitygw %v (%.0f MiB/s); throughput ratio %.2f (bound 0.8)",
		mb, cr, float64(mb)/cr.Seconds(), vr, float64(mb)/vr.Seconds(), vr.Seconds()/cr.Seconds())
	load, _ = os.ReadFile("/proc/loadavg")
	t.Logf("loadavg at end: %s", bytes.TrimSpace(load))
}

// s3PerfCheckAndList: SigV4 + grant check as a share of a 1 MiB ranged
// GET, and ListObjectsV2 of 100,000 keys against versitygw.
func s3PerfCheckAndList(t *testing.T, m *market, s3srv *httptest.Server, a api.CredentialAnswer, vg *testenv.S3, bucket string, checkOnly bool) {
	ctx := context.Background()
	obj := make([]byte, 4<<20)
	for i := range obj {
		obj[i] = byte(i * 7)
	}
	info, err := m.c.Put(ctx, bytes.NewReader(obj), int64(len(obj)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := content.ParseID(info.ID)
	small := m.registerLicensed(t, oid, "obj.bin", "application/octet-stream")
	signed := func() *http.Request {
		r := httptest.NewRequest("GET", "http://"+s3srv.Listener.Addr().String()+"/"+small.String()+"/obj.bin", nil)
		r.Header.Set("Range", "bytes=1048576-2097151")
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	const n = 300
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = signed()
	}
	var checkT, getT time.Duration
	for round := range 2 {
		start := time.Now()
		for _, r := range reqs {
			// What the handler does before it reserves: with the
			// request's memo, as serveS3 has it.
			r := withReadMemo(r)
			c, err := m.s.s3Auth(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.s.s3Bucket(r.Context(), c, small.String()); err != nil {
				t.Fatal(err)
			}
			needing, err := m.s.licensedBy(r.Context(), oid)
			if err != nil || len(needing) == 0 {
				t.Fatal(err)
			}
			if g, err := m.s.grantOn(r.Context(), c.Licensee, needing[0]); g == nil || err != nil {
				t.Fatal(err)
			}
		}
		ct := time.Since(start)
		start = time.Now()
		for _, r := range reqs {
			w := httptest.NewRecorder()
			m.s.S3Handler().ServeHTTP(w, r)
			if w.Code != http.StatusPartialContent || w.Body.Len() != 1<<20 {
				t.Fatalf("GET: %d %d", w.Code, w.Body.Len())
			}
		}
		gt := time.Since(start)
		if round == 1 {
			checkT, getT = ct, gt
		}
	}
	t.Logf("SigV4 + grant check: %v per request; 1 MiB ranged GET (server side, in process, metered): %v per request; share %.1f%% (bound 5%%)",
		checkT/n, getT/n, 100*float64(checkT)/float64(getT))
	if checkOnly {
		return
	}

	// 2. ListObjectsV2 of a 100,000-file dataset, paged by 1,000.
	const files = 100_000
	tiny := []byte("x")
	tinfo, err := m.c.Put(ctx, bytes.NewReader(tiny), 1, client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := content.ParseID(tinfo.ID)
	list := make([]content.File, files)
	for i := range list {
		p := fmt.Sprintf("shard-%03d/f-%06d.txt", i/1000, i)
		list[i] = content.File{Path: p, Size: 1, ID: tid}
		full := filepath.Join(vg.Dir, bucket, p)
		if i%1000 == 0 {
			os.MkdirAll(filepath.Dir(full), 0o755)
		}
		if err := os.WriteFile(full, tiny, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x, err := content.NewIndex(list)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := x.Encode()
	xinfo, err := m.c.Put(ctx, bytes.NewReader(raw), int64(len(raw)), client.PutOptions{Kind: "dataset"})
	if err != nil {
		t.Fatal(err)
	}
	xid, _ := content.ParseID(xinfo.ID)
	ds := m.registerLicensed(t, xid, "many", content.DatasetMediaType)
	cc := (&s3Fixture{market: m, s3: s3srv}).client(a.AccessKeyID, a.SecretAccessKey)
	listAll := func(c *awss3.Client, b string) (time.Duration, int) {
		best, count := time.Duration(1<<62), 0
		for range 3 {
			start, k := time.Now(), 0
			p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(b)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				k += len(out.Contents)
			}
			best, count = min(best, time.Since(start)), k
		}
		return best, count
	}
	vt, vn := listAll(vg.Client(), bucket)
	ct, cn := listAll(cc, ds.String())
	if vn != files || cn != files {
		t.Fatalf("listed %d (versitygw) and %d (charter) keys", vn, cn)
	}
	t.Logf("ListObjectsV2 of %d keys (best of 3): charter %v, versitygw %v; ratio %.2f (bound 2)", files, ct, vt, float64(ct)/float64(vt))

}
